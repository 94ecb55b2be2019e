package bench

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// cpuTimes is the machine's CPU time so far, in clock ticks, from the
// first line of /proc/stat: all of it, and what the hypervisor took
// (steal). On a shared virtual machine steal is what makes two runs of
// the same build differ; the report shows it beside the figures.
type cpuTimes struct{ total, steal uint64 }

const procStat = "/proc/stat"

// readCPUTimes parses /proc/stat; ok is false where there is none.
func readCPUTimes(path string) (t cpuTimes, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return t, false
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return t, false
	}
	t, err = parseCPULine(line)
	return t, err == nil
}

// parseCPULine reads "cpu user nice system idle iowait irq softirq steal ...".
func parseCPULine(line string) (cpuTimes, error) {
	var t cpuTimes
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return t, fmt.Errorf("not an aggregate cpu line: %q", line)
	}
	for i, f := range fields[1:9] { // guest time is counted in user already
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return t, fmt.Errorf("cpu field %d: %w", i+1, err)
		}
		t.total += n
		if i == 7 {
			t.steal = n
		}
	}
	return t, nil
}

// stealPercent is the share of the machine's CPU time between two
// readings that the hypervisor took.
func stealPercent(before, after cpuTimes) float64 {
	if after.total <= before.total {
		return 0
	}
	return 100 * float64(after.steal-before.steal) / float64(after.total-before.total)
}

// stealRange is the median and the highest steal over a scenario's runs.
func (s *ScenarioResult) stealRange() (mid, highest float64) {
	var all []float64
	for _, runs := range s.Runs {
		for _, r := range runs {
			all = append(all, r.StealPct)
		}
	}
	if len(all) == 0 {
		return 0, 0
	}
	return median(all), slices.Max(all)
}
