package handlers_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"keel/app"
	"keel/auth"
	"keel/logging"
	"keel/testenv"
)

// A sign-in whose password was checked before the user was signed out
// everywhere does not go through, even when its device would be made
// after the revocation.
func TestSignInLosesToConcurrentRevocation(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	u := testenv.CreateUser(t, a, auth.RoleSupport)
	ctx := context.Background()

	checkedAt, err := a.Sessions.Clock(ctx)
	require.NoError(t, err)
	time.Sleep(2 * time.Millisecond) // the revocation lands while the check runs
	require.NoError(t, a.Sessions.RevokeUser(ctx, u.ID))

	_, _, err = a.Sessions.Devices().Start(ctx, u.ID, checkedAt, "192.0.2.1", "test")
	require.ErrorIs(t, err, auth.ErrRevokedSince)

	later, err := a.Sessions.Clock(ctx)
	require.NoError(t, err)
	_, _, err = a.Sessions.Devices().Start(ctx, u.ID, later, "192.0.2.1", "test")
	require.NoError(t, err, "a sign-in checked after the revocation goes through")
}

// A rotated refresh token is honoured a few times in the grace window
// (tabs of one browser), not more.
func TestRefreshGraceIsCapped(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t, "KEEL_REFRESH_GRACE=60s")
	c, u := signedIn(t, a, auth.RoleSupport)
	old := c.Cookie("keel_refresh")
	c.SetCookie("keel_session", "")
	require.Equal(t, http.StatusOK, c.Get("/admin").Code, "the owner rotates")

	codes := []int{}
	for range 4 {
		late := testenv.NewClient(t, a)
		late.SetCookie("keel_refresh", old)
		codes = append(codes, late.Get("/admin").Code)
	}
	require.Equal(t, []int{http.StatusOK, http.StatusOK, http.StatusOK, http.StatusSeeOther}, codes)
	require.Equal(t, http.StatusSeeOther, c.Get("/admin").Code, "the fourth late use revoked everything")
	require.Equal(t, 1, countRows(t, tx,
		"SELECT count(*) FROM audit_log WHERE action = 'auth.refresh_reuse' AND target_id = $1", itoa(u.ID)))
}

// Guessing the current password from a signed-in session meets the
// sign-in limits, and each wrong guess is audited.
func TestCurrentPasswordGuessesAreThrottled(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t, "KEEL_SIGNIN_ACCOUNT_LIMIT=4")
	c, u := signedIn(t, a, auth.RoleSupport) // the sign-in counted once

	codes := []int{}
	for range 4 {
		codes = append(codes, c.Post("/admin/account/password", url.Values{
			"current": {"a wrong guess"}, "password": {"a new passphrase!"}, "confirm": {"a new passphrase!"},
		}).Code)
	}
	require.Equal(t, []int{422, 422, 422, 429}, codes)
	require.Equal(t, 3, countRows(t, tx, `SELECT count(*) FROM audit_log
		WHERE action = 'auth.sign_in_failed' AND actor_id = $1 AND detail->>'reason' = 'wrong_current_password'`, u.ID))
}

// A refused flood of sign-ins writes one audit row per limit period.
func TestThrottledSignInsAuditedOnce(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t, "KEEL_SIGNIN_ACCOUNT_LIMIT=2")
	u := testenv.CreateUser(t, a, auth.RoleSupport)
	for range 20 {
		testenv.NewClient(t, a).Post("/signin", url.Values{"email": {u.Email}, "password": {"nope nope nope"}})
	}
	require.Equal(t, 1, countRows(t, tx, `SELECT count(*) FROM audit_log
		WHERE action = 'auth.sign_in_failed' AND actor_email = $1 AND detail->>'reason' LIKE 'throttled:%'`, u.Email))
}

func TestSignInRefusesMalformedEmail(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t)
	c := testenv.NewClient(t, a)
	for _, email := range []string{"a\x00b@example.com", "\xff\xfe@example.com"} {
		rec := c.Post("/signin", url.Values{"email": {email}, "password": {"whatever it is"}})
		require.Equal(t, http.StatusUnauthorized, rec.Code)
	}
	require.Positive(t, countRows(t, tx, `SELECT count(*) FROM audit_log
		WHERE action = 'auth.sign_in_failed' AND detail->>'reason' = 'invalid_email'`))
}

// Disabling a user retires their open password links.
func TestDisableRetiresPasswordLinks(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t)
	admin, _ := signedIn(t, a, auth.RoleAdmin)
	u := testenv.CreateUser(t, a, auth.RoleSupport)
	base := "/admin/users/" + itoa(u.ID)

	require.Equal(t, http.StatusSeeOther, admin.Post(base+"/password-link", nil).Code)
	var text string
	require.NoError(t, tx.QueryRow(context.Background(),
		"SELECT body_text FROM emails WHERE recipient = $1 AND kind = 'password_link'", u.Email).Scan(&text))
	link := regexp.MustCompile(`/password/reset/\S+`).FindString(text)

	require.Equal(t, http.StatusSeeOther, admin.Post(base+"/status", url.Values{"status": {"disabled"}}).Code)
	require.Equal(t, http.StatusNotFound, testenv.NewClient(t, a).Get(link).Code)
	require.Equal(t, http.StatusSeeOther, admin.Post(base+"/status", url.Values{"status": {"active"}}).Code)
	require.Equal(t, http.StatusNotFound, testenv.NewClient(t, a).Get(link).Code, "still dead once enabled again")
}

// A CSRF token in the query string of a POST does not count.
func TestCSRFTokenNotFromQueryString(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	c, _ := signedIn(t, a, auth.RoleSupport)
	token := c.CSRF()

	req := newFormRequest("/admin/account/signout-everywhere?_csrf="+token, url.Values{})
	req.Body = http.NoBody
	req.ContentLength = 0
	for _, name := range []string{"keel_session", "keel_refresh", "keel_csrf"} {
		req.AddCookie(&http.Cookie{Name: name, Value: c.Cookie(name)})
	}
	rec := testenv.Do(a, req)
	require.Equal(t, http.StatusForbidden, rec.Code)
	require.Equal(t, http.StatusOK, c.Get("/admin").Code, "still signed in")
}

// Password link tokens never reach the log.
func TestResetTokenNotLogged(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	logger := logging.New(&logs, "json", "info")
	tx := testenv.Tx(t)
	a, err := app.New(context.Background(), testenv.Config(t), logger, app.Options{Conn: tx})
	require.NoError(t, err)
	t.Cleanup(a.Close)

	token := auth.RandomToken()
	testenv.NewClient(t, a).Get("/password/reset/" + token)
	require.NotContains(t, logs.String(), token)
	require.Contains(t, logs.String(), `"uri":"/password/reset/:token"`)
}
