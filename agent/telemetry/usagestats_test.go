package telemetry

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The zones the sample devices were in: the epoch they print for "never"
// is 01:00 on the Android 14 phone and 18:00 the day before on the LG.
var (
	utcPlus1  = time.FixedZone("UTC+1", 60*60)
	utcMinus6 = time.FixedZone("UTC-6", -6*60*60)
)

func unixMS(loc *time.Location, year int, month time.Month, day, hour, min, sec int) int64 {
	return time.Date(year, month, day, hour, min, sec, 0, loc).UnixMilli()
}

func TestParseDumpsysUsagestatsOnAndroid14(t *testing.T) {
	foreground, last := parseDumpsysUsagestats(testdata(t, "android/dumpsys_usagestats.txt"), utcPlus1)

	assert.Equal(t, "com.android.chrome", foreground, "the latest ACTIVITY_RESUMED")
	assert.Equal(t, map[string]int64{
		"com.android.settings":  unixMS(utcPlus1, 2024, 11, 23, 10, 44, 56),
		"com.android.launcher3": unixMS(utcPlus1, 2024, 11, 23, 10, 46, 2), // paused
		"com.nexmdm.agent":      unixMS(utcPlus1, 2024, 11, 23, 10, 47, 15),
		"com.android.chrome":    unixMS(utcPlus1, 2024, 11, 23, 10, 47, 15),
		"com.whatsapp":          unixMS(utcPlus1, 2024, 11, 22, 21, 14, 9), // weekly stats, before the events
	}, last, "com.android.vending was never used")
}

func TestParseDumpsysUsagestatsOnAndroid8(t *testing.T) {
	foreground, last := parseDumpsysUsagestats(testdata(t, "android/dumpsys_usagestats_android8.txt"), utcMinus6)

	assert.Equal(t, "com.google.android.youtube", foreground, "the latest MOVE_TO_FOREGROUND")
	assert.Equal(t, map[string]int64{
		"com.lge.launcher3":          unixMS(utcMinus6, 2021, 5, 20, 14, 13, 27),
		"com.google.android.youtube": unixMS(utcMinus6, 2021, 5, 20, 22, 47, 57), // lastTime outlasts the events
	}, last)
}

func TestParseDumpsysUsagestatsDoesNotGuessLocaleFormattedTimes(t *testing.T) {
	// Android 6 on a pt-BR phone: is "03/09/2017" 3 September or 9 March?
	foreground, last := parseDumpsysUsagestats(testdata(t, "android/dumpsys_usagestats_android6.txt"), utcMinus6)
	assert.Equal(t, "", foreground)
	assert.Nil(t, last)
}

func TestParseDumpsysUsagestatsReadsTimesInTheDevicesZone(t *testing.T) {
	line := []byte(`    time="2024-05-01 10:00:00" type=ACTIVITY_RESUMED package=com.foo class=com.foo.Main flags=0x0` + "\n")
	_, inUTC := parseDumpsysUsagestats(line, time.UTC)
	_, inUTCPlus1 := parseDumpsysUsagestats(line, utcPlus1)
	assert.Equal(t, int64(60*60*1000), inUTC["com.foo"]-inUTCPlus1["com.foo"])
}

func TestUsageFieldMatchesWholeKeysOnly(t *testing.T) {
	line := `    time="2024-11-23 10:44:56" type=ACTIVITY_RESUMED package=com.android.settings class=com.android.settings.FallbackHome taskRootPackage=com.android.settings flags=0x0`
	assert.Equal(t, "2024-11-23 10:44:56", usageField(line, "time"))
	assert.Equal(t, "ACTIVITY_RESUMED", usageField(line, "type"))
	assert.Equal(t, "com.android.settings", usageField(line, "package"))
	assert.Equal(t, "", usageField(line, "Package"))
	assert.Equal(t, "", usageField(`package=a lastTimeUsed="2024-11-23 10:47:15"`, "lastTime"))
}
