// Package pgstore keeps NexMDM's durable state in PostgreSQL: the pgx pool,
// schema migrations, daily heartbeat partitions and their retirement into
// verified archives, the device repository, the audit log and the
// group-commit heartbeat writer.
package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// Open connects a pool to url and checks that the server answers.
func Open(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	return pool, nil
}

// RegisterPoolMetrics exports the pool's statistics as gauges and counters.
func RegisterPoolMetrics(reg prometheus.Registerer, pool *pgxpool.Pool) {
	if reg == nil {
		return
	}
	reg.MustRegister(&poolCollector{pool: pool})
}

type poolCollector struct{ pool *pgxpool.Pool }

var (
	poolAcquired     = prometheus.NewDesc("nexmdm_pgxpool_acquired_conns", "Connections currently acquired from the pool.", nil, nil)
	poolIdle         = prometheus.NewDesc("nexmdm_pgxpool_idle_conns", "Idle connections in the pool.", nil, nil)
	poolTotal        = prometheus.NewDesc("nexmdm_pgxpool_total_conns", "Connections in the pool.", nil, nil)
	poolMax          = prometheus.NewDesc("nexmdm_pgxpool_max_conns", "Maximum size of the pool.", nil, nil)
	poolAcquires     = prometheus.NewDesc("nexmdm_pgxpool_acquires_total", "Successful acquires.", nil, nil)
	poolEmptyAcquire = prometheus.NewDesc("nexmdm_pgxpool_empty_acquires_total", "Acquires that had to wait for a connection.", nil, nil)
	poolWait         = prometheus.NewDesc("nexmdm_pgxpool_acquire_wait_seconds_total", "Time spent waiting for connections.", nil, nil)
)

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolAcquired, poolIdle, poolTotal, poolMax, poolAcquires, poolEmptyAcquire, poolWait} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(poolAcquired, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(poolAcquires, prometheus.CounterValue, float64(s.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolEmptyAcquire, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWait, prometheus.CounterValue, s.AcquireDuration().Seconds())
}
