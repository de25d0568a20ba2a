package handlers_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"keel/app"
	"keel/auth"
	"keel/store"
	"keel/testenv"
)

// benchApp runs Keel on the benchmark database (a million leads).
func benchApp(b *testing.B, overrides ...string) *app.App {
	b.Helper()
	env := append([]string{"KEEL_DATABASE_URL=" + testenv.BenchDatabaseURL(b)}, overrides...)
	// Outages are part of these runs; their warnings would drown the
	// results.
	quiet := slog.New(slog.DiscardHandler)
	a, err := app.New(context.Background(), testenv.Config(b, env...), quiet, app.Options{})
	require.NoError(b, err)
	b.Cleanup(a.Close)
	return a
}

func percentile(ds []time.Duration, p float64) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[int(float64(len(s)-1)*p)]) / float64(time.Millisecond)
}

// timeGets requests path n times and returns each server time.
func timeGets(b *testing.B, c *testenv.Client, path string, n int) []time.Duration {
	b.Helper()
	out := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		rec := c.Get(path)
		out = append(out, time.Since(start))
		require.Equal(b, http.StatusOK, rec.Code, path)
	}
	return out
}

// BenchmarkLeadListPage measures the lead list's server time at a
// million leads, signed in, through the whole middleware, over a mix of
// filters, searches, sorts and a deep page, against /healthz through the
// same middleware as the baseline.
func BenchmarkLeadListPage(b *testing.B) {
	a := benchApp(b)
	ctx := context.Background()
	u := testenv.CreateUser(b, a, auth.RoleAdmin)
	c := testenv.NewClient(b, a)
	c.SignIn(u.Email, testenv.TestPassword)

	var deep time.Time
	var deepID int64
	require.NoError(b, a.Pool.QueryRow(ctx,
		"SELECT created_at, id FROM leads ORDER BY created_at DESC, id DESC OFFSET 500000 LIMIT 1").Scan(&deep, &deepID))
	month := time.Now().AddDate(0, -1, 0).Format(time.DateOnly)

	paths := []string{
		"/admin/leads",
		"/admin/leads?status=WON",
		"/admin/leads?owner=none&status=NEW",
		"/admin/leads?q=lamport",
		"/admin/leads?q=" + url.QueryEscape("harbor lights"),
		"/admin/leads?q=nobody-has-this-name",
		"/admin/leads?since=" + month,
		"/admin/leads?sort=name",
		"/admin/leads?sort=oldest&status=LOST",
		"/admin/leads?after=" + url.QueryEscape(store.LeadCursor(store.Lead{ID: deepID, CreatedAt: deep}, store.SortNewest)),
	}
	n := max(b.N, 30)
	for _, p := range paths {
		timeGets(b, c, p, 2) // warm
	}

	b.ResetTimer()
	baseline := timeGets(b, c, "/healthz", n*len(paths))
	var all []time.Duration
	worst := 0.0
	for _, p := range paths {
		ds := timeGets(b, c, p, n)
		all = append(all, ds...)
		worst = max(worst, percentile(ds, 0.5))
	}
	b.StopTimer()

	b.ReportMetric(percentile(all, 0.5), "p50-ms")
	b.ReportMetric(percentile(all, 0.99), "p99-ms")
	b.ReportMetric(worst, "worst-filter-p50-ms")
	b.ReportMetric(percentile(baseline, 0.5), "healthz-p50-ms")
	b.ReportMetric(percentile(all, 0.5)/percentile(baseline, 0.5), "ratio")
}

// BenchmarkDashboardCache compares the dashboard's numbers read from
// the cache with the same numbers computed by PostgreSQL at a million
// leads, and checks that 200 concurrent requests for the cold key make
// one load in this process.
func BenchmarkDashboardCache(b *testing.B) {
	a := benchApp(b)
	ctx := context.Background()
	uncached := store.New(a.Pool, nil)

	n := max(b.N, 15)
	b.ResetTimer()
	var fromDB []time.Duration
	for range n {
		start := time.Now()
		_, err := uncached.Dashboard(ctx)
		require.NoError(b, err)
		fromDB = append(fromDB, time.Since(start))
	}
	_, err := a.Store.Dashboard(ctx) // fill the cache
	require.NoError(b, err)
	var fromCache []time.Duration
	for range n * 50 {
		start := time.Now()
		_, err := a.Store.Dashboard(ctx)
		require.NoError(b, err)
		fromCache = append(fromCache, time.Since(start))
	}

	// The stampede: the key expires, 200 requests arrive together.
	loads := func() float64 {
		return testenv.Counter(b, a.Metrics.Registry, "keel_cache_loads_total", "family", "dashboard")
	}
	_, err = a.Store.LeadSetStatus(ctx, store.Actor{}, 1, store.LeadContacted) // invalidates
	if err != nil {
		_, err = a.Store.LeadSetStatus(ctx, store.Actor{}, 1, store.LeadNew)
	}
	require.NoError(b, err)
	before := loads()
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			_, err := a.Store.Dashboard(ctx)
			require.NoError(b, err)
		})
	}
	wg.Wait()
	b.StopTimer()

	b.ReportMetric(percentile(fromDB, 0.5), "db-p50-ms")
	b.ReportMetric(percentile(fromCache, 0.5), "cache-p50-ms")
	b.ReportMetric(percentile(fromDB, 0.5)/percentile(fromCache, 0.5), "ratio")
	b.ReportMetric(loads()-before, "loads-for-200-cold")
}

// BenchmarkRedisDownUnderLoad serves the public pages and the contact
// form from 8 concurrent clients while Redis is stopped, and reports how
// many requests were answered, how many were 5xx (the target is none)
// and the p99, against the same load with Redis up.
func BenchmarkRedisDownUnderLoad(b *testing.B) {
	u, err := url.Parse(testenv.Getenv("KEEL_REDIS_URL"))
	require.NoError(b, err)
	proxy := testenv.NewProxy(b, u.Host)
	a := benchApp(b, "KEEL_REDIS_URL=redis://"+proxy.Addr()+"/0", "KEEL_CONTACT_LIMIT=1000000")

	run := func(per int) (int, int, []time.Duration) {
		var mu sync.Mutex
		var served, failed int
		var times []time.Duration
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				c := testenv.NewClient(b, a)
				for i := range per {
					start := time.Now()
					var code int
					switch i % 3 {
					case 0:
						code = c.Get("/").Code
					case 1:
						code = c.Get("/contact").Code
					default:
						code = c.Post("/contact", url.Values{
							"name": {"Load Test"}, "email": {testenv.Unique("load") + "@example.com"},
							"message": {"A load test request."},
						}).Code
					}
					d := time.Since(start)
					mu.Lock()
					served++
					if code >= 500 {
						failed++
					}
					times = append(times, d)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return served, failed, times
	}

	per := max(b.N, 150)
	b.ResetTimer()
	_, upFailed, up := run(per)
	proxy.Cut()
	served, failed, down := run(per)
	b.StopTimer()
	proxy.Restore()

	require.Zero(b, upFailed)
	b.ReportMetric(float64(served), "requests")
	b.ReportMetric(float64(failed), "5xx")
	b.ReportMetric(percentile(down, 0.99), "down-p99-ms")
	b.ReportMetric(percentile(up, 0.99), "up-p99-ms")
	b.ReportMetric(percentile(down, 0.99)/percentile(up, 0.99), "ratio")
}
