package e2e

import (
	"bytes"
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"keel/testenv"
)

// startKeel runs `keel serve` as its own process until the test ends and
// returns its base URL.
func startKeel(t *testing.T, env ...string) string {
	t.Helper()
	addr := freeAddr(t)
	var logs bytes.Buffer
	cmd := exec.Command(keelBin, "serve")
	cmd.Env = testenv.Environ(append(env, "KEEL_ADDR="+addr, "KEEL_WORKERS=false")...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("keel at %s logged:\n%s", addr, logs.String())
		}
	})

	base := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 50*time.Millisecond)
	return base
}

// browserLike is an HTTP client that keeps cookies and does not follow
// redirects, so tests see them.
func browserLike(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// submit loads page, then posts form to action with the page's CSRF
// token, as a browser would.
func submit(t *testing.T, c *http.Client, page, action string, form url.Values) *http.Response {
	t.Helper()
	form.Set("_csrf", testenv.FormToken(t, c, page))
	resp, err := c.PostForm(action, form)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp
}

func status(t *testing.T, c *http.Client, target string, cookies ...*http.Cookie) int {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, target, nil)
	require.NoError(t, err)
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// A user created with `keel user create` signs in on one server process
// and is signed in on the other; signing out everywhere on the first
// ends the session on the second at once.
func TestTwoProcessesShareSessionsAndRevocation(t *testing.T) {
	t.Parallel()
	one := startKeel(t)
	two := startKeel(t)

	email := testenv.Unique("cluster") + "@example.com"
	cmd := exec.Command(keelBin, "user", "create", "--email", email, "--role", "admin", "--password-stdin")
	cmd.Env = testenv.Environ()
	cmd.Stdin = strings.NewReader("a password for two servers\n")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "created admin "+email)

	c := browserLike(t)
	resp := submit(t, c, one+"/signin", one+"/signin",
		url.Values{"email": {email}, "password": {"a password for two servers"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, http.StatusOK, status(t, c, two+"/admin"), "signed in on the other copy too")

	u, _ := url.Parse(two)
	saved := c.Jar.Cookies(u)
	resp = submit(t, c, one+"/admin/account", one+"/admin/account/signout-everywhere", url.Values{})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)

	replay := &http.Client{CheckRedirect: c.CheckRedirect}
	require.Equal(t, http.StatusSeeOther, status(t, replay, two+"/admin", saved...),
		"the old cookies are dead on the other copy")
}
