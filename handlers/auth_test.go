package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"keel/app"
	"keel/auth"
	"keel/store"
	"keel/testenv"
)

// signedIn returns a client signed in as a new user with role.
func signedIn(t *testing.T, a *app.App, role auth.Role) (*testenv.Client, store.User) {
	t.Helper()
	u := testenv.CreateUser(t, a, role)
	c := testenv.NewClient(t, a)
	c.SignIn(u.Email, testenv.TestPassword)
	return c, u
}

// Every portal route names the permission it needs where it is
// registered; a route added without one fails here.
func TestEveryPortalRouteNamesAPermission(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)

	portal := 0
	for _, r := range a.Echo.Routes() {
		if !strings.HasPrefix(r.Path, "/admin") || r.Method == echo.RouteNotFound {
			continue
		}
		portal++
		_, ok := a.Handlers.Permission(r.Method, r.Path)
		require.True(t, ok, "%s %s has no permission", r.Method, r.Path)
	}
	require.Greater(t, portal, 10, "the walk saw the portal's routes")
}

// For every portal route and every role: a role that lacks the route's
// permission gets 403, and a visitor who is not signed in never gets
// through.
func TestRoleRouteMatrix(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	target := testenv.CreateUser(t, a, auth.RoleSupport)
	lead, err := a.Store.LeadCreate(context.Background(), store.Actor{ID: target.ID}, store.ContactRequest{
		Name: "Matrix Lead", Email: testenv.Unique("matrix") + "@example.com", Message: "For the role matrix.",
	}, nil)
	require.NoError(t, err)
	p := newProduct(t, a, "Matrix Product", 1000)
	order, _, err := a.Store.OrderCreate(context.Background(), store.OrderRequest{
		IdempotencyKey: auth.RandomToken(), Token: auth.RandomToken(), Name: "Matrix Order",
		Email: "matrix@example.com", Items: []store.OrderItemRequest{{ProductID: p.ID, Quantity: 1, PriceSeen: 1000, CurrencySeen: "EUR"}},
	})
	require.NoError(t, err)
	post, err := a.Store.PostCreate(context.Background(), store.Actor{ID: target.ID}, store.PostInput{
		Title: "Matrix Post", Slug: testenv.Unique("matrix-post"), BodyMD: "Text.",
	})
	require.NoError(t, err)
	clients := map[auth.Role]*testenv.Client{}
	for _, r := range auth.Roles {
		clients[r], _ = signedIn(t, a, r)
	}
	anonymous := testenv.NewClient(t, a)

	for _, r := range a.Echo.Routes() {
		perm, ok := a.Handlers.Permission(r.Method, r.Path)
		if !ok {
			continue
		}
		id := target.ID
		switch {
		case strings.HasPrefix(r.Path, "/admin/leads"):
			id = lead.ID
		case strings.HasPrefix(r.Path, "/admin/orders"):
			id = order.ID
		case strings.HasPrefix(r.Path, "/admin/products"):
			id = p.ID
		case strings.HasPrefix(r.Path, "/admin/posts"):
			id = post.ID
		}
		// A role let through reaches the handler: the page, or for the
		// invoice of an order not yet worked, its "not ready" answer.
		allowed := http.StatusOK
		switch {
		case strings.HasSuffix(r.Path, "/invoice"):
			allowed = http.StatusNotFound
		case r.Path == "/admin/jobs": // River UI lives under /admin/jobs/
			allowed = http.StatusMovedPermanently
		}
		path := strings.NewReplacer(":id", itoa(id), ":device", "nodevice").Replace(r.Path)

		send := func(c *testenv.Client) int {
			if r.Method == http.MethodGet {
				return c.Get(path).Code
			}
			return c.Post(path, url.Values{}).Code
		}

		code := send(anonymous)
		require.Contains(t, []int{http.StatusSeeOther, http.StatusUnauthorized}, code,
			"anonymous %s %s", r.Method, path)

		for role, c := range clients {
			if role.Can(perm) {
				// A live stream would answer for as long as it lives;
				// the live tests open them.
				if r.Method == http.MethodGet && !strings.HasSuffix(r.Path, "/events") {
					require.Equal(t, allowed, send(c), "%s may %s %s", role, r.Method, path)
				}
				continue
			}
			require.Equal(t, http.StatusForbidden, send(c), "%s must not %s %s (%s)", role, r.Method, path, perm)
		}
	}
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t)
	u := testenv.CreateUser(t, a, auth.RoleAdmin)

	c := testenv.NewClient(t, a)
	rec := c.Post("/signin", url.Values{"email": {strings.ToUpper(u.Email)}, "password": {testenv.TestPassword}})
	require.Equal(t, http.StatusSeeOther, rec.Code)
	require.Equal(t, "/admin", rec.Header().Get("Location"))

	rec = c.Get("/admin")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, doc(t, rec).Find("h1").Text(), u.Name)
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"), "private pages are never stored")
	require.Equal(t, 1, countRows(t, tx, "SELECT count(*) FROM audit_log WHERE action = 'auth.sign_in' AND actor_id = $1", u.ID))

	// Signed in, the sign-in page sends you on, to a portal page only.
	rec = c.Get("/signin?next=%2Fadmin%2Fusers")
	require.Equal(t, "/admin/users", rec.Header().Get("Location"))
	rec = c.Get("/signin?next=https%3A%2F%2Fevil.example%2F")
	require.Equal(t, "/admin", rec.Header().Get("Location"))
}

// An unknown email, a wrong password and a disabled account get the
// same answer; each is audited, and no password reaches the log.
func TestSignInFailures(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t)
	u := testenv.CreateUser(t, a, auth.RoleAdmin)
	off := testenv.CreateUser(t, a, auth.RoleAdmin)
	_, err := a.Store.UserSetStatus(context.Background(), store.Actor{}, off.ID, store.UserDisabled)
	require.NoError(t, err)

	attempts := []struct{ email, password, reason string }{
		{testenv.Unique("nobody") + "@example.com", testenv.TestPassword, "unknown_email"},
		{u.Email, "wrong password entirely", "wrong_password"},
		{off.Email, testenv.TestPassword, "disabled"},
	}
	var bodies []string
	for _, at := range attempts {
		c := testenv.NewClient(t, a)
		rec := c.Post("/signin", url.Values{"email": {at.email}, "password": {at.password}})
		require.Equal(t, http.StatusUnauthorized, rec.Code)
		d := doc(t, rec)
		bodies = append(bodies, d.Find("#signin-error").Text())
		require.Equal(t, at.email, d.Find("#signin-email").AttrOr("value", ""), "the email is kept")
		require.Empty(t, c.Cookie("keel_session"))
		require.Equal(t, http.StatusSeeOther, c.Get("/admin").Code, "still signed out")

		require.Equal(t, 1, countRows(t, tx, `SELECT count(*) FROM audit_log
			WHERE action = 'auth.sign_in_failed' AND actor_email = $1 AND detail->>'reason' = $2`,
			at.email, at.reason))
	}
	require.Equal(t, bodies[0], bodies[1])
	require.Equal(t, bodies[0], bodies[2])
	require.Zero(t, countRows(t, tx, "SELECT count(*) FROM audit_log WHERE detail::text LIKE '%correct horse%'"))
}

// The session cookie changes at sign-in, and the value it had before is
// anonymous afterwards.
func TestSessionFixation(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	first := testenv.CreateUser(t, a, auth.RoleSupport)
	second := testenv.CreateUser(t, a, auth.RoleAdmin)

	c := testenv.NewClient(t, a)
	c.SetCookie("keel_session", "planted-by-an-attacker")
	c.SignIn(first.Email, testenv.TestPassword)
	before := c.Cookie("keel_session")
	require.NotEqual(t, "planted-by-an-attacker", before)

	c.SignIn(second.Email, testenv.TestPassword)
	after := c.Cookie("keel_session")
	require.NotEqual(t, before, after)

	old := testenv.NewClient(t, a)
	old.SetCookie("keel_session", before)
	require.Equal(t, http.StatusSeeOther, old.Get("/admin").Code, "the old session value is anonymous")
	require.Equal(t, http.StatusOK, c.Get("/admin/users").Code, "the new one is the admin")
}

// When the short session has expired, the refresh token renews it
// silently, rotating itself.
func TestRefreshRenewsExpiredSession(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	c, _ := signedIn(t, a, auth.RoleSupport)
	refresh := c.Cookie("keel_refresh")
	require.NotEmpty(t, refresh)

	c.SetCookie("keel_session", "") // the session expired
	rec := c.Get("/admin")
	require.Equal(t, http.StatusOK, rec.Code)
	require.NotEmpty(t, c.Cookie("keel_session"))
	require.NotEqual(t, refresh, c.Cookie("keel_refresh"), "the refresh token rotated")

	// htmx requests renew the same way.
	c.SetCookie("keel_session", "")
	c.Header.Set("HX-Request", "true")
	require.Equal(t, http.StatusOK, c.Get("/admin").Code)
}

// Two tabs whose session expired refresh with the same token at the
// same moment: both stay signed in, and the token rotates once.
func TestRefreshTwoTabs(t *testing.T) {
	t.Parallel()
	// Concurrent requests need the pool: a test transaction is one
	// connection.
	a := testenv.NewApp(t, app.Options{Conn: testenv.Pool(t)})
	c, _ := signedIn(t, a, auth.RoleSupport)
	refresh := c.Cookie("keel_refresh")

	var wg sync.WaitGroup
	codes := make([]int, 2)
	rotations := make([]string, 2)
	for i := range 2 {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, "/admin", nil)
			req.AddCookie(&http.Cookie{Name: "keel_refresh", Value: refresh})
			rec := testenv.Do(a, req)
			codes[i] = rec.Code
			for _, ck := range rec.Result().Cookies() {
				if ck.Name == "keel_refresh" {
					rotations[i] = ck.Value
				}
			}
		})
	}
	wg.Wait()

	require.Equal(t, []int{http.StatusOK, http.StatusOK}, codes)
	issued := 0
	for _, r := range rotations {
		if r != "" {
			issued++
		}
	}
	require.Equal(t, 1, issued, "one tab rotated the token; the other was in the grace window")
}

// A refresh token presented again after it was rotated, outside the
// grace window, means it was copied: every device of the user is
// signed out, and it is audited.
func TestRefreshReuseRevokesEverything(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t, "KEEL_REFRESH_GRACE=1s")
	c, u := signedIn(t, a, auth.RoleSupport)
	other := testenv.NewClient(t, a)
	other.SignIn(u.Email, testenv.TestPassword)
	stolen := c.Cookie("keel_refresh")

	c.SetCookie("keel_session", "")
	require.Equal(t, http.StatusOK, c.Get("/admin").Code, "the owner's refresh rotates the token")
	time.Sleep(1100 * time.Millisecond) // past the grace window

	thief := testenv.NewClient(t, a)
	thief.SetCookie("keel_refresh", stolen)
	require.Equal(t, http.StatusSeeOther, thief.Get("/admin").Code)

	require.Equal(t, http.StatusSeeOther, c.Get("/admin").Code, "the owner is signed out too")
	require.Equal(t, http.StatusSeeOther, other.Get("/admin").Code, "and every other device")
	require.Equal(t, 1, countRows(t, tx,
		"SELECT count(*) FROM audit_log WHERE action = 'auth.refresh_reuse' AND target_id = $1", itoa(u.ID)))
}

// A cookie tampered with, truncated, or replayed after revocation is
// treated as signed out.
func TestTamperedCookies(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	c, _ := signedIn(t, a, auth.RoleSupport)
	session, refresh := c.Cookie("keel_session"), c.Cookie("keel_refresh")

	for name, cookies := range map[string][2]string{
		"SessionTampered":  {session[:len(session)-1] + "x", ""},
		"SessionTruncated": {session[:10], ""},
		"RefreshTampered":  {"", refresh[:len(refresh)-2] + "AA"},
		"RefreshTruncated": {"", refresh[:8]},
		"Garbage":          {"%00%ff'", "<script>"},
	} {
		t.Run(name, func(t *testing.T) {
			x := testenv.NewClient(t, a)
			x.SetCookie("keel_session", cookies[0])
			x.SetCookie("keel_refresh", cookies[1])
			require.Equal(t, http.StatusSeeOther, x.Get("/admin").Code)
		})
	}

	// Replayed after sign-out: both cookies are dead.
	require.Equal(t, http.StatusSeeOther, c.Post("/signout", nil).Code)
	replay := testenv.NewClient(t, a)
	replay.SetCookie("keel_session", session)
	replay.SetCookie("keel_refresh", refresh)
	require.Equal(t, http.StatusSeeOther, replay.Get("/admin").Code)
}

func TestSignOut(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t)
	c, u := signedIn(t, a, auth.RoleSupport)
	phone := testenv.NewClient(t, a)
	phone.SignIn(u.Email, testenv.TestPassword)

	rec := c.Post("/signout", nil)
	require.Equal(t, http.StatusSeeOther, rec.Code)
	require.Equal(t, "/signin?signed_out=1", rec.Header().Get("Location"))
	require.Empty(t, c.Cookie("keel_session"))
	require.Empty(t, c.Cookie("keel_refresh"))
	require.Equal(t, http.StatusSeeOther, c.Get("/admin").Code)
	require.Equal(t, http.StatusOK, phone.Get("/admin").Code, "signing out here leaves the phone signed in")
	require.Equal(t, 1, countRows(t, tx, "SELECT count(*) FROM audit_log WHERE action = 'auth.sign_out' AND actor_id = $1", u.ID))
}

func TestSignOutEverywhere(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t)
	c, u := signedIn(t, a, auth.RoleSupport)
	phone := testenv.NewClient(t, a)
	phone.SignIn(u.Email, testenv.TestPassword)

	require.Equal(t, http.StatusSeeOther, c.Post("/admin/account/signout-everywhere", nil).Code)
	require.Equal(t, http.StatusSeeOther, c.Get("/admin").Code)
	require.Equal(t, http.StatusSeeOther, phone.Get("/admin").Code)
	require.Equal(t, 1, countRows(t, tx, "SELECT count(*) FROM audit_log WHERE action = 'auth.sign_out_everywhere' AND actor_id = $1", u.ID))
}

// The sessions page lists each signed-in browser, and one can be signed
// out from another.
func TestAccountDevices(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	c, u := signedIn(t, a, auth.RoleSupport)
	phone := testenv.NewClient(t, a)
	phone.Header.Set("User-Agent", "Mozilla/5.0 (Android) Firefox/140.0")
	phone.RemoteAddr = "198.51.100.7:5000"
	phone.SignIn(u.Email, testenv.TestPassword)

	d := doc(t, c.Get("/admin/account"))
	rows := d.Find("#main tbody tr")
	require.Equal(t, 2, rows.Length())
	require.Contains(t, d.Find("#main tbody").Text(), "Firefox")
	require.Contains(t, d.Find("#main tbody").Text(), "198.51.100.7")
	require.Equal(t, 1, d.Find(`.badge:contains("this browser")`).Length())

	// Sign the phone out from here.
	var phoneRevoke string
	rows.Each(func(_ int, r *goquery.Selection) {
		if strings.Contains(r.Text(), "Firefox") {
			phoneRevoke = r.Find("form").AttrOr("action", "")
		}
	})
	require.NotEmpty(t, phoneRevoke)
	require.Equal(t, http.StatusSeeOther, c.Post(phoneRevoke, nil).Code)
	require.Equal(t, http.StatusSeeOther, phone.Get("/admin").Code)
	require.Equal(t, http.StatusOK, c.Get("/admin").Code)

	// Another user's device cannot be revoked through one's own page.
	other, _ := signedIn(t, a, auth.RoleSupport)
	_ = other
	require.Equal(t, http.StatusNotFound, c.Post("/admin/account/devices/not-mine/revoke", nil).Code)
}

// Changing one's password signs out every other browser and keeps this
// one signed in.
func TestAccountPasswordChange(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t)
	c, u := signedIn(t, a, auth.RoleSupport)
	phone := testenv.NewClient(t, a)
	phone.SignIn(u.Email, testenv.TestPassword)

	rec := c.Post("/admin/account/password", url.Values{
		"current": {"not it at all"}, "password": {"a brand new passphrase"}, "confirm": {"a brand new passphrase"},
	})
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	require.Contains(t, doc(t, rec).Find("#account-current-error").Text(), "not your current password")

	rec = c.Post("/admin/account/password", url.Values{
		"current": {testenv.TestPassword}, "password": {"short"}, "confirm": {"short"},
	})
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	require.Contains(t, doc(t, rec).Find("#account-password-error").Text(), "at least 12")

	rec = c.Post("/admin/account/password", url.Values{
		"current": {testenv.TestPassword}, "password": {"a brand new passphrase"}, "confirm": {"a brand new passphrase"},
	})
	require.Equal(t, http.StatusSeeOther, rec.Code)
	require.Equal(t, http.StatusOK, c.Get("/admin").Code, "this browser stays signed in")
	require.Equal(t, http.StatusSeeOther, phone.Get("/admin").Code, "the phone is signed out")

	fresh := testenv.NewClient(t, a)
	require.Equal(t, http.StatusUnauthorized,
		fresh.Post("/signin", url.Values{"email": {u.Email}, "password": {testenv.TestPassword}}).Code)
	fresh.SignIn(u.Email, "a brand new passphrase")
	require.Equal(t, 1, countRows(t, tx, "SELECT count(*) FROM audit_log WHERE action = 'user.password_changed' AND target_id = $1", itoa(u.ID)))
}

// Thousands of attempts on one account from rotating X-Forwarded-For
// values are held to the account's limit.
func TestSignInThrottled(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t, "KEEL_SIGNIN_ACCOUNT_LIMIT=5", "KEEL_SIGNIN_IP_LIMIT=1000")
	u := testenv.CreateUser(t, a, auth.RoleAdmin)

	refused := 0
	for i := range 60 {
		c := testenv.NewClient(t, a)
		c.Header.Set("X-Forwarded-For", "203.0.113."+itoa(int64(i)))
		c.RemoteAddr = clientAddr()
		rec := c.Post("/signin", url.Values{"email": {u.Email}, "password": {"guess number " + itoa(int64(i))}})
		if rec.Code == http.StatusTooManyRequests {
			refused++
			require.NotEmpty(t, rec.Header().Get("Retry-After"))
		}
	}
	require.Equal(t, 55, refused, "5 attempts, then refusals")

	// Even the right password is refused while throttled.
	c := testenv.NewClient(t, a)
	rec := c.Post("/signin", url.Values{"email": {u.Email}, "password": {testenv.TestPassword}})
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	require.Positive(t, countRows(t, tx, `SELECT count(*) FROM audit_log
		WHERE action = 'auth.sign_in_failed' AND detail->>'reason' = 'throttled:signin-account'`))
}

// With Redis down, sign-in answers a clear 503 page; public pages work.
func TestSignInRedisDown(t *testing.T) {
	t.Parallel()
	redisURL, err := url.Parse(testenv.Getenv("KEEL_REDIS_URL"))
	require.NoError(t, err)
	down := testenv.NewProxy(t, redisURL.Host)
	down.Cut()
	a, _ := newApp(t, "KEEL_REDIS_URL=redis://"+down.Addr()+"/0")
	u := testenv.CreateUser(t, a, auth.RoleAdmin)
	c := testenv.NewClient(t, a)

	require.Equal(t, http.StatusOK, c.Get("/").Code)
	require.Equal(t, http.StatusOK, c.Get("/contact").Code)

	rec := c.Post("/signin", url.Values{"email": {u.Email}, "password": {testenv.TestPassword}})
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "Temporarily unavailable", doc(t, rec).Find("h1").Text())
	// A visitor with a session cookie cannot be identified either.
	c.SetCookie("keel_session", "some-session-token")
	require.Equal(t, http.StatusServiceUnavailable, c.Get("/admin").Code)
}

// Production cookies are strict: Secure, HttpOnly, __Host- prefixed;
// the session Lax and the refresh token Strict. Development relaxes
// only what plain-http loopback needs.
func TestCookieAttributes(t *testing.T) {
	t.Parallel()

	check := func(t *testing.T, production bool, overrides ...string) {
		a, _ := newApp(t, overrides...)
		u := testenv.CreateUser(t, a, auth.RoleSupport)
		prefix := ""
		if production {
			prefix = "__Host-"
		}

		c := testenv.NewClient(t, a)
		page := c.Get("/signin")
		csrf := cookieNamed(page.Result().Cookies(), prefix+"keel_csrf")
		require.NotNil(t, csrf)

		req := newFormRequest("/signin", url.Values{"email": {u.Email}, "password": {testenv.TestPassword}})
		req.AddCookie(&http.Cookie{Name: prefix + "keel_csrf", Value: "test-csrf-token-0123456789abcdef"})
		req.Header.Set("X-Forwarded-Proto", "https") // as the TLS proxy in front sets it
		rec := testenv.Do(a, req)
		require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())

		session := cookieNamed(rec.Result().Cookies(), prefix+"keel_session")
		refresh := cookieNamed(rec.Result().Cookies(), prefix+"keel_refresh")
		require.NotNil(t, session)
		require.NotNil(t, refresh)
		for _, ck := range []*http.Cookie{session, refresh, csrf} {
			require.True(t, ck.HttpOnly, ck.Name)
			require.Equal(t, "/", ck.Path, ck.Name)
			require.Empty(t, ck.Domain, ck.Name)
			require.Equal(t, production, ck.Secure, ck.Name)
		}
		require.Equal(t, http.SameSiteLaxMode, session.SameSite)
		require.Equal(t, http.SameSiteStrictMode, refresh.SameSite)
		require.Equal(t, 7*24*3600, refresh.MaxAge)
		if production {
			require.Contains(t, rec.Header().Get("Strict-Transport-Security"), "max-age=", "HSTS behind https")
		}
	}

	t.Run("Production", func(t *testing.T) {
		check(t, true, "KEEL_ENV=production", "KEEL_BASE_URL=https://keel.example", "KEEL_S3_SECRET_KEY=real")
	})
	t.Run("Development", func(t *testing.T) { check(t, false) })
}

func cookieNamed(cookies []*http.Cookie, name string) *http.Cookie {
	for _, ck := range cookies {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// Every state-changing request needs the CSRF token, or a same-origin
// Sec-Fetch-Site from a browser that sends it.
func TestCSRF(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t)
	email := testenv.Unique("csrf") + "@example.com"
	form := validContact(email)

	post := func(form url.Values, header ...string) int {
		req, _ := http.NewRequest(http.MethodPost, "/contact", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = clientAddr()
		for i := 0; i+1 < len(header); i += 2 {
			if header[i] == "Cookie" {
				req.AddCookie(&http.Cookie{Name: "keel_csrf", Value: header[i+1]})
				continue
			}
			req.Header.Set(header[i], header[i+1])
		}
		return testenv.Do(a, req).Code
	}

	require.Equal(t, http.StatusForbidden, post(form), "no token at all")
	withToken := url.Values{"_csrf": {"a-token-0123456789abcdef0123"}}
	for k, v := range form {
		withToken[k] = v
	}
	require.Equal(t, http.StatusForbidden, post(withToken, "Cookie", "another-token-0123456789abcdef"), "token and cookie differ")
	require.Equal(t, http.StatusForbidden, post(form, "Sec-Fetch-Site", "cross-site"), "a cross-site browser request")
	require.Zero(t, countRows(t, tx, "SELECT count(*) FROM leads WHERE email = $1", email))

	require.Equal(t, http.StatusSeeOther, post(withToken, "Cookie", "a-token-0123456789abcdef0123"))
	require.Equal(t, http.StatusSeeOther, post(form, "Sec-Fetch-Site", "same-origin"))
	require.Equal(t, 2, countRows(t, tx, "SELECT count(*) FROM leads WHERE email = $1", email))
}

// Pages hide what a role cannot do; the server refuses it anyway.
func TestPagesHideWhatARoleCannotDo(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	admin, _ := signedIn(t, a, auth.RoleAdmin)
	support, _ := signedIn(t, a, auth.RoleSupport)

	nav := func(c *testenv.Client) string { return doc(t, c.Get("/admin")).Find(".admin-nav").Text() }
	require.Contains(t, nav(admin), "Users")
	require.Contains(t, nav(admin), "Audit log")
	require.NotContains(t, nav(support), "Users")
	require.NotContains(t, nav(support), "Audit log")
}
