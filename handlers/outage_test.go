package handlers_test

import (
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"keel/app"
	"keel/auth"
	"keel/testenv"
)

// Redis stops while the site is under load: public pages and the
// contact form keep answering (no 5xx), and when Redis returns the
// portal and its cache work again without a restart.
func TestRedisOutageUnderLoad(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(testenv.Getenv("KEEL_REDIS_URL"))
	require.NoError(t, err)
	proxy := testenv.NewProxy(t, u.Host)
	a := testenv.NewApp(t, app.Options{Conn: testenv.Pool(t)}, "KEEL_REDIS_URL=redis://"+proxy.Addr()+"/0")
	staff := testenv.CreateUser(t, a, auth.RoleAdmin)

	var served, failed atomic.Int64
	hammer := func(n int) {
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				c := testenv.NewClient(t, a)
				for i := range n {
					var code int
					switch i % 3 {
					case 0:
						code = c.Get("/").Code
					case 1:
						code = c.Get("/contact").Code
					default:
						form := validContact(testenv.Unique("load") + "@example.com")
						form.Del("phone")
						code = c.Post("/contact", form).Code
					}
					served.Add(1)
					if code >= 500 {
						failed.Add(1)
						t.Logf("worker %d request %d: %d", w, i, code)
					}
				}
			})
		}
		wg.Wait()
	}

	hammer(10)
	proxy.Cut()
	hammer(20)
	proxy.Restore()
	hammer(10)
	require.Equal(t, int64(320), served.Load())
	require.Zero(t, failed.Load(), "no 5xx while Redis was down")

	// Back without a restart (the Redis client redials in the
	// background): sign-in and the cached dashboard work again.
	require.Eventually(t, func() bool { return get(t, a, "/readyz").Code == http.StatusOK },
		10*time.Second, 100*time.Millisecond)
	c := testenv.NewClient(t, a)
	c.SignIn(staff.Email, testenv.TestPassword)
	// The cache resumes once its breaker closes, within seconds.
	require.Eventually(t, func() bool {
		require.Equal(t, http.StatusOK, c.Get("/admin").Code)
		return testenv.Counter(t, a.Metrics.Registry, "keel_cache_lookups_total", "family", "dashboard", "result", "hit") > 0
	}, 10*time.Second, 200*time.Millisecond)
	t.Cleanup(func() {
		_, _ = testenv.Pool(t).Exec(t.Context(), "DELETE FROM emails WHERE recipient LIKE 'load-%'")
	})
}
