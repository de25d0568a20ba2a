//go:build cluster

// Package cluster tests Keel as it runs in production: through nginx
// (TLS, HTTP/2) in front of two `keel serve` copies, a `keel worker` and
// a read replica, all started by scripts/cluster.sh. make test-cluster
// starts the cluster, runs these tests against it and stops it.
package cluster

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"keel/testenv"
)

var (
	site   = os.Getenv("KEEL_CLUSTER_URL")
	copies = strings.Fields(os.Getenv("KEEL_CLUSTER_COPIES"))
)

// client is a browser-like client of the site through nginx: it trusts
// the cluster's certificate, keeps cookies and does not follow
// redirects.
func client(t *testing.T) *http.Client {
	t.Helper()
	require.NotEmpty(t, site, "make test-cluster sets KEEL_CLUSTER_URL")
	pem, err := os.ReadFile(os.Getenv("KEEL_CLUSTER_CERT"))
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pem))
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{
		Jar:       jar,
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

func get(t *testing.T, c *http.Client, path string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, site+path, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.NoError(t, err)
	return resp, string(body)
}

// submit loads page and posts form to action with the page's CSRF
// token, as a browser would.
func submit(t *testing.T, c *http.Client, page, action string, form url.Values, header ...string) *http.Response {
	t.Helper()
	form.Set("_csrf", testenv.FormToken(t, c, site+page))
	req, err := http.NewRequest(http.MethodPost, site+action, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", site)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp
}

func signIn(t *testing.T, role string, header ...string) *http.Client {
	t.Helper()
	c := client(t)
	resp := submit(t, c, "/signin", "/signin", url.Values{
		"email": {role + "@keel.localhost"}, "password": {"demo-" + role + "-pass"},
	}, header...)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/admin", resp.Header.Get("Location"))
	return c
}

// served returns how many requests for route each copy has answered
// with status, from the copies' own /metrics.
func served(t *testing.T, route, status string) []float64 {
	t.Helper()
	out := make([]float64, len(copies))
	for i, addr := range copies {
		resp, err := http.Get("http://" + addr + "/metrics")
		require.NoError(t, err)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "keel_http_request_duration_seconds_count{") &&
				strings.Contains(line, `route="`+route+`"`) && strings.Contains(line, `status="`+status+`"`) {
				v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
				require.NoError(t, err)
				out[i] += v
			}
		}
		_ = resp.Body.Close()
	}
	return out
}

func requireEveryCopyServed(t *testing.T, before, after []float64) {
	t.Helper()
	require.True(t, everyCopyServed(before, after), "every copy served some of the requests: %v then %v", before, after)
}

func everyCopyServed(before, after []float64) bool {
	for i := range before {
		if after[i] <= before[i] {
			return false
		}
	}
	return true
}

func unique(prefix string) string { return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()) }

// A sign-in made through one copy holds on the other: sessions live in
// Redis, not in a copy.
func TestSignInHoldsOnEveryCopy(t *testing.T) {
	c := signIn(t, "admin")
	before := served(t, "/admin", "200")
	for range 10 {
		resp, _ := get(t, c, "/admin")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "HTTP/2.0", resp.Proto, "browsers speak HTTP/2 to nginx")
	}
	requireEveryCopyServed(t, before, served(t, "/admin", "200"))
}

// A write through one copy changes what every copy serves at once: the
// blog's cache version moves on in Redis and is announced to every
// copy's memory.
func TestWriteInvalidatesEveryCopy(t *testing.T) {
	editor := signIn(t, "editor")
	slug := unique("cluster-post")
	resp := submit(t, editor, "/admin/posts/new", "/admin/posts", url.Values{
		"title": {"Cluster first"}, "slug": {slug}, "body": {"Written once."},
	})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	edit := resp.Header.Get("Location")
	require.Equal(t, http.StatusSeeOther, submit(t, editor, edit, edit+"/publish", url.Values{}).StatusCode)

	reader := client(t)
	before := served(t, "/blog/:slug", "200")
	for range 6 {
		resp, body := get(t, reader, "/blog/"+slug)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Contains(t, body, "Cluster first")
	}
	requireEveryCopyServed(t, before, served(t, "/blog/:slug", "200"))

	require.Equal(t, http.StatusSeeOther, submit(t, editor, edit, edit, url.Values{
		"title": {"Cluster second"}, "slug": {slug}, "body": {"Written twice."},
	}).StatusCode)
	require.Eventually(t, func() bool {
		for range 6 {
			if _, body := get(t, reader, "/blog/"+slug); !strings.Contains(body, "Cluster second") {
				return false
			}
		}
		return true
	}, 5*time.Second, 50*time.Millisecond, "every copy shows the change")
}

// A live event raised on one copy reaches a browser whose stream is
// held by the other.
func TestLiveEventsCrossCopies(t *testing.T) {
	admin := signIn(t, "admin")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, site+"/admin/events", nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/event-stream")
	stream, err := admin.Do(req)
	require.NoError(t, err)
	defer func() { _ = stream.Body.Close() }()
	require.Equal(t, http.StatusOK, stream.StatusCode)

	lines := make(chan string, 256)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stream.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()

	// Leads are raised until each copy has raised some, whichever holds
	// the stream: nginx takes turns, so a request in between shifts
	// which copy gets the next form.
	tag := unique("Crossing")
	before := served(t, "/admin/leads", "303")
	raised := 0
	for !everyCopyServed(before, served(t, "/admin/leads", "303")) {
		require.Less(t, raised, 10, "the leads never reached both copies")
		if raised%2 == 1 {
			get(t, admin, "/healthz")
		}
		resp := submit(t, admin, "/admin/leads/new", "/admin/leads", url.Values{
			"name": {tag + " " + strconv.Itoa(raised)}, "email": {strings.ToLower(tag) + strconv.Itoa(raised) + "@example.com"},
			"message": {"Raised on some copy."},
		})
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		raised++
	}

	seen := map[int]bool{}
	for len(seen) < raised {
		select {
		case line, ok := <-lines:
			require.True(t, ok, "the stream ended")
			for i := range raised {
				if strings.Contains(line, tag+" "+strconv.Itoa(i)+"<") {
					seen[i] = true
				}
			}
		case <-ctx.Done():
			t.Fatalf("heard of %d of %d leads", len(seen), raised)
		}
	}
}

// Keel sees the address nginx saw; an X-Forwarded-For a client sends
// is dropped by nginx, so it cannot choose the address it is audited,
// or rate limited, under.
func TestForgedForwardedForIsIgnored(t *testing.T) {
	signIn(t, "support", "X-Forwarded-For", "203.0.113.7")
	conn, err := pgx.Connect(context.Background(), os.Getenv("KEEL_DATABASE_URL"))
	require.NoError(t, err)
	defer func() { _ = conn.Close(context.Background()) }()
	var ip string
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT client_ip FROM audit_log
		WHERE action = 'auth.sign_in' AND actor_email = 'support@keel.localhost' ORDER BY id DESC LIMIT 1`).Scan(&ip))
	require.Equal(t, "127.0.0.1", ip)
}

// Metrics are not served to the public through nginx, nor by a copy to
// a request a proxy forwarded.
func TestMetricsAreNotPublic(t *testing.T) {
	resp, _ := get(t, client(t), "/metrics")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	req, err := http.NewRequest(http.MethodGet, "http://"+copies[1]+"/metrics", nil)
	require.NoError(t, err)
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	direct, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = direct.Body.Close()
	require.Equal(t, http.StatusNotFound, direct.StatusCode)
}

// One copy stopped under load: nginx sends what it cannot reach to the
// other, and the stopping copy finishes what it has; nothing fails. It
// runs last, as it leaves one copy stopped.
func TestZCopyStoppedUnderLoad(t *testing.T) {
	c := client(t)
	var mu sync.Mutex
	codes := map[int]int{}
	var failures []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get(site + "/blog")
				mu.Lock()
				if err != nil {
					failures = append(failures, err.Error())
				} else {
					codes[resp.StatusCode]++
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
				mu.Unlock()
			}
		})
	}
	time.Sleep(time.Second)
	pid, err := os.ReadFile(os.Getenv("KEEL_CLUSTER_RUN") + "/keel-1.pid")
	require.NoError(t, err)
	n, err := strconv.Atoi(strings.TrimSpace(string(pid)))
	require.NoError(t, err)
	require.NoError(t, syscall.Kill(n, syscall.SIGTERM))
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()

	t.Logf("answers: %v", codes)
	require.Empty(t, failures)
	total := 0
	for code, count := range codes {
		total += count
		require.Equal(t, http.StatusOK, code, "%d answers were %d", count, code)
	}
	require.Greater(t, total, 100, "the load ran")
}
