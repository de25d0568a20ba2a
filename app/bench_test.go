package app_test

import (
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"keel/app"
	"keel/auth"
	"keel/testenv"
	"keel/views"
)

// rate sends n GET requests to path from 8 concurrent workers and
// returns requests per second.
func rate(b *testing.B, c *testenv.Client, path string, n int) float64 {
	b.Helper()
	var wg sync.WaitGroup
	start := time.Now()
	per := max(1, n/8)
	for range 8 {
		wg.Go(func() {
			for range per {
				if code := c.Get(path).Code; code != http.StatusOK {
					b.Errorf("GET %s: %d", path, code)
					return
				}
			}
		})
	}
	wg.Wait()
	return float64(per*8) / time.Since(start).Seconds()
}

// BenchmarkSessionLayer measures what the session layer costs: the same
// portal page, through the same middleware, with and without it (scs
// session load and save in Redis, the device check, the user lookup in
// PostgreSQL). It reports both rates and their ratio, measured in one
// run.
func BenchmarkSessionLayer(b *testing.B) {
	a := testenv.NewApp(b, app.Options{Conn: testenv.Pool(b)})
	u := testenv.CreateUser(b, a, auth.RoleAdmin)
	c := testenv.NewClient(b, a)
	c.SignIn(u.Email, testenv.TestPassword)

	viewer := views.NewViewer(u.Name, u.Email, u.Role, func(string) bool { return true })
	page := func(ec echo.Context) error {
		p := views.AdminPage{Title: "Dashboard", Viewer: viewer, HomeURL: "/admin"}
		ec.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
		return views.DashboardPage(p, views.DashboardView{}).Render(ec.Request().Context(), ec.Response())
	}
	a.Echo.GET("/bench/plain", page)
	a.Echo.GET("/bench/session", func(ec echo.Context) error {
		if _, ok := auth.CurrentUser(ec); !ok {
			return echo.ErrUnauthorized
		}
		return page(ec)
	}, a.Sessions.Middleware)

	n := max(b.N, 4000)
	rate(b, c, "/bench/session", 100) // warm pools and caches
	b.ResetTimer()
	plain := rate(b, c, "/bench/plain", n)
	session := rate(b, c, "/bench/session", n)
	b.StopTimer()

	b.ReportMetric(plain, "plain-req/s")
	b.ReportMetric(session, "session-req/s")
	b.ReportMetric(session/plain, "ratio")
}

// BenchmarkSignInTiming compares a sign-in with an unknown email to one
// with a wrong password, at production's argon2id cost: the two must
// take about as long, so timing does not tell which emails exist.
func BenchmarkSignInTiming(b *testing.B) {
	a := testenv.NewApp(b, app.Options{Conn: testenv.Pool(b)},
		"KEEL_ARGON2_MEMORY_KB=19456", "KEEL_ARGON2_ITERATIONS=2",
		"KEEL_SIGNIN_ACCOUNT_LIMIT=1000000", "KEEL_SIGNIN_IP_LIMIT=1000000")
	u := testenv.CreateUser(b, a, auth.RoleSupport)
	c := testenv.NewClient(b, a)

	attempt := func(email string) time.Duration {
		start := time.Now()
		rec := c.Post("/signin", url.Values{"email": {email}, "password": {"a wrong password"}})
		require.Equal(b, http.StatusUnauthorized, rec.Code)
		return time.Since(start)
	}
	n := max(b.N, 30)
	var unknown, wrong time.Duration
	b.ResetTimer()
	for range n {
		// Interleaved, so drift in the machine's load affects both.
		unknown += attempt(testenv.Unique("nobody") + "@example.com")
		wrong += attempt(u.Email)
	}
	b.StopTimer()

	b.ReportMetric(float64(unknown.Microseconds())/float64(n)/1000, "unknown-ms/op")
	b.ReportMetric(float64(wrong.Microseconds())/float64(n)/1000, "wrong-ms/op")
	b.ReportMetric(float64(unknown)/float64(wrong), "ratio")
}
