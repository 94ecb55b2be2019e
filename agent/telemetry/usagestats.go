package telemetry

import (
	"math"
	"strings"
	"time"
)

// Usage event types. An activity coming to the foreground is
// MOVE_TO_FOREGROUND up to Android 9 and ACTIVITY_RESUMED from Android 10
// (the same event code); leaving it is MOVE_TO_BACKGROUND or ACTIVITY_PAUSED.
var (
	foregroundEvents = map[string]bool{"MOVE_TO_FOREGROUND": true, "ACTIVITY_RESUMED": true}
	backgroundEvents = map[string]bool{"MOVE_TO_BACKGROUND": true, "ACTIVITY_PAUSED": true}
)

// usageTimeLayout is how usagestats prints times from Android 8 on, in the
// device's local zone. Older releases print a locale's short date
// ("03/09/2017 21:18" on a pt-BR phone) that cannot be read without knowing
// the locale; those times are skipped rather than guessed.
const usageTimeLayout = "2006-01-02 15:04:05"

// parseDumpsysUsagestats reads `dumpsys usagestats`, whose times are in loc
// (the device's zone). foreground is the package of the latest
// MOVE_TO_FOREGROUND or ACTIVITY_RESUMED event. lastForeground maps each
// package to the last moment it was seen in the foreground, in unix ms: the
// latest of its events coming to or leaving the foreground and of the
// lastTimeUsed (Android 10+) or lastTime (older) in its usage stats, which
// reach back past the events' 24 hours. Never-used packages, whose times are
// the epoch, are left out.
func parseDumpsysUsagestats(out []byte, loc *time.Location) (foreground string, lastForeground map[string]int64) {
	lastForeground = map[string]int64{}
	seen := func(pkg string, at int64) {
		if prev, ok := lastForeground[pkg]; !ok || at > prev {
			lastForeground[pkg] = at
		}
	}
	foregroundAt := int64(math.MinInt64)
	for _, line := range lines(out) {
		pkg := usageField(line, "package")
		if pkg == "" {
			continue
		}
		if event := usageField(line, "type"); event != "" {
			at, ok := usageTime(usageField(line, "time"), loc)
			if !ok || !foregroundEvents[event] && !backgroundEvents[event] {
				continue
			}
			seen(pkg, at)
			// At equal times the later line is the later event.
			if foregroundEvents[event] && at >= foregroundAt {
				foreground, foregroundAt = pkg, at
			}
			continue
		}
		for _, key := range []string{"lastTimeUsed", "lastTime"} {
			if at, ok := usageTime(usageField(line, key), loc); ok {
				seen(pkg, at)
			}
		}
	}
	if len(lastForeground) == 0 {
		lastForeground = nil
	}
	return foreground, lastForeground
}

// neverUsedBefore is a bound under which a time is usagestats' "never": the
// epoch printed in the device's zone.
var neverUsedBefore = time.Date(1971, 1, 1, 0, 0, 0, 0, time.UTC)

func usageTime(s string, loc *time.Location) (unixMS int64, ok bool) {
	t, err := time.ParseInLocation(usageTimeLayout, s, loc)
	if err != nil || t.Before(neverUsedBefore) {
		return 0, false
	}
	return t.UnixMilli(), true
}

// usageField returns the value of key in a usagestats line of key=value
// fields (`time="2024-11-23 10:44:56" type=ACTIVITY_RESUMED package=...`),
// unquoted, or "" when the line has no such field.
func usageField(line, key string) string {
	for from := 0; ; {
		i := strings.Index(line[from:], key+"=")
		if i < 0 {
			return ""
		}
		i += from
		from = i + len(key) + 1
		if i > 0 && line[i-1] != ' ' && line[i-1] != '\t' {
			continue // the end of a longer key, such as "taskRootPackage="
		}
		value := line[from:]
		if quoted, ok := strings.CutPrefix(value, `"`); ok {
			value, _, _ = strings.Cut(quoted, `"`)
			return value
		}
		value, _, _ = strings.Cut(value, " ")
		return strings.TrimSpace(value)
	}
}
