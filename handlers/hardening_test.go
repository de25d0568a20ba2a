package handlers_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"keel/testenv"
)

// HEAD is answered like GET, on pages and files alike.
func TestHead(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)

	css := doc(t, get(t, a, "/")).Find(`link[rel="stylesheet"]`).AttrOr("href", "")
	for _, path := range []string{"/", "/contact", "/healthz", css} {
		rec := testenv.Do(a, httptest.NewRequest(http.MethodHead, path, nil))
		require.Equal(t, http.StatusOK, rec.Code, path)
	}
}

// A body over the limit is refused with 413 however it is sent,
// chunked (no length given) included.
func TestBodyTooLargeChunked(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t, "KEEL_BODY_LIMIT=1KB")

	form := validContact("chunked@example.com")
	form.Set("message", strings.Repeat("y", 4096))
	req := newFormRequest("/contact", form)
	req.Body = io.NopCloser(req.Body) // hide the length
	req.ContentLength = -1
	req.RemoteAddr = clientAddr()
	require.Equal(t, http.StatusRequestEntityTooLarge, testenv.Do(a, req).Code)
}

// Text that cannot be stored or shown as typed is refused with a
// message, not a server error.
func TestContactRefusesUnsafeText(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)

	tests := []struct {
		field, value string
	}{
		{"message", "hello there friend\x00"},
		{"company", "\xff\xfe"},
		{"name", "Jo\nVerify your account now"},
		{"name", "Jo https://evil.example/login"},
		{"name", "Jo\u202eevil"},
		{"email", "a@[127.0.0.1]"},
		{"email", "a@1.2.3.4"},
		{"email", "a@-example-.com"},
		{"email", "a@exa_mple.com"},
		{"email", "jö@exämple.com"},
		{"email", "a@example.com\u200b"},
		{"email", "a@example.com\u2028x"},
	}
	for _, tt := range tests {
		form := validContact(testenv.Unique("unsafe") + "@example.com")
		form.Set(tt.field, tt.value)
		rec := postForm(t, a, "/contact", form)
		require.Equal(t, http.StatusUnprocessableEntity, rec.Code, "%s=%q", tt.field, tt.value)
		require.NotEmpty(t, doc(t, rec).Find("#contact-"+tt.field+"-error").Text(), "%s=%q", tt.field, tt.value)
	}
}

// A POST reads its body only: fields in the query string are ignored.
func TestContactIgnoresQueryString(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t)
	email := testenv.Unique("query") + "@example.com"
	q := url.Values{"name": {"Q"}, "email": {email}, "message": {"hello there friend"}}

	rec := postForm(t, a, "/contact?"+q.Encode(), url.Values{})
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	require.Zero(t, countRows(t, tx, "SELECT count(*) FROM leads WHERE email = $1", email))
}

// A made-up method does not grow the metrics by a series each.
func TestMetricsMethodLabelIsBounded(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)

	for _, m := range []string{"FROB1", "FROB2", "FROB3"} {
		testenv.Do(a, httptest.NewRequest(m, "/", nil))
	}
	body := metricsBody(t, a)
	require.NotContains(t, body, "FROB")
	require.Contains(t, body, `method="other"`)
}

// Unknown static files get the site's own 404, with the request id.
func TestStaticNotFoundIsStyled(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)

	rec := get(t, a, "/static/css/app.css")
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Equal(t, "Page not found", doc(t, rec).Find("h1").Text())

	rec = get(t, a, "/static/nope.js", "Accept", "application/json")
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Contains(t, rec.Body.String(), `"code":"not_found"`)
}

// A request id is taken from the proxy in front only.
func TestRequestIDFromTrustedProxyOnly(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t, "KEEL_TRUSTED_PROXIES=192.0.2.0/24")

	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "198.51.100.1:1000"
	req.Header.Set("X-Request-ID", "chosen-by-client-1234")
	require.NotEqual(t, "chosen-by-client-1234", testenv.Do(a, req).Header().Get("X-Request-Id"))

	req = httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "192.0.2.9:1000"
	req.Header.Set("X-Request-ID", "set-by-the-proxy-5678")
	require.Equal(t, "set-by-the-proxy-5678", testenv.Do(a, req).Header().Get("X-Request-Id"))
}

// A client that gives up is not a server error.
func TestAbandonedRequestIsNotAServerError(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := newFormRequest("/contact", validContact(testenv.Unique("gone")+"@example.com"))
	req = req.WithContext(ctx)
	req.RemoteAddr = clientAddr()
	require.Equal(t, 499, testenv.Do(a, req).Code)
}
