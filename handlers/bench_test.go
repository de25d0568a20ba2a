package handlers_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

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

// BenchmarkOrderPost places orders over HTTP at a fixed rate (10 a
// second) and reports the POST's latency against a trivial POST through
// the same server and middleware at the same rate, and the time from the
// 202 to the order's "emailed" status. It runs in the two shapes Keel
// deploys in: workers in their own `keel worker` process, and workers
// inside the web process (`keel serve`'s default), where rendering
// invoices shares the web process's CPU and garbage collector.
func BenchmarkOrderPost(b *testing.B) {
	// Each shape has a database of its own, so no job left by tests
	// waits ahead of the benchmark's.
	b.Run("WorkerProcess", func(b *testing.B) {
		dbURL, pool := testenv.Database(b)
		env := []string{"KEEL_DATABASE_URL=" + dbURL, "KEEL_LOG_LEVEL=error", "KEEL_ORDER_LIMIT=1000000"}
		a := testenv.NewApp(b, app.Options{Conn: pool, CachePrefix: testenv.Unique("bench") + ":"}, env...)
		startWorker(b, env...)
		benchOrders(b, a)
	})
	b.Run("WorkersInServe", func(b *testing.B) {
		dbURL, _ := testenv.Database(b)
		benchOrders(b, testenv.NewApp(b, app.Options{Workers: true, CachePrefix: testenv.Unique("bench") + ":"},
			"KEEL_DATABASE_URL="+dbURL, "KEEL_LOG_LEVEL=error", "KEEL_ORDER_LIMIT=1000000"))
	})
}

// startWorker builds keel and runs `keel worker` until the benchmark
// ends.
func startWorker(b *testing.B, env ...string) {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "keel")
	build := exec.Command("go", "build", "-o", bin, "keel")
	out, err := build.CombinedOutput()
	require.NoError(b, err, "build keel: %s", out)

	worker := exec.Command(bin, "worker")
	worker.Env = testenv.Environ(env...)
	worker.Stdout, worker.Stderr = os.Stderr, os.Stderr
	require.NoError(b, worker.Start())
	b.Cleanup(func() {
		_ = worker.Process.Signal(syscall.SIGTERM)
		_ = worker.Wait()
	})
}

func benchOrders(b *testing.B, a *app.App) {
	b.Helper()
	a.Echo.POST("/bench/trivial", func(c echo.Context) error { return c.NoContent(http.StatusAccepted) })
	base := testenv.Serve(b, a)
	ctx := context.Background()
	p, err := a.Store.ProductCreate(ctx, store.Actor{}, store.ProductInput{
		SKU: "BENCH-" + testenv.Unique("")[1:], Name: "Bench", PriceMinor: 10000, Currency: "EUR", Active: true,
	})
	require.NoError(b, err)

	// A browser on the site: same-origin requests need no token.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path string, form url.Values) (*http.Response, time.Duration) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, strings.NewReader(form.Encode()))
		require.NoError(b, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		start := time.Now()
		resp, err := client.Do(req)
		require.NoError(b, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp, time.Since(start)
	}
	// Warm connections and pools, and wait for the workers to have
	// emailed the warm-up orders: they are running, and idle again.
	var warm []string
	for range 20 {
		post("/bench/trivial", url.Values{})
		resp, _ := post("/orders", orderForm(auth.RandomToken(), p))
		warm = append(warm, strings.TrimPrefix(resp.Header.Get("Location"), "/orders/"))
	}
	require.Eventually(b, func() bool {
		for _, token := range warm {
			if o, err := a.Store.OrderGetByToken(ctx, token); err != nil || o.Status != store.OrderEmailed {
				return false
			}
		}
		return true
	}, time.Minute, 50*time.Millisecond, "the workers emailed the warm-up orders")

	// The time to "emailed" is taken from the live signals the status
	// pages follow, which cost the server nothing extra to watch.
	sub := a.Redis.PSubscribe(ctx, "live:order:*")
	defer func() { _ = sub.Close() }()
	_, err = sub.Receive(ctx)
	require.NoError(b, err)
	var mu sync.Mutex
	accepted := map[string]time.Time{}
	done := map[string]time.Time{}
	go func() {
		for m := range sub.Channel() {
			if m.Payload == store.OrderEmailed {
				mu.Lock()
				done[strings.TrimPrefix(m.Channel, "live:order:")] = time.Now()
				mu.Unlock()
			}
		}
	}()

	n := max(b.N, 300)
	var orderTimes, trivialTimes []time.Duration
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()

	b.ResetTimer()
	for range n {
		<-tick.C
		resp, took := post("/orders", orderForm(auth.RandomToken(), p))
		at := time.Now()
		require.Equal(b, http.StatusAccepted, resp.StatusCode)
		orderTimes = append(orderTimes, took)
		mu.Lock()
		accepted[strings.TrimPrefix(resp.Header.Get("Location"), "/orders/")] = at
		mu.Unlock()

		resp, took = post("/bench/trivial", url.Values{})
		require.Equal(b, http.StatusAccepted, resp.StatusCode)
		trivialTimes = append(trivialTimes, took)
	}
	var emailed []time.Duration
	require.Eventually(b, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(done) >= n
	}, time.Minute, 10*time.Millisecond, "every order was emailed")
	b.StopTimer()
	mu.Lock()
	for token, at := range accepted {
		emailed = append(emailed, done[token].Sub(at))
	}
	mu.Unlock()

	b.ReportMetric(percentile(orderTimes, 0.5), "order-p50-ms")
	b.ReportMetric(percentile(orderTimes, 0.99), "order-p99-ms")
	b.ReportMetric(percentile(trivialTimes, 0.5), "trivial-p50-ms")
	b.ReportMetric(percentile(trivialTimes, 0.99), "trivial-p99-ms")
	b.ReportMetric(percentile(orderTimes, 0.99)/percentile(trivialTimes, 0.99), "p99-ratio")
	b.ReportMetric(percentile(emailed, 0.5), "emailed-p50-ms")
	b.ReportMetric(percentile(emailed, 0.95), "emailed-p95-ms")
}
