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
