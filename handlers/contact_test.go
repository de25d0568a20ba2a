package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"keel/app"
	"keel/testenv"
)

func validContact(email string) url.Values {
	return url.Values{
		"name":    {"Jo Tester"},
		"email":   {email},
		"phone":   {"+44 20 7946 0000"},
		"company": {"Testing Ltd"},
		"message": {"We would like a quote for a booking site."},
	}
}

func TestContactNew(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)

	rec := get(t, a, "/contact")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "private, no-cache", rec.Header().Get("Cache-Control"), "the form carries this visitor's token")
	d := doc(t, rec)
	form := d.Find("form#contact-form")
	require.Equal(t, "post", form.AttrOr("method", ""))
	require.Equal(t, "/contact", form.AttrOr("action", ""), "works without JavaScript")
	require.Equal(t, "/contact", form.AttrOr("hx-post", ""), "enhanced by htmx")
	for _, name := range []string{"name", "email", "phone", "company", "message"} {
		id := "contact-" + name
		require.Equal(t, 1, d.Find(`label[for="`+id+`"]`).Length(), "label for %s", name)
		require.Equal(t, name, d.Find("#"+id).AttrOr("name", ""))
	}
	require.Equal(t, "true", d.Find(".trap").AttrOr("aria-hidden", ""), "honeypot hidden from people")
}

func TestContactCreate(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t)
	email := testenv.Unique("create") + "@example.com"

	rec := postForm(t, a, "/contact", validContact(email))
	require.Equal(t, http.StatusSeeOther, rec.Code)
	require.Equal(t, "/contact/thanks", rec.Header().Get("Location"))

	require.Equal(t, 1, countRows(t, tx, "SELECT count(*) FROM leads WHERE email = $1 AND status = 'NEW'", email))
	require.Equal(t, 1, countRows(t, tx,
		"SELECT count(*) FROM emails WHERE recipient = $1 AND kind = 'contact_ack' AND status = 'queued'", email))
	require.Equal(t, 1, countRows(t, tx, `SELECT count(*) FROM river_job j JOIN emails e
		ON (j.args->>'email_id')::bigint = e.id WHERE e.recipient = $1 AND j.kind = 'send_email'`, email))

	thanks := get(t, a, "/contact/thanks")
	require.Equal(t, http.StatusOK, thanks.Code)
	status := doc(t, thanks).Find(`[role="status"]`)
	require.Equal(t, "Thank you.", status.Find("h2").Text())
	require.Contains(t, status.Text(), "sent you a confirmation")
}

func TestContactCreateHTMX(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	email := testenv.Unique("htmx") + "@example.com"

	rec := postForm(t, a, "/contact", validContact(email), "HX-Request", "true")
	require.Equal(t, http.StatusOK, rec.Code)
	require.NotContains(t, rec.Body.String(), "<html", "a fragment, not a page")
	status := doc(t, rec).Find(`#contact-form[role="status"]`)
	require.Contains(t, status.Text(), "Thank you, Jo Tester.")
	require.Contains(t, status.Text(), email)
}

// Each invalid field gets its message beside it; nothing is stored.
func TestContactCreateInvalid(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		change func(url.Values)
		field  string
		want   string
	}{
		{"NameMissing", func(v url.Values) { v.Set("name", "  ") }, "name", "Please tell us your name."},
		{"NameTooLong", func(v url.Values) { v.Set("name", strings.Repeat("n", 201)) }, "name", "200 characters"},
		{"EmailMissing", func(v url.Values) { v.Del("email") }, "email", "Please give an email address"},
		{"EmailMalformed", func(v url.Values) { v.Set("email", "jo@") }, "email", "does not look like an email"},
		{"EmailDisplayName", func(v url.Values) { v.Set("email", "Jo <jo@example.com>") }, "email", "does not look like"},
		{"EmailNoDot", func(v url.Values) { v.Set("email", "jo@localhost") }, "email", "does not look like"},
		{"PhoneLetters", func(v url.Values) { v.Set("phone", "call me") }, "phone", "digits"},
		{"CompanyTooLong", func(v url.Values) { v.Set("company", strings.Repeat("c", 201)) }, "company", "200 characters"},
		{"MessageShort", func(v url.Values) { v.Set("message", "hi") }, "message", "at least 10"},
		{"MessageLong", func(v url.Values) { v.Set("message", strings.Repeat("m", 5001)) }, "message", "5,000 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, tx := newApp(t)
			email := testenv.Unique("invalid") + "@example.com"
			form := validContact(email)
			tt.change(form)

			for _, htmx := range []string{"false", "true"} {
				rec := postForm(t, a, "/contact", form, "HX-Request", htmx)
				require.Equal(t, http.StatusUnprocessableEntity, rec.Code)

				d := doc(t, rec)
				input := d.Find("#contact-" + tt.field)
				require.Equal(t, "true", input.AttrOr("aria-invalid", ""))
				msgID := input.AttrOr("aria-describedby", "")
				require.Equal(t, "contact-"+tt.field+"-error", msgID)
				require.Contains(t, d.Find("#"+msgID).Text(), tt.want)
				require.Equal(t, 1, d.Find("[aria-invalid]").Length(), "only the bad field is marked")
				require.Contains(t, d.Find(`[role="alert"]`).Text(), "Please correct the field")
				if htmx == "true" {
					require.NotContains(t, rec.Body.String(), "<html")
				}
			}

			// What was typed is kept, so the visitor fixes only the error.
			rec := postForm(t, a, "/contact", form)
			require.Equal(t, form.Get("company"), doc(t, rec).Find("#contact-company").AttrOr("value", ""))

			require.Zero(t, countRows(t, tx, "SELECT count(*) FROM leads WHERE email = $1", form.Get("email")))
			require.Zero(t, countRows(t, tx, "SELECT count(*) FROM emails WHERE recipient = $1", form.Get("email")))
		})
	}
}

// A bot that fills the hidden field is answered like a person, and
// nothing is stored.
func TestContactHoneypot(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t)
	email := testenv.Unique("bot") + "@example.com"
	form := validContact(email)
	form.Set("website", "http://spam.example")

	rec := postForm(t, a, "/contact", form)
	require.Equal(t, http.StatusSeeOther, rec.Code)
	require.Zero(t, countRows(t, tx, "SELECT count(*) FROM leads WHERE email = $1", email))
	require.Contains(t, metricsBody(t, a), `keel_events_total{event="contact_honeypot"} 1`)
}

func TestContactRateLimit(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t, "KEEL_CONTACT_LIMIT=2", "KEEL_CONTACT_PERIOD=1h")
	ip := clientAddr()

	send := func(email string, header ...string) int {
		req := newFormRequest("/contact", validContact(email))
		req.RemoteAddr = ip
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		rec := testenv.Do(a, req)
		if rec.Code == http.StatusTooManyRequests {
			require.NotEmpty(t, rec.Header().Get("Retry-After"))
			require.Contains(t, doc(t, rec).Find(`[role="alert"]`).Text(), "try again later")
		}
		return rec.Code
	}

	base := testenv.Unique("limited")
	require.Equal(t, http.StatusSeeOther, send(base+"-1@example.com"))
	require.Equal(t, http.StatusSeeOther, send(base+"-2@example.com"))
	require.Equal(t, http.StatusTooManyRequests, send(base+"-3@example.com"))
	// A forged X-Forwarded-For does not buy a fresh allowance: no proxy
	// is trusted.
	require.Equal(t, http.StatusTooManyRequests, send(base+"-4@example.com", "X-Forwarded-For", "198.51.100.9"))

	require.Equal(t, 2, countRows(t, tx, "SELECT count(*) FROM leads WHERE email LIKE $1", base+"%"))

	// Another client is not affected.
	require.Equal(t, http.StatusSeeOther, postForm(t, a, "/contact", validContact(base+"-5@example.com")).Code)
}

// Behind a trusted proxy, the limit applies to the client the proxy
// names, and the limit is kept in Redis, so a second server copy sees
// the same count.
func TestContactRateLimitAcrossCopies(t *testing.T) {
	t.Parallel()
	overrides := []string{"KEEL_CONTACT_LIMIT=1", "KEEL_TRUSTED_PROXIES=192.0.2.0/24"}
	first, _ := newApp(t, overrides...)
	second, _ := newApp(t, overrides...)
	// A client address of this run's own, so no earlier run's count
	// (kept in Redis for the period) applies.
	client := strings.TrimPrefix(strings.Split(clientAddr(), "]")[0], "[")
	base := testenv.Unique("copies")

	send := func(a *app.App, email string) int {
		req := newFormRequest("/contact", validContact(email))
		req.RemoteAddr = "192.0.2.10:5555"
		req.Header.Set("X-Forwarded-For", client)
		return testenv.Do(a, req).Code
	}
	require.Equal(t, http.StatusSeeOther, send(first, base+"-1@example.com"))
	require.Equal(t, http.StatusTooManyRequests, send(second, base+"-2@example.com"))
}

// With Redis down the contact form still works: the limit fails open,
// and the outage is counted.
func TestContactRedisDown(t *testing.T) {
	t.Parallel()
	redisURL, err := url.Parse(testenv.Getenv("KEEL_REDIS_URL"))
	require.NoError(t, err)
	down := testenv.NewProxy(t, redisURL.Host)
	down.Cut()
	a, tx := newApp(t, "KEEL_REDIS_URL=redis://"+down.Addr()+"/0")
	email := testenv.Unique("redisdown") + "@example.com"

	require.Equal(t, http.StatusOK, get(t, a, "/").Code)
	rec := postForm(t, a, "/contact", validContact(email))
	require.Equal(t, http.StatusSeeOther, rec.Code)
	require.Equal(t, 1, countRows(t, tx, "SELECT count(*) FROM leads WHERE email = $1", email))
	require.Contains(t, metricsBody(t, a), `keel_events_total{event="ratelimit_unavailable"} 1`)
	require.Equal(t, http.StatusServiceUnavailable, get(t, a, "/readyz").Code)
}

// With PostgreSQL gone, a request that needs it gets a styled 503 and
// /readyz fails; both recover by themselves when it returns.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	dbURL, err := url.Parse(testenv.Getenv("KEEL_DATABASE_URL"))
	require.NoError(t, err)
	proxy := testenv.NewProxy(t, dbURL.Host)
	dbURL.Host = proxy.Addr()
	testenv.Pool(t) // the schema exists before Keel starts

	a, err := app.New(context.Background(), testenv.Config(t, "KEEL_DATABASE_URL="+dbURL.String()), testenv.Logger(t), app.Options{})
	require.NoError(t, err)
	t.Cleanup(a.Close)
	email := testenv.Unique("outage") + "@example.com"
	t.Cleanup(func() {
		_, _ = testenv.Pool(t).Exec(context.Background(), "DELETE FROM leads WHERE email = $1", email)
	})

	proxy.Cut()
	rec := postForm(t, a, "/contact", validContact(email))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "30", rec.Header().Get("Retry-After"))
	require.Equal(t, "Temporarily unavailable", doc(t, rec).Find("h1").Text())
	require.NotContains(t, rec.Body.String(), "127.0.0.1", "no internal detail leaks")

	ready := get(t, a, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, ready.Code)
	require.JSONEq(t, `{"postgres":"unreachable","redis":"ok"}`, ready.Body.String())
	require.Equal(t, http.StatusOK, get(t, a, "/").Code, "pages without data still work")

	proxy.Restore()
	require.Eventually(t, func() bool {
		return get(t, a, "/readyz").Code == http.StatusOK
	}, 10*time.Second, 100*time.Millisecond)
	require.Equal(t, http.StatusSeeOther, postForm(t, a, "/contact", validContact(email)).Code)
}

// newFormRequest builds a form post carrying a CSRF token in both the
// form and the cookie, as a browser on Keel's page would.
func newFormRequest(target string, form url.Values) *http.Request {
	const token = "test-csrf-token-0123456789abcdef"
	f := url.Values{"_csrf": {token}}
	for k, v := range form {
		f[k] = v
	}
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "keel_csrf", Value: token})
	return req
}
