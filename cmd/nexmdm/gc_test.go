package main

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The server collects garbage at its own default, unless the operator chose
// with GOGC, which the Go runtime applies by itself.
func TestServeUsesItsGCTargetUnlessGOGCIsSet(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)

	tuneGC(func(string) string { return "" })
	assert.Equal(t, defaultGCPercent, debug.SetGCPercent(100), "GOGC unset: the server's default")

	tuneGC(func(k string) string {
		if k == "GOGC" {
			return "150"
		}
		return ""
	})
	assert.Equal(t, 100, debug.SetGCPercent(100), "GOGC set: left as the runtime applied it")
}

// Loading the fleet collects at loadGCPercent, unless the operator's target
// is higher or off, and the target is the operator's again afterwards.
func TestLoadingTheFleetRaisesTheGCTargetOnlyWhileItLoads(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)

	for _, tc := range []struct{ target, whileLoading int }{
		{70, loadGCPercent},
		{loadGCPercent * 2, loadGCPercent * 2},
		{-1, -1},
	} {
		debug.SetGCPercent(tc.target)
		var during int
		err := withLoadGC(func() error {
			during = debug.SetGCPercent(0)
			debug.SetGCPercent(during)
			return nil
		})
		assert.NoError(t, err)
		assert.Equal(t, tc.whileLoading, during, "while loading, with target %d", tc.target)
		assert.Equal(t, tc.target, debug.SetGCPercent(100), "after loading, with target %d", tc.target)
	}
}
