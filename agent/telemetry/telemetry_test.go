package telemetry

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExecRunnerReturnsStdout(t *testing.T) {
	out, err := ExecRunner{Timeout: 5 * time.Second}.Run(context.Background(), "echo", "dumpsys")
	require.NoError(t, err)
	assert.Equal(t, "dumpsys\n", string(out))
}

func TestExecRunnerFailsWithTheCommandAndItsStderr(t *testing.T) {
	_, err := ExecRunner{}.Run(context.Background(), "sh", "-c", "echo Can\\'t find service: wifi >&2; exit 1")
	require.Error(t, err)
	assert.ErrorContains(t, err, "sh -c")
	assert.ErrorContains(t, err, "Can't find service: wifi")
}

func TestExecRunnerStopsACommandAtItsTimeout(t *testing.T) {
	start := time.Now()
	_, err := ExecRunner{Timeout: 50 * time.Millisecond}.Run(context.Background(), "sleep", "10")
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestAnEmptyReadingIsOneWithNothingRead(t *testing.T) {
	assert.True(t, Reading{}.empty())
	assert.False(t, Reading{NetType: "none"}.empty())
	assert.False(t, Reading{AppLastForeground: map[string]int64{}}.empty())
}
