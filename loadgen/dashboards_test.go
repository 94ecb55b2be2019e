package loadgen

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScanMessageCountsWholeRowsAndPatchesSplitAcrossReads(t *testing.T) {
	msg := `{"type":"device.status","at":"2026-12-06T10:00:00Z","data":[` +
		`{"id":"a","enrolled_at":"2026-12-01T00:00:00Z","service":{"package":"p"}},{"id":"b","last_seen":null},` +
		`{"id":"c","last_seen":"2026-12-02T00:00:00Z","battery_pct":50}]}`
	for _, r := range map[string]io.Reader{
		"one byte a read": iotest.OneByteReader(strings.NewReader(msg)),
		"half at a time":  iotest.HalfReader(strings.NewReader(msg)),
		"whole":           strings.NewReader(msg),
	} {
		m, err := scanMessage(r, make([]byte, len(rowKey)+1))
		require.NoError(t, err)
		assert.Equal(t, scannedMessage{bytes: int64(len(msg)), rows: 3, status: true}, m)
	}
}

func TestScanMessageTellsASummaryAndStopsAtAnError(t *testing.T) {
	m, err := scanMessage(strings.NewReader(`{"type":"fleet.summary","data":{}}`), make([]byte, 64))
	require.NoError(t, err)
	assert.True(t, m.summary)
	assert.False(t, m.status)

	_, err = scanMessage(iotest.TimeoutReader(bytes.NewReader(make([]byte, 100))), make([]byte, 64))
	assert.ErrorIs(t, err, iotest.ErrTimeout)
}

// BenchmarkDashboardMessage reads a 400 KB status batch, about what each of
// the bench's 100 dashboards receives twice a second under stress.
func BenchmarkDashboardMessage(b *testing.B) {
	row := `{"id":"0b6f1c1e-7d2a-4f57-9a57-1d3f0e6c2b11","last_seen":"2026-12-01T00:00:00Z","battery_pct":64}`
	msg := []byte(`{"type":"device.status","data":[` + strings.Repeat(row+",", 4000) + row + `]}`)
	b.Run("read whole", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			whole, _ := io.ReadAll(bytes.NewReader(msg))
			_ = bytes.Count(whole, rowKey)
		}
	})
	b.Run("scan through a kept buffer", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 32<<10)
		for b.Loop() {
			_, _ = scanMessage(bytes.NewReader(msg), buf)
		}
	})
}
