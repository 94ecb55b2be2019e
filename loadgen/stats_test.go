package loadgen

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exactPercentile is the nearest-rank percentile of sorted values.
func exactPercentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[max(0, rank-1)]
}

// The report's percentiles, merged from many workers' histograms, agree
// with the exact percentiles of all the latencies to within the
// histogram's 3 significant digits.
func TestPercentilesMatchTheExactOnes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	recs := []*recorder{newRecorder(), newRecorder(), newRecorder(), newRecorder()}
	var all []time.Duration
	for i := range 200_000 {
		// log-normal around 1 ms with a long tail, as latencies are
		lat := time.Duration(math.Exp(rng.NormFloat64()*1.2) * float64(time.Millisecond))
		lat = lat.Truncate(time.Microsecond) + time.Microsecond
		all = append(all, lat)
		recs[i%len(recs)].ok(lat, i%10 == 0)
	}
	recs[1].fail("503")
	recs[2].fail("503")
	recs[3].fail("transport")
	slices.Sort(all)

	rep := merge(recs, 10*time.Second)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	for _, c := range []struct {
		name string
		got  float64
		p    float64
	}{{"p50", rep.Latency.P50, 50}, {"p90", rep.Latency.P90, 90}, {"p99", rep.Latency.P99, 99}, {"p99.9", rep.Latency.P999, 99.9}, {"max", rep.Latency.Max, 100}} {
		want := ms(exactPercentile(all, c.p))
		assert.InEpsilon(t, want, c.got, 0.002, "%s: exact %.4f ms, reported %.4f ms", c.name, want, c.got)
	}

	assert.EqualValues(t, 200_003, rep.Sent)
	assert.EqualValues(t, 200_000, rep.OK)
	assert.EqualValues(t, 20_000, rep.Deduped)
	assert.EqualValues(t, 180_000, rep.Stored)
	assert.Equal(t, map[string]int64{"503": 2, "transport": 1}, rep.Failures)
	assert.InDelta(t, 20_000, rep.Throughput, 0.001)
	assert.InDelta(t, 18_000, rep.StoredRate, 0.001)

	text := rep.Text()
	assert.Contains(t, text, "acknowledged 200000 of 200003 sent")
	assert.Contains(t, text, "failures: 503: 2, transport: 1")
}

// Latencies outside the histogram's range are clamped, not dropped.
func TestOutOfRangeLatenciesAreClamped(t *testing.T) {
	r := newRecorder()
	r.ok(0, false)
	r.ok(10*time.Minute, false)
	rep := merge([]*recorder{r}, time.Second)
	require.EqualValues(t, 2, rep.OK)
	assert.InDelta(t, 60_000, rep.Latency.Max, 60)
}

// A progress line covers only its window, then starts the next one afresh.
func TestProgressLineCoversItsWindow(t *testing.T) {
	r := newRecorder()
	for range 500 {
		r.ok(2*time.Millisecond, false)
	}
	line := windowLine([]*recorder{r}, 3*time.Second, time.Second)
	assert.Contains(t, line, "500 ok/s")
	assert.Contains(t, line, "p50   2.00 ms")
	line = windowLine([]*recorder{r}, 4*time.Second, time.Second)
	assert.True(t, strings.Contains(line, " 0 ok/s"), line)
	assert.EqualValues(t, 500, merge([]*recorder{r}, time.Second).OK, "the whole-run histogram keeps everything")
}
