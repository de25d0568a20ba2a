// Package metrics exposes Keel's Prometheus metrics: HTTP latency and
// in-flight requests, PostgreSQL and Redis pool statistics, and River
// jobs by state.
package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/IBM/pgxpoolprometheus"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/extra/redisprometheus/v9"
	"github.com/redis/go-redis/v9"
)

// Metrics holds Keel's registry and the collectors code updates.
type Metrics struct {
	Registry *prometheus.Registry

	requests *prometheus.HistogramVec
	inFlight prometheus.Gauge
	// Events counts notable things by name: honeypot hits, rate-limit
	// refusals, a rate limiter that could not reach Redis.
	events *prometheus.CounterVec

	// Streams counts open live streams by kind ("staff", "order");
	// LiveDelivered counts events handed to streams, LiveDropped the
	// streams dropped for falling behind.
	Streams       *prometheus.GaugeVec
	LiveDelivered prometheus.Counter
	LiveDropped   prometheus.Counter

	// ReplicaFallbacks counts reads meant for the replica that went to
	// the primary, by reason ("lag", "unreachable"); ReplicaLag is the
	// replica's last measured lag.
	ReplicaFallbacks *prometheus.CounterVec
	ReplicaLag       prometheus.Gauge

	sharedPages *prometheus.CounterVec
}

// New returns Metrics with the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keel_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by route and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route", "status"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keel_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keel_events_total",
			Help: "Notable events by name.",
		}, []string{"event"}),
		Streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "keel_live_streams",
			Help: "Open live (Server-Sent Events) streams, by kind.",
		}, []string{"kind"}),
		LiveDelivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keel_live_events_delivered_total",
			Help: "Events handed to live streams.",
		}),
		LiveDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keel_live_streams_dropped_total",
			Help: "Live streams dropped for falling behind; their browsers reconnect and catch up.",
		}),
		ReplicaFallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keel_replica_fallbacks_total",
			Help: "Report reads sent to the primary because the replica lagged past KEEL_REPLICA_MAX_LAG or could not be reached.",
		}, []string{"reason"}),
		ReplicaLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keel_replica_lag_seconds",
			Help: "The read replica's replay lag when last measured.",
		}),
		sharedPages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keel_shared_pages_total",
			Help: "Requests for pages that are the same for everyone, by result: hit (sent as kept), miss (rendered and kept), bypass (rendered, not kept: no blog version, or an unknown query).",
		}, []string{"result"}),
	}
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.inFlight, m.events, m.Streams, m.LiveDelivered, m.LiveDropped,
		m.ReplicaFallbacks, m.ReplicaLag, m.sharedPages,
	)
	return m
}

// Event counts one occurrence of a named event.
func (m *Metrics) Event(name string) { m.events.WithLabelValues(name).Inc() }

// SharedPage counts one request for a page that is the same for
// everyone, by result: "hit", "miss" or "bypass".
func (m *Metrics) SharedPage(result string) { m.sharedPages.WithLabelValues(result).Inc() }

// Middleware records every request's latency under its route pattern
// (never the raw path, which would make one series per URL).
func (m *Metrics) Middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			m.inFlight.Inc()
			defer m.inFlight.Dec()

			start := time.Now()
			err := next(c)

			// Inner middleware renders errors; an error that reaches here
			// unrendered is answered by Echo's error handler afterwards.
			status := c.Response().Status
			if err != nil && !c.Response().Committed {
				status = http.StatusInternalServerError
				var he *echo.HTTPError
				if errors.As(err, &he) {
					status = he.Code
				}
			}

			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			m.requests.WithLabelValues(methodLabel(c.Request().Method), route, strconv.Itoa(status)).
				Observe(time.Since(start).Seconds())
			return err
		}
	}
}

// methodLabel keeps the method label to the standard methods: any other
// string a client sends would otherwise make a new series each time.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// WatchDatabase exports the statistics of a PostgreSQL pool under the
// given name ("primary", "replica").
func (m *Metrics) WatchDatabase(pool *pgxpool.Pool, name string) {
	m.Registry.MustRegister(pgxpoolprometheus.NewCollector(pool, map[string]string{"db_name": name}))
}

// WatchRedis exports the statistics of a Redis connection pool.
func (m *Metrics) WatchRedis(rdb *redis.Client) {
	m.Registry.MustRegister(redisprometheus.NewCollector("keel", "redis", rdb))
}

// WatchJobs exports the number of River jobs in each queue and state,
// read from the database when Prometheus scrapes. The given queues
// report every state, zero included, so alerts see a series from the
// start.
func (m *Metrics) WatchJobs(pool *pgxpool.Pool, queues []string, logger *slog.Logger) {
	m.Registry.MustRegister(&jobCollector{pool: pool, queues: queues, logger: logger})
}

var jobStates = []string{
	"available", "cancelled", "completed", "discarded", "pending", "retryable", "running", "scheduled",
}

var jobsDesc = prometheus.NewDesc(
	"keel_river_jobs", "River jobs by queue and state.", []string{"queue", "state"}, nil,
)

type jobCollector struct {
	pool   *pgxpool.Pool
	queues []string
	logger *slog.Logger
}

func (j *jobCollector) Describe(ch chan<- *prometheus.Desc) { ch <- jobsDesc }

func (j *jobCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()

	rows, err := j.pool.Query(ctx,
		`SELECT queue, state::text, count(*) FROM river_job GROUP BY queue, state`)
	if err != nil {
		j.logger.Warn("collect river job counts", "error", err)
		return
	}
	defer rows.Close()

	type key struct{ queue, state string }
	counts := map[key]int64{}
	for _, q := range j.queues {
		for _, s := range jobStates {
			counts[key{q, s}] = 0
		}
	}
	for rows.Next() {
		var k key
		var n int64
		if err := rows.Scan(&k.queue, &k.state, &n); err != nil {
			j.logger.Warn("scan river job counts", "error", err)
			return
		}
		counts[k] = n
	}
	if err := rows.Err(); err != nil {
		j.logger.Warn("read river job counts", "error", err)
		return
	}

	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(n), k.queue, k.state)
	}
}
