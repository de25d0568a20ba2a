package testenv

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"keel/app"
	"keel/auth"
	"keel/store"
)

// Client is a browser stand-in for handler tests: it keeps cookies and
// sends the CSRF token with every form, as Keel's pages do. Requests go
// straight to the app's handler.
type Client struct {
	t    testing.TB
	app  *app.App
	jar  *cookiejar.Jar
	base *url.URL
	// Header is sent with every request.
	Header http.Header
	// RemoteAddr is the client's address as the server sees it.
	RemoteAddr string
}

// NewClient returns a client of a with an empty cookie jar.
func NewClient(t testing.TB, a *app.App) *Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	base, _ := url.Parse("http://keel.test/")
	addr := fmt.Sprintf("[2001:db8:%x:%x::1]:1234", os.Getpid()&0xffff, clientSeq.Add(1))
	return &Client{t: t, app: a, jar: jar, base: base, Header: http.Header{}, RemoteAddr: addr}
}

// Do sends req with the client's cookies and headers and keeps the
// cookies the response sets.
func (c *Client) Do(req *http.Request) *httptest.ResponseRecorder {
	c.t.Helper()
	for _, ck := range c.jar.Cookies(c.base) {
		req.AddCookie(ck)
	}
	for k, v := range c.Header {
		req.Header[k] = v
	}
	req.RemoteAddr = c.RemoteAddr
	rec := httptest.NewRecorder()
	c.app.Handler().ServeHTTP(rec, req)
	c.jar.SetCookies(c.base, rec.Result().Cookies())
	return rec
}

// Open sends a GET for path to a served copy of the app at base (see
// Serve) with the client's cookies and headers, for what a recorder
// cannot hold: a live stream. The caller closes the body; ending ctx
// ends the request.
func (c *Client) Open(ctx context.Context, base, path string, header http.Header) *http.Response {
	c.t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	require.NoError(c.t, err)
	for _, ck := range c.jar.Cookies(c.base) {
		req.AddCookie(ck)
	}
	for k, v := range c.Header {
		req.Header[k] = v
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	return resp
}

// clientSeq numbers clients, so each has its own address (and its own
// per-address rate limits).
var clientSeq atomic.Int64

// Get fetches path.
func (c *Client) Get(path string) *httptest.ResponseRecorder {
	c.t.Helper()
	return c.Do(httptest.NewRequestWithContext(context.Background(), http.MethodGet, path, nil))
}

// Post sends a form to path, with the CSRF token of the client's csrf
// cookie (fetching a page first when it has none).
func (c *Client) Post(path string, form url.Values) *httptest.ResponseRecorder {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if form.Get("_csrf") == "" {
		form.Set("_csrf", c.CSRF())
	}
	req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.Do(req)
}

// CSRF returns the client's CSRF token, visiting the home page to get
// one when it has none.
func (c *Client) CSRF() string {
	c.t.Helper()
	if v := c.Cookie("keel_csrf"); v != "" {
		return v
	}
	c.Get("/")
	v := c.Cookie("keel_csrf")
	require.NotEmpty(c.t, v, "no CSRF cookie after visiting /")
	return v
}

// Cookie returns the value of a cookie the client holds, or "".
func (c *Client) Cookie(name string) string {
	for _, ck := range c.jar.Cookies(c.base) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// SetCookie replaces (or with an empty value, removes) a cookie.
func (c *Client) SetCookie(name, value string) {
	ck := &http.Cookie{Name: name, Value: value, Path: "/"} //nolint:gosec // G124: a test's stand-in for what a browser holds.
	if value == "" {
		ck.MaxAge = -1
	}
	c.jar.SetCookies(c.base, []*http.Cookie{ck})
}

// SignIn signs the client in and fails the test if that does not work.
func (c *Client) SignIn(email, password string) {
	c.t.Helper()
	rec := c.Post("/signin", url.Values{"email": {email}, "password": {password}})
	if rec.Code != http.StatusSeeOther {
		body := rec.Body.String()
		if i := strings.Index(body, `id="signin-error">`); i >= 0 {
			body = body[i : i+min(120, len(body)-i)]
		}
		c.t.Fatalf("sign in %s: status %d: %s", email, rec.Code, body)
	}
}

// TestPassword is the password of users made by CreateUser.
const TestPassword = "correct horse battery staple"

// CreateUser creates an active user with role and TestPassword through
// a's store (so in the test's transaction when a runs on one).
func CreateUser(t testing.TB, a *app.App, role auth.Role) store.User {
	t.Helper()
	h, err := auth.NewHasher(a.Config.Argon2Memory, a.Config.Argon2Iterations)
	require.NoError(t, err)
	hash, err := h.Hash(TestPassword)
	require.NoError(t, err)

	email := fmt.Sprintf("%s@example.com", Unique(string(role)))
	u, err := a.Store.UserCreate(context.Background(), store.Actor{Email: "test"}, store.NewUser{
		Email: email, Name: "Test " + string(role), Role: string(role), PasswordHash: hash,
	})
	require.NoError(t, err)
	return u
}

var formCSRF = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// FormToken loads pageURL with client, as a browser opening a form
// would, and returns the CSRF token the form carries.
func FormToken(t testing.TB, client *http.Client, pageURL string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, pageURL, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	m := formCSRF.FindSubmatch(body)
	require.NotNil(t, m, "%s has a form with a CSRF token", pageURL)
	return string(m[1])
}
