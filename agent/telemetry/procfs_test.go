package telemetry

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testdata reads a captured file.
func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(name)))
	require.NoError(t, err)
	return b
}

func TestParseMeminfoReportsUsedAsTotalMinusAvailableInMB(t *testing.T) {
	cases := []struct {
		name              string
		file              string
		wantUsed, wantTot int
	}{
		{"a server", "linux-server/proc/meminfo", (24683620 - 24102084) / 1024, 24683620 / 1024},
		{"a laptop", "linux-laptop/proc/meminfo", (16129024 - 9437184) / 1024, 16129024 / 1024},
		{"an Android phone", "android/proc/meminfo", (6291456 - 3452580) / 1024, 6291456 / 1024},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			used, total := parseMeminfo(testdata(t, tc.file))
			require.NotNil(t, used)
			require.NotNil(t, total)
			assert.Equal(t, tc.wantUsed, *used, "parseMeminfo(%s) used", tc.file)
			assert.Equal(t, tc.wantTot, *total, "parseMeminfo(%s) total", tc.file)
		})
	}
}

func TestParseMeminfoWithoutMemAvailableCountsBuffersAndCacheAsAvailable(t *testing.T) {
	// Kernels before 3.14, as on old Android phones.
	used, total := parseMeminfo([]byte("MemTotal: 995092 kB\nMemFree: 412324 kB\nBuffers: 67372 kB\nCached: 218692 kB\n"))
	require.NotNil(t, used)
	assert.Equal(t, (995092-412324-67372-218692)/1024, *used)
	assert.Equal(t, 995092/1024, *total)
}

func TestParseMeminfoWithoutMemTotalReadsNothing(t *testing.T) {
	used, total := parseMeminfo([]byte("garbage\n"))
	assert.Nil(t, used)
	assert.Nil(t, total)
}

func TestParseUptimeReadsWholeSecondsSinceBoot(t *testing.T) {
	assert.Equal(t, ptr(int64(421)), parseUptime(testdata(t, "linux-server/proc/uptime")))
	assert.Equal(t, ptr(int64(86523)), parseUptime(testdata(t, "linux-laptop/proc/uptime")))
	assert.Nil(t, parseUptime(nil))
	assert.Nil(t, parseUptime([]byte("soon")))
}

func TestDefaultRouteIsTheOneWithTheLowestMetric(t *testing.T) {
	cases := []struct {
		name, file, want string
		wantOK           bool
	}{
		{"a server's ethernet", "linux-server/proc/net/route", "eth0", true},
		{"a laptop's Wi-Fi over its USB tether", "linux-laptop/proc/net/route", "wlan0", true},
		{"no default route", "linux-offline/proc/net/route", "", false},
		{"Android, whose default routes are not in the main table", "android/proc/net/route", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			iface, ok := defaultRoute(parseRoutes(testdata(t, tc.file)))
			assert.Equal(t, tc.wantOK, ok, "defaultRoute(%s) ok", tc.file)
			assert.Equal(t, tc.want, iface, "defaultRoute(%s)", tc.file)
		})
	}
}

func TestDefaultRouteIgnoresARouteThatIsDown(t *testing.T) {
	table := "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n" +
		"eth0\t00000000\t010200C0\t0002\t0\t0\t0\t00000000\t0\t0\t0\n"
	_, ok := defaultRoute(parseRoutes([]byte(table)))
	assert.False(t, ok)
}

func TestParseWirelessLevelReadsTheInterfacesSignalInDBm(t *testing.T) {
	assert.Equal(t, ptr(-42), parseWirelessLevel(testdata(t, "linux-laptop/proc/net/wireless"), "wlan0"))
	assert.Nil(t, parseWirelessLevel(testdata(t, "linux-laptop/proc/net/wireless"), "wlan1"))
}

func TestParseWirelessLevelUndoesTheUnsignedByteSomeDriversReport(t *testing.T) {
	b := []byte("Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE\n" +
		" face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22\n" +
		" wlp3s0: 0000   54.  200.  0        0      0      0      0      0        0\n")
	assert.Equal(t, ptr(-56), parseWirelessLevel(b, "wlp3s0"))
}

func TestOnlineIsWhetherADefaultRouteExists(t *testing.T) {
	assert.True(t, Online("testdata/linux-laptop"))
	assert.True(t, Online("testdata/linux-server"))
	assert.False(t, Online("testdata/linux-offline"))
	assert.False(t, Online("testdata/no-such-root"))
}

func TestOnlineOnAndroidCountsARouteThroughAnyInterfaceButLoopback(t *testing.T) {
	// The main table of a Wi-Fi-connected phone holds only the link route.
	routes := parseRoutes(testdata(t, "android/proc/net/route"))
	assert.True(t, online(routes, true))
	assert.False(t, online(routes, false))
	assert.False(t, online(nil, true))
	assert.False(t, online([]procRoute{{iface: "lo", flags: rtfUp}, {iface: "dummy0", flags: rtfUp}}, true))
}
