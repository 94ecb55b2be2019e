package ingress

import (
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
)

func TestRequestDurationsAreCountedUnderTheStatusEachRequestGot(t *testing.T) {
	m := newHTTPMetrics(prometheus.NewRegistry(), new(atomic.Int64))
	answers := []int{200, 200, 401, 200, 503, 503, 200}
	next := 0
	h := m.instrument("POST", "/v1/heartbeat", func(ctx *fasthttp.RequestCtx) {
		ctx.SetStatusCode(answers[next])
		next++
	})
	for range answers {
		h(new(fasthttp.RequestCtx))
	}

	count := func(code string) uint64 {
		var d dto.Metric
		require.NoError(t, m.duration.WithLabelValues("/v1/heartbeat", "POST", code).(prometheus.Histogram).Write(&d))
		return d.GetHistogram().GetSampleCount()
	}
	assert.Equal(t, uint64(4), count("200"))
	assert.Equal(t, uint64(1), count("401"))
	assert.Equal(t, uint64(2), count("503"))
}

func TestHeartbeatOutcomesCountUnderTheirResult(t *testing.T) {
	m := newHTTPMetrics(prometheus.NewRegistry(), new(atomic.Int64))
	m.stored.Inc()
	m.stored.Inc()
	m.deduped.Inc()
	m.rejectedAll.Inc()
	count := func(result string) float64 {
		var d dto.Metric
		require.NoError(t, m.heartbeats.WithLabelValues(result).Write(&d))
		return d.GetCounter().GetValue()
	}
	assert.Equal(t, 2.0, count("stored"))
	assert.Equal(t, 1.0, count("deduped"))
	assert.Equal(t, 1.0, count("rejected"))
}
