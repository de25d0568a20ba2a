package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"keel/app"
	"keel/auth"
	"keel/testenv"
)

// An admin creates a user; the user gets an email with a single-use
// link, chooses a password, and signs in with it.
func TestUserCreateAndPasswordLink(t *testing.T) {
	t.Parallel()
	// The link's email is sent by a worker, so this test commits.
	a := testenv.NewApp(t, app.Options{Conn: testenv.Pool(t), Workers: true})
	testenv.Serve(t, a)
	admin, _ := signedIn(t, a, auth.RoleAdmin)
	email := testenv.Unique("newbie") + "@example.com"

	rec := admin.Post("/admin/users", url.Values{"name": {"New Person"}, "email": {email}, "role": {"editor"}})
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	page := doc(t, admin.Get(rec.Header().Get("Location")))
	require.Equal(t, "New Person", page.Find("h1").Text())
	require.Contains(t, page.Find(`[role="status"]`).Text(), "has an email to choose a password")

	// The same email again, in another case, is refused beside the field.
	rec = admin.Post("/admin/users", url.Values{"name": {"Twin"}, "email": {strings.ToUpper(email)}, "role": {"editor"}})
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	require.Contains(t, doc(t, rec).Find("#user-email-error").Text(), "already exists")

	msgs := testenv.MailTo(t, email, 15*time.Second)
	require.Len(t, msgs, 1)
	require.Contains(t, msgs[0].Subject, "choose your password")
	link := regexp.MustCompile(`http://\S+/password/reset/\S+`).FindString(msgs[0].Text)
	require.NotEmpty(t, link)
	linkURL, err := url.Parse(link)
	require.NoError(t, err)

	visitor := testenv.NewClient(t, a)
	require.Equal(t, http.StatusOK, visitor.Get(linkURL.Path).Code)
	rec = visitor.Post(linkURL.Path, url.Values{"password": {"a long new password"}, "confirm": {"not the same one"}})
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	rec = visitor.Post(linkURL.Path, url.Values{"password": {"a long new password"}, "confirm": {"a long new password"}})
	require.Equal(t, http.StatusSeeOther, rec.Code)
	require.Equal(t, "/signin?password_set=1", rec.Header().Get("Location"))

	// The link works once.
	require.Equal(t, http.StatusNotFound, visitor.Get(linkURL.Path).Code)
	require.Equal(t, http.StatusNotFound,
		visitor.Post(linkURL.Path, url.Values{"password": {"another password!!"}, "confirm": {"another password!!"}}).Code)

	visitor.SignIn(email, "a long new password")
	require.Equal(t, http.StatusOK, visitor.Get("/admin").Code)
	require.Equal(t, http.StatusForbidden, visitor.Get("/admin/users").Code, "an editor")
}

// A password reset signs the user out everywhere.
func TestPasswordResetRevokesSessions(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t)
	admin, _ := signedIn(t, a, auth.RoleAdmin)
	victim, u := signedIn(t, a, auth.RoleSupport)

	require.Equal(t, http.StatusSeeOther, admin.Post("/admin/users/"+itoa(u.ID)+"/password-link", nil).Code)
	var text string
	require.NoError(t, tx.QueryRow(context.Background(),
		"SELECT body_text FROM emails WHERE recipient = $1 AND kind = 'password_link'", u.Email).Scan(&text))
	path := regexp.MustCompile(`/password/reset/\S+`).FindString(text)

	require.Equal(t, http.StatusOK, victim.Get("/admin").Code)
	rec := testenv.NewClient(t, a).Post(path, url.Values{"password": {"the reset password"}, "confirm": {"the reset password"}})
	require.Equal(t, http.StatusSeeOther, rec.Code)
	require.Equal(t, http.StatusSeeOther, victim.Get("/admin").Code, "signed out by the reset")
	require.Equal(t, 1, countRows(t, tx, "SELECT count(*) FROM audit_log WHERE action = 'user.password_reset' AND target_id = $1", itoa(u.ID)))
	require.Zero(t, countRows(t, tx, "SELECT count(*) FROM audit_log WHERE detail::text LIKE '%reset password%'"), "no secret in the log")
}

// A role change and disabling a user both sign them out at once.
func TestUserRoleAndStatusRevokeSessions(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t)
	admin, _ := signedIn(t, a, auth.RoleAdmin)
	staff, u := signedIn(t, a, auth.RoleSupport)
	base := "/admin/users/" + itoa(u.ID)

	rec := admin.Post(base+"/role", url.Values{"role": {"editor"}})
	require.Equal(t, http.StatusSeeOther, rec.Code)
	require.Equal(t, http.StatusSeeOther, staff.Get("/admin").Code, "signed out by the role change")
	require.Equal(t, 1, countRows(t, tx, `SELECT count(*) FROM audit_log WHERE action = 'user.role_changed'
		AND target_id = $1 AND detail->>'from' = 'support' AND detail->>'to' = 'editor'`, itoa(u.ID)))

	staff.SignIn(u.Email, testenv.TestPassword)
	rec = admin.Post(base+"/status", url.Values{"status": {"disabled"}})
	require.Equal(t, http.StatusSeeOther, rec.Code)
	require.Equal(t, http.StatusSeeOther, staff.Get("/admin").Code, "signed out by disabling")
	require.Equal(t, http.StatusUnauthorized,
		staff.Post("/signin", url.Values{"email": {u.Email}, "password": {testenv.TestPassword}}).Code)
	require.Equal(t, 1, countRows(t, tx, "SELECT count(*) FROM audit_log WHERE action = 'user.disabled' AND target_id = $1", itoa(u.ID)))

	require.Equal(t, http.StatusSeeOther, admin.Post(base+"/status", url.Values{"status": {"active"}}).Code)
	staff.SignIn(u.Email, testenv.TestPassword)

	require.Equal(t, http.StatusBadRequest, admin.Post(base+"/status", url.Values{"status": {"banished"}}).Code)
	rec = admin.Post(base+"/role", url.Values{"role": {"emperor"}})
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	require.Contains(t, doc(t, rec).Find("#user-role-error").Text(), "choose one of the roles")
}

// No one gives, or manages a holder of, a role with more access than
// their own; no one disables themselves.
func TestUserManagementLimits(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	moderator, mod := signedIn(t, a, auth.RoleModerator)
	admin, adm := signedIn(t, a, auth.RoleAdmin)
	super := testenv.CreateUser(t, a, auth.RoleSuperadmin)
	editor := testenv.CreateUser(t, a, auth.RoleEditor)

	rec := moderator.Post("/admin/users/"+itoa(mod.ID)+"/role", url.Values{"role": {"admin"}})
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code, "a moderator cannot make an admin, even of themselves")
	require.Contains(t, doc(t, rec).Find("#user-role-error").Text(), "more access than yours")

	require.Equal(t, http.StatusForbidden,
		moderator.Post("/admin/users/"+itoa(editor.ID)+"/status", url.Values{"status": {"disabled"}}).Code)
	require.Equal(t, http.StatusForbidden,
		admin.Post("/admin/users/"+itoa(super.ID)+"/status", url.Values{"status": {"disabled"}}).Code,
		"an admin cannot lock out a superadmin")
	require.Equal(t, http.StatusUnprocessableEntity,
		admin.Post("/admin/users", url.Values{"name": {"X"}, "email": {testenv.Unique("x") + "@example.com"}, "role": {"superadmin"}}).Code)
	require.Equal(t, http.StatusUnprocessableEntity,
		admin.Post("/admin/users/"+itoa(adm.ID)+"/status", url.Values{"status": {"disabled"}}).Code)

	// The role picker offers only what the viewer may give.
	options := doc(t, moderator.Get("/admin/users/"+itoa(mod.ID))).Find("#user-role option")
	require.Equal(t, 1, options.Length())
	require.Equal(t, "moderator", options.Text())
}

func TestAuditLogPage(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t)
	admin, adm := signedIn(t, a, auth.RoleAdmin)
	testenv.NewClient(t, a).Post("/signin", url.Values{"email": {adm.Email}, "password": {"wrong guess here"}})

	d := doc(t, admin.Get("/admin/audit?actor="+url.QueryEscape(adm.Email)))
	text := d.Find("#audit-results").Text()
	require.Contains(t, text, "auth.sign_in")
	require.Contains(t, text, "auth.sign_in_failed")

	d = doc(t, admin.Get("/admin/audit?action=auth.sign_in_failed&actor="+url.QueryEscape(adm.Email)))
	require.Equal(t, 1, d.Find("#audit-results tbody tr").Length())

	today := time.Now().UTC().Format(time.DateOnly)
	d = doc(t, admin.Get("/admin/audit?since="+today+"&until="+today+"&actor="+url.QueryEscape(adm.Email)))
	require.Equal(t, 2, d.Find("#audit-results tbody tr").Length())
	d = doc(t, admin.Get("/admin/audit?until=2000-01-01&actor="+url.QueryEscape(adm.Email)))
	require.Equal(t, 0, d.Find("#audit-results tbody tr").Length())

	for _, bad := range []string{"action=no.such.thing", "since=yesterday", "until=2026-13-40", "before=abc"} {
		rec := admin.Get("/admin/audit?" + bad)
		require.Equal(t, http.StatusBadRequest, rec.Code, bad)
		require.NotEmpty(t, doc(t, rec).Find(`#audit-results [role="alert"]`).Text(), bad)
	}

	// The log is append-only, even to the database owner.
	_, err := tx.Exec(context.Background(), "UPDATE audit_log SET action = 'x' WHERE actor_id = $1", adm.ID)
	require.ErrorContains(t, err, "append-only")
}

// The user lookup is cached; a role change reaches the user's next
// request at once.
func TestRoleChangeInvalidatesCachedUser(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	admin, _ := signedIn(t, a, auth.RoleAdmin)
	staff, u := signedIn(t, a, auth.RoleSupport)
	require.Equal(t, http.StatusForbidden, staff.Get("/admin/users").Code) // cached as support

	require.Equal(t, http.StatusSeeOther, admin.Post("/admin/users/"+itoa(u.ID)+"/role", url.Values{"role": {"moderator"}}).Code)
	staff.SignIn(u.Email, testenv.TestPassword)
	require.Equal(t, http.StatusOK, staff.Get("/admin/users").Code, "the new role applies")
}
