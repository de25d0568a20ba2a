package handlers_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stretchr/testify/require"

	"keel/app"
	"keel/auth"
	"keel/jobs"
	"keel/live"
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
	worker := exec.Command(buildKeel(b), "worker")
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

	accepted := map[string]time.Time{}

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
		accepted[strings.TrimPrefix(resp.Header.Get("Location"), "/orders/")] = at
		resp, took = post("/bench/trivial", url.Values{})
		require.Equal(b, http.StatusAccepted, resp.StatusCode)
		trivialTimes = append(trivialTimes, took)
	}
	// The time to "emailed" is the order's emailed_at, stamped by the
	// worker in the transaction that records the confirmation (the
	// database runs on this machine, on the same clock).
	tokens := make([]string, 0, len(accepted))
	for token := range accepted {
		tokens = append(tokens, token)
	}
	require.Eventually(b, func() bool {
		var left int
		require.NoError(b, a.Pool.QueryRow(ctx,
			"SELECT count(*) FROM orders WHERE token = ANY($1) AND emailed_at IS NULL", tokens).Scan(&left))
		return left == 0
	}, time.Minute, 50*time.Millisecond, "every order was emailed")
	b.StopTimer()
	rows, err := a.Pool.Query(ctx, "SELECT token, emailed_at FROM orders WHERE token = ANY($1)", tokens)
	require.NoError(b, err)
	var emailed []time.Duration
	for rows.Next() {
		var token string
		var at time.Time
		require.NoError(b, rows.Scan(&token, &at))
		emailed = append(emailed, at.Sub(accepted[token]))
	}
	require.NoError(b, rows.Err())
	require.Len(b, emailed, n)
	b.ReportMetric(percentile(orderTimes, 0.5), "order-p50-ms")
	b.ReportMetric(percentile(orderTimes, 0.99), "order-p99-ms")
	b.ReportMetric(percentile(trivialTimes, 0.5), "trivial-p50-ms")
	b.ReportMetric(percentile(trivialTimes, 0.99), "trivial-p99-ms")
	b.ReportMetric(percentile(orderTimes, 0.99)/percentile(trivialTimes, 0.99), "p99-ratio")
	b.ReportMetric(percentile(emailed, 0.5), "emailed-p50-ms")
	b.ReportMetric(percentile(emailed, 0.95), "emailed-p95-ms")
}

// BenchmarkStreamsHeld holds 1,000 and then 10,000 order-page streams
// open on one `keel serve` process, as browsers' EventSource opens them
// (served by live.Fanout), and reports from the server's own metrics the
// memory (Go heap and stacks, and resident set) and goroutines each
// costs, and the fan-out latency: from an event's commit to its arrival
// at every client, p50 and p99 over five events. The baseline, in the
// same run, is 1,000 streams served the ordinary way, a goroutine and
// net/http's buffers each (what a client without the EventSource Accept
// header gets).
func BenchmarkStreamsHeld(b *testing.B) {
	dbURL, pool := testenv.Database(b)
	// A server process for each kind of stream, so neither measures the
	// other's leftovers.
	serve := func() string {
		addr := freeLoopbackAddr(b)
		startServer(b, os.Stderr, "KEEL_DATABASE_URL="+dbURL, "KEEL_ADDR="+addr, "KEEL_WORKERS=false",
			"KEEL_LIVE_STREAM_LIMIT=20000", "KEEL_LOG_LEVEL=error")
		return "http://" + addr
	}
	ctx := context.Background()
	inserter, err := jobs.NewInserter(pool, slog.New(slog.DiscardHandler))
	require.NoError(b, err)
	s := store.New(pool, jobs.NewQueue(inserter)).WithSignal(live.NewSignaler(testenv.Redis(b), slog.New(slog.DiscardHandler)).Signal)
	p, err := s.ProductCreate(ctx, store.Actor{}, store.ProductInput{
		SKU: "STREAM-1", Name: "Streamed", PriceMinor: 100, Currency: "EUR", Active: true,
	})
	require.NoError(b, err)
	newOrder := func() store.Order {
		o, _, err := s.OrderCreate(ctx, store.OrderRequest{
			IdempotencyKey: auth.RandomToken(), Token: auth.RandomToken(), Name: "Many Watchers", Email: "watch@example.com",
			Items: []store.OrderItemRequest{{ProductID: p.ID, Quantity: 1, PriceSeen: 100, CurrencySeen: "EUR"}},
		})
		require.NoError(b, err)
		return o
	}

	// hold opens streams on the server at base up to n (adding to
	// clients), and reports what they cost over idle and how fast an
	// event reaches all of them.
	hold := func(label, base string, idle memory, clients *[]*streamClient, n int, o store.Order, eventSource bool) (memory, []time.Duration) {
		for len(*clients) < n {
			*clients = append(*clients, openStreamClient(b, base+"/orders/"+o.Token+"/events", eventSource))
		}
		for _, c := range *clients {
			c.waitFirst(b)
		}
		held := serverMemory(b, base)
		per := held.minus(idle, n)
		b.ReportMetric(float64(per.bytes)/1024, "KiB/stream-"+label)
		b.ReportMetric(float64(per.rss)/1024, "rss-KiB/stream-"+label)
		b.ReportMetric(float64(held.goroutines-idle.goroutines)/float64(n), "goroutines/stream-"+label)

		var took []time.Duration
		for round := range 5 {
			for _, c := range *clients {
				c.expect()
			}
			start := time.Now()
			require.NoError(b, s.EventAdd(ctx, store.Event{
				Topic: store.OrderTopic(o.Token), Kind: store.EventOrderStatus,
				Data: map[string]string{"status": store.OrderInvoiced, "number": fmt.Sprintf("2026-%06d", round+1)},
			}))
			for _, c := range *clients {
				took = append(took, c.arrived(b).Sub(start))
			}
		}
		b.ReportMetric(percentile(took, 0.5), "fanout-p50-ms-"+label)
		b.ReportMetric(percentile(took, 0.99), "fanout-p99-ms-"+label)
		return per, took
	}
	closeAll := func(clients []*streamClient) {
		for _, c := range clients {
			c.close()
		}
	}

	plain := serve()
	var baseline []*streamClient
	ordinary, ordinaryTook := hold("ordinary-1000", plain, serverMemory(b, plain), &baseline, 1000, newOrder(), false)
	closeAll(baseline)

	fanout := serve()
	var clients []*streamClient
	defer func() { closeAll(clients) }()
	o := newOrder()
	idle := serverMemory(b, fanout)
	held, took := hold("1000", fanout, idle, &clients, 1000, o, true)
	b.ReportMetric(float64(ordinary.bytes)/float64(held.bytes), "memory-ratio-ordinary/fanout-1000")
	b.ReportMetric(percentile(ordinaryTook, 0.99)/percentile(took, 0.99), "fanout-p99-ratio-ordinary/fanout-1000")
	hold("10000", fanout, idle, &clients, 10000, o, true)
}

// memory is what a server process holds: heap and stacks in use, and
// goroutines, as its /metrics reports them after a collection.
type memory struct {
	bytes      int64
	rss        int64
	goroutines int64
}

// minus is what each of n streams adds to idle.
func (m memory) minus(idle memory, n int) memory {
	return memory{
		bytes:      (m.bytes - idle.bytes) / int64(n),
		rss:        (m.rss - idle.rss) / int64(n),
		goroutines: (m.goroutines - idle.goroutines) / int64(n),
	}
}

func serverMemory(b *testing.B, base string) memory {
	b.Helper()
	// Two scrapes: the Go collector reads the heap as of the last GC,
	// and a scrape's own garbage should not count.
	var m memory
	for range 2 {
		runtime.Gosched()
		resp, err := http.Get(base + "/metrics")
		require.NoError(b, err)
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		require.NoError(b, err)
		m = memory{
			bytes:      metricValue(b, body, "go_memstats_heap_inuse_bytes") + metricValue(b, body, "go_memstats_stack_inuse_bytes"),
			rss:        metricValue(b, body, "process_resident_memory_bytes"),
			goroutines: metricValue(b, body, "go_goroutines"),
		}
	}
	return m
}

func metricValue(b *testing.B, body []byte, name string) int64 {
	b.Helper()
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(b, err)
			return int64(f)
		}
	}
	b.Fatalf("no %s in /metrics: %.300s", name, body)
	return 0
}

// streamClient holds one stream open and notes when each status event
// arrives.
type streamClient struct {
	cancel context.CancelFunc
	first  chan struct{}
	events chan time.Time
}

func openStreamClient(b testing.TB, target string, eventSource bool) *streamClient {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	require.NoError(b, err)
	if eventSource {
		req.Header.Set("Accept", "text/event-stream") // as EventSource sends it
	}
	resp, err := streamTransport.RoundTrip(req)
	require.NoError(b, err)
	require.Equal(b, http.StatusOK, resp.StatusCode)
	c := &streamClient{cancel: cancel, first: make(chan struct{}), events: make(chan time.Time, 16)}
	go func() {
		defer func() { _ = resp.Body.Close() }()
		r := bufio.NewReaderSize(resp.Body, 1024)
		seen := 0
		for {
			line, err := r.ReadSlice('\n')
			if err != nil {
				return
			}
			if string(line) != "event: status\n" {
				continue
			}
			if seen++; seen == 1 {
				close(c.first)
				continue
			}
			c.events <- time.Now()
		}
	}()
	return c
}

// streamTransport opens a connection per stream, as browsers on many
// machines would.
var streamTransport = &http.Transport{DisableKeepAlives: true, MaxIdleConnsPerHost: -1}

func (c *streamClient) waitFirst(b *testing.B) {
	b.Helper()
	select {
	case <-c.first:
	case <-time.After(time.Minute):
		b.Fatal("a stream sent nothing within a minute")
	}
}

// expect drops arrivals noted before the next event.
func (c *streamClient) expect() {
	for len(c.events) > 0 {
		<-c.events
	}
}

func (c *streamClient) arrived(b *testing.B) time.Time {
	b.Helper()
	select {
	case at := <-c.events:
		return at
	case <-time.After(time.Minute):
		b.Fatal("an event did not arrive within a minute")
		return time.Time{}
	}
}

func (c *streamClient) close() { c.cancel() }

// startServer builds keel and runs `keel serve` until the benchmark
// ends.
// startServer runs `keel serve` with env, its log going to logs (nil
// drops it), and waits until it is ready.
func startServer(b *testing.B, logs io.Writer, env ...string) {
	b.Helper()
	srv := exec.Command(buildKeel(b), "serve")
	srv.Env = testenv.Environ(env...)
	srv.Stdout, srv.Stderr = logs, logs
	require.NoError(b, srv.Start())
	b.Cleanup(func() {
		_ = srv.Process.Signal(syscall.SIGTERM)
		_ = srv.Wait()
	})
	addr := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "KEEL_ADDR="); ok {
			addr = v
		}
	}
	waitUp(b, "http://"+addr+"/readyz", 30*time.Second)
}

// waitUp waits until target answers 200.
func waitUp(b *testing.B, target string, within time.Duration) {
	b.Helper()
	require.Eventually(b, func() bool {
		resp, err := http.Get(target)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, within, 20*time.Millisecond, "%s did not come up", target)
}

// buildKeel builds the keel binary for a benchmark and returns its path.
func buildKeel(b *testing.B) string { return build(b, "keel") }

// build builds the command pkg for a benchmark and returns its path.
func build(b *testing.B, pkg string) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), filepath.Base(pkg))
	out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
	require.NoError(b, err, "build %s: %s", pkg, out)
	return bin
}

// startHello runs the baseline server, bench/hello, with args, and
// returns its URL.
func startHello(b *testing.B, args ...string) string {
	b.Helper()
	addr := freeLoopbackAddr(b)
	hello := exec.Command(build(b, "keel/bench/hello"), append([]string{"-addr", addr}, args...)...)
	require.NoError(b, hello.Start())
	b.Cleanup(func() {
		_ = hello.Process.Kill()
		_ = hello.Wait()
	})
	target := "http://" + addr + "/"
	waitUp(b, target, 10*time.Second)
	return target
}

func freeLoopbackAddr(b *testing.B) string {
	b.Helper()
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(b, err)
	addr := ln.Addr().String()
	require.NoError(b, ln.Close())
	return addr
}

// BenchmarkPages loads pages of `keel serve`, each through its whole
// middleware, with wrk for five seconds over 32 connections, and the
// baseline, a plain net/http hello handler (bench/hello), the same way in
// the same run: the Fortunes page (12 rows from PostgreSQL, sorted,
// rendered by templ), a published post's public page served from the
// cache (asked for as wrk asks, and as browsers do, taking gzip), the
// same page revalidated with its ETag (as a returning reader's browser
// asks for it), and the signed-in portal's start page.
//
// Two ceilings show what any Go server could do here with the same
// work: bench/hello serving the Fortunes page from the same query and
// view without Echo or middleware, and sending the post's exact response
// (headers and gzip body) from memory. Keel reaches PostgreSQL through
// its Unix socket, as on one machine in production; so do the ceilings.
func BenchmarkPages(b *testing.B) {
	dbURL, pool := testenv.Database(b)
	socket := testenv.SocketURL(b, dbURL)
	a := testenv.NewApp(b, app.Options{Conn: pool}, "KEEL_DATABASE_URL="+dbURL)
	ctx := context.Background()
	u := testenv.CreateUser(b, a, auth.RoleAdmin)
	actor := store.Actor{ID: u.ID, Email: u.Email}
	var body strings.Builder
	for i := range 12 {
		fmt.Fprintf(&body, "## Part %d\n\nThe harbour office opens at *seven*; the crews sign in, "+
			"read the [tide tables](https://example.com/tides) and take the boats out. "+
			"Each paragraph here stands for the kind of text a real post carries.\n\n"+
			"- one point\n- another point\n\n", i+1)
	}
	p, err := a.Store.PostCreate(ctx, actor, store.PostInput{
		Title: "A day at the harbour", Slug: "a-day-at-the-harbour", Excerpt: "How the harbour works.",
		BodyMD: body.String(), Tags: []string{"harbour", "news"},
	})
	require.NoError(b, err)
	_, err = a.Store.PostPublish(ctx, actor, p.ID)
	require.NoError(b, err)

	addr := freeLoopbackAddr(b)
	startServer(b, nil, "KEEL_DATABASE_URL="+socket, "KEEL_ADDR="+addr, "KEEL_WORKERS=false",
		"KEEL_BASE_URL=http://"+addr, "KEEL_LOG_FORMAT=json")
	page := "http://" + addr + "/blog/" + p.Slug
	resp, err := http.Get(page) // fills the cache
	require.NoError(b, err)
	_ = resp.Body.Close()
	require.Equal(b, http.StatusOK, resp.StatusCode)
	etag := resp.Header.Get("ETag")
	require.NotEmpty(b, etag)
	hello := startHello(b, "-db", socket, "-copy", page)
	site := "http://" + addr
	cookie := signInCookie(b, site, u.Email)

	const d, conns, gzip = 5 * time.Second, 32, "Accept-Encoding: gzip"
	b.ResetTimer()
	base := testenv.Wrk(b, hello, d, conns)
	fortunes := testenv.Wrk(b, site+"/fortunes", d, conns)
	bareFortunes := testenv.Wrk(b, hello+"fortunes", d, conns)
	cached := testenv.Wrk(b, page, d, conns)
	zipped := testenv.Wrk(b, page, d, conns, gzip)
	copied := testenv.Wrk(b, hello+"copy", d, conns, gzip)
	revalidated := testenv.Wrk(b, page, d, conns, "If-None-Match: "+etag)
	admin := testenv.Wrk(b, site+"/admin", d, conns, "Cookie: "+cookie)
	b.StopTimer()

	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(base.Rate, "hello-req/s")
	b.ReportMetric(fortunes.Rate, "fortunes-req/s")
	b.ReportMetric(fortunes.Rate/base.Rate, "fortunes-ratio")
	b.ReportMetric(bareFortunes.Rate, "bare-fortunes-req/s")
	b.ReportMetric(cached.Rate, "post-req/s")
	b.ReportMetric(cached.Rate/base.Rate, "post-ratio")
	b.ReportMetric(ms(cached.P99), "post-p99-ms")
	b.ReportMetric(zipped.Rate, "post-gzip-req/s")
	b.ReportMetric(zipped.Rate/base.Rate, "post-gzip-ratio")
	b.ReportMetric(copied.Rate, "copy-req/s")
	b.ReportMetric(revalidated.Rate, "304-req/s")
	b.ReportMetric(revalidated.Rate/base.Rate, "304-ratio")
	b.ReportMetric(admin.Rate, "admin-req/s")
	b.ReportMetric(admin.Rate/base.Rate, "admin-ratio")
}

// signInCookie signs email in at site, as a browser would, and returns
// the cookies to send as one Cookie header.
func signInCookie(b *testing.B, site, email string) string {
	b.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(b, err)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	token := testenv.FormToken(b, c, site+"/signin")
	resp, err := c.PostForm(site+"/signin", url.Values{"email": {email}, "password": {testenv.TestPassword}, "_csrf": {token}})
	require.NoError(b, err)
	_ = resp.Body.Close()
	require.Equal(b, http.StatusSeeOther, resp.StatusCode)
	u, err := url.Parse(site)
	require.NoError(b, err)
	var parts []string
	for _, ck := range jar.Cookies(u) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return strings.Join(parts, "; ")
}
