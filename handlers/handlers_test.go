package handlers_test

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"keel/app"
	"keel/testenv"
)

// newApp returns Keel whose store runs in a transaction rolled back at
// the end of the test, and that transaction for assertions.
func newApp(t *testing.T, overrides ...string) (*app.App, pgx.Tx) {
	t.Helper()
	tx := testenv.Tx(t)
	return testenv.NewApp(t, app.Options{Conn: tx}, overrides...), tx
}

var ipSeq atomic.Int64

// clientAddr returns a documentation-range address no other request in
// this run used, so rate limits kept in Redis start afresh.
func clientAddr() string {
	return fmt.Sprintf("[2001:db8:%x:%x::1]:4321", os.Getpid()&0xffff, 0x8000+ipSeq.Add(1))
}

func get(t *testing.T, a *app.App, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return testenv.Do(a, req)
}

// postForm posts a form as Keel's pages do, with a CSRF token that
// matches the csrf cookie.
func postForm(t *testing.T, a *app.App, target string, form url.Values, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := newFormRequest(target, form)
	req.RemoteAddr = clientAddr()
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return testenv.Do(a, req)
}

func doc(t *testing.T, rec *httptest.ResponseRecorder) *goquery.Document {
	t.Helper()
	d, err := goquery.NewDocumentFromReader(strings.NewReader(rec.Body.String()))
	require.NoError(t, err)
	return d
}

func countRows(t *testing.T, tx pgx.Tx, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, tx.QueryRow(context.Background(), query, args...).Scan(&n))
	return n
}

func TestHomeShow(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)

	rec := get(t, a, "/")
	require.Equal(t, http.StatusOK, rec.Code)
	d := doc(t, rec)
	require.Equal(t, "Home · Keel", d.Find("title").Text())
	require.Equal(t, "Home", d.Find(`nav a[aria-current="page"]`).Text())
	require.Equal(t, 3, d.Find(".card").Length())

	h := rec.Header()
	require.Contains(t, h.Get("Content-Security-Policy"), "script-src 'self'")
	require.Contains(t, h.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
	require.Equal(t, "DENY", h.Get("X-Frame-Options"))
	require.Len(t, h.Get("X-Request-Id"), 24)
	require.Empty(t, h.Get("Strict-Transport-Security"), "HSTS only in production")
}

func TestHealth(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)

	require.Equal(t, http.StatusOK, get(t, a, "/healthz").Code)

	rec := get(t, a, "/readyz")
	require.Equal(t, http.StatusOK, rec.Code)
	require.JSONEq(t, `{"postgres":"ok","redis":"ok"}`, rec.Body.String())
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)

	t.Run("Page", func(t *testing.T) {
		rec := get(t, a, "/no/such/page")
		require.Equal(t, http.StatusNotFound, rec.Code)
		d := doc(t, rec)
		require.Equal(t, "Page not found", d.Find("h1").Text())
		require.Contains(t, d.Find(".request-id").Text(), rec.Header().Get("X-Request-Id"))
		require.Equal(t, 1, d.Find("header nav").Length(), "styled with the site's layout")
	})

	t.Run("JSON", func(t *testing.T) {
		rec := get(t, a, "/no/such/page", "Accept", "application/json")
		require.Equal(t, http.StatusNotFound, rec.Code)
		require.JSONEq(t, fmt.Sprintf(
			`{"error":{"code":"not_found","message":"We could not find the page you asked for.","request_id":%q}}`,
			rec.Header().Get("X-Request-Id")), rec.Body.String())
	})

	t.Run("HTMX", func(t *testing.T) {
		rec := get(t, a, "/no/such/page", "HX-Request", "true")
		require.Equal(t, http.StatusNotFound, rec.Code)
		require.Equal(t, "#toasts", rec.Header().Get("HX-Retarget"))
		require.Equal(t, "beforeend", rec.Header().Get("HX-Reswap"))
		require.NotContains(t, rec.Body.String(), "<html")
		require.Equal(t, 1, doc(t, rec).Find(`.toast[role="alert"]`).Length())
	})
}

func TestStaticFiles(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)

	css := doc(t, get(t, a, "/")).Find(`link[rel="stylesheet"]`).AttrOr("href", "")
	require.Regexp(t, `^/static/css/app\.[0-9a-f]{12}\.css$`, css)

	rec := get(t, a, css, "Accept-Encoding", "gzip")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "public, max-age=31536000, immutable", rec.Header().Get("Cache-Control"))
	require.Equal(t, "gzip", rec.Header().Get("Content-Encoding"))
	require.Contains(t, rec.Header().Get("Content-Type"), "text/css")

	require.Equal(t, http.StatusNotFound, get(t, a, "/static/css/app.css").Code, "only hashed URLs are served")
	require.Equal(t, http.StatusNotFound, get(t, a, "/static/css/app.000000000000.css").Code)
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)

	get(t, a, "/")
	body := metricsBody(t, a)
	for _, want := range []string{
		`keel_http_request_duration_seconds_bucket{method="GET",route="/",status="200",le="0.1"}`,
		`keel_http_requests_in_flight`,
		`pgxpool_acquire_count{db_name="primary"}`,
		`keel_redis_pool_hit_total`,
		`keel_river_jobs{queue="email",state="available"}`,
	} {
		require.Contains(t, body, want)
	}

	// A scraper that accepts gzip gets it compressed once.
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.RemoteAddr = "127.0.0.1:9999"
	req.Header.Set("Accept-Encoding", "gzip")
	rec := testenv.Do(a, req)
	require.Equal(t, "gzip", rec.Header().Get("Content-Encoding"))
	zr, err := gzip.NewReader(rec.Body)
	require.NoError(t, err)
	plain, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Contains(t, string(plain), "keel_http_requests_in_flight")
}

// /metrics answers only its allowed peers, whatever a request claims.
func TestMetricsArePrivate(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t, "KEEL_TRUSTED_PROXIES=192.0.2.0/24")

	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.RemoteAddr = "192.0.2.1:5555"
	req.Header.Set("X-Forwarded-For", "127.0.0.1")
	require.Equal(t, http.StatusNotFound, testenv.Do(a, req).Code)

	// A proxy on the same machine forwards from loopback: the request
	// is someone else's all the same.
	req = httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.RemoteAddr = "127.0.0.1:5555"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	require.Equal(t, http.StatusNotFound, testenv.Do(a, req).Code)
	req.Header.Del("X-Forwarded-For")
	require.Equal(t, http.StatusOK, testenv.Do(a, req).Code, "a scrape on loopback")
}

// metricsBody reads /metrics as a local Prometheus would.
func metricsBody(t *testing.T, a *app.App) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.RemoteAddr = "127.0.0.1:9999"
	rec := testenv.Do(a, req)
	require.Equal(t, http.StatusOK, rec.Code)
	return rec.Body.String()
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t, "KEEL_BODY_LIMIT=1KB")

	form := url.Values{
		"name":    {"Big Sender"},
		"email":   {"big@example.com"},
		"message": {strings.Repeat("x", 4096)},
	}
	rec := postForm(t, a, "/contact", form)
	require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
	require.Equal(t, "Too large", doc(t, rec).Find("h1").Text())
	require.Zero(t, countRows(t, tx, "SELECT count(*) FROM leads WHERE email = 'big@example.com'"))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// A path with a NUL or bytes that are not UTF-8 names no page: 404,
// before any query sees it.
func TestMalformedPathsAreNotFound(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	for _, path := range []string{
		"/orders/%00", "/orders/%00/events", "/orders/%00/invoice", "/catalogue/%00",
		"/blog/%00", "/orders/ab%ffcd", "/blog/tag/a%0Ab",
	} {
		rec := get(t, a, path)
		require.Equal(t, http.StatusNotFound, rec.Code, path)
	}
}

// The Fortunes page: every row and the one added at request time,
// sorted by message, markup escaped.
func TestFortunes(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	rec := get(t, a, "/fortunes")
	require.Equal(t, http.StatusOK, rec.Code)
	body := rec.Body.String()
	require.NotContains(t, body, "<script>alert")
	require.Contains(t, body, "&lt;script&gt;alert(")
	d := doc(t, rec)
	var messages []string
	d.Find("tr td:nth-child(2)").Each(func(_ int, s *goquery.Selection) { messages = append(messages, s.Text()) })
	require.Len(t, messages, 13)
	require.True(t, slices.IsSorted(messages), "sorted by message: %q", messages)
	require.Contains(t, messages, "Additional fortune added at request time.")
	require.Contains(t, messages, "フレームワークのベンチマーク")
}
