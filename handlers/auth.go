package handlers

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"keel/auth"
	"keel/ratelimit"
	"keel/store"
	"keel/views"
)

// signInFailed is the one message for every failed sign-in: it does not
// tell an unknown email from a wrong password or a disabled account.
const signInFailed = "The email or password is not right."

func (h *Handlers) signInNew(c echo.Context) error {
	next := localPath(c.QueryParam("next"))
	if _, ok := auth.CurrentUser(c); ok {
		return c.Redirect(http.StatusSeeOther, h.afterSignIn(next))
	}

	f := h.signInForm(c, "", next)
	if c.QueryParam("signed_out") != "" {
		f.Notice = "You are signed out."
	}
	if c.QueryParam("password_set") != "" {
		f.Notice = "Your password is set. Sign in with it now."
	}
	return render(c, http.StatusOK, views.SignInPage(h.page(c, "Sign in", "", ""), f))
}

// signInCreate checks an email and password. Both limits are counted
// before the password is: per client IP, and per account, which holds
// however many addresses an attacker rotates through.
func (h *Handlers) signInCreate(c echo.Context) error {
	ctx := c.Request().Context()
	email := strings.TrimSpace(postValue(c, "email"))
	password := postValue(c, "password")
	next := localPath(postValue(c, "next"))
	attempt := store.Actor{Email: truncate(email, 254), IP: c.RealIP()}

	if badText(email, false) || len(email) > 254 {
		// Not an address anyone has: refused like an unknown email, and
		// kept out of the database and the log as typed.
		h.Hasher.CheckNobody(password)
		attempt.Email = "(not an email address)"
		h.auditSignInFailure(c, attempt, "invalid_email")
		return h.signInRefused(c, http.StatusUnauthorized, "", next, signInFailed)
	}

	if refused, err := h.throttleSignIn(c, attempt, ratelimit.ClientKey(c.RealIP()), strings.ToLower(email)); err != nil || refused != "" {
		if err != nil {
			return err
		}
		return h.signInRefused(c, http.StatusTooManyRequests, email, next, refused)
	}

	// The shared clock, read before the password is checked: a
	// revocation that lands while the check runs wins over it.
	checkedAt, err := h.Sessions.Clock(ctx)
	if err != nil {
		return err
	}

	u, err := h.Store.UserGetByEmail(ctx, email)
	reason := ""
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.Hasher.CheckNobody(password)
		reason = "unknown_email"
	case err != nil:
		return err
	case !h.Hasher.Check(password, u.PasswordHash):
		reason = "wrong_password"
		attempt.ID = u.ID
	case !u.Active():
		reason = "disabled"
		attempt.ID = u.ID
	}
	if reason != "" {
		h.auditSignInFailure(c, attempt, reason)
		return h.signInRefused(c, http.StatusUnauthorized, email, next, signInFailed)
	}

	if err := h.Sessions.SignIn(c, u, checkedAt); errors.Is(err, auth.ErrRevokedSince) {
		h.auditSignInFailure(c, attempt, "revoked_during_sign_in")
		return h.signInRefused(c, http.StatusUnauthorized, email, next, signInFailed)
	} else if err != nil {
		return err
	}
	if err := h.Store.UserTouchSignIn(ctx, u.ID); err != nil {
		return err
	}
	if err := h.Store.Audit(ctx, store.AuditEntry{
		ActorID: u.ID, ActorEmail: u.Email, Action: "auth.sign_in", ClientIP: c.RealIP(),
	}); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, h.afterSignIn(next))
}

// throttleSignIn counts a password attempt against the per-IP and the
// per-account limits. It returns the message for a refused attempt, or
// "". A refusal is audited at most once per limit period and key, so a
// flood of attempts cannot flood the append-only log.
func (h *Handlers) throttleSignIn(c echo.Context, a store.Actor, ipKey, accountKey string) (string, error) {
	ctx := c.Request().Context()
	for _, limit := range []struct {
		rule ratelimit.Rule
		key  string
	}{
		{h.SignInIPRule, ipKey},
		{h.SignInAccountRule, accountKey},
	} {
		d, err := h.Limiter.Allow(ctx, limit.rule, limit.key)
		if err != nil {
			return "", fmt.Errorf("%w: %w", auth.ErrUnavailable, err)
		}
		if d.Allowed {
			continue
		}

		c.Response().Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(d.RetryAfter.Seconds()))))
		once := ratelimit.Rule{Name: "audit-" + limit.rule.Name, Count: 1, Period: limit.rule.Period}
		if first, err := h.Limiter.Allow(ctx, once, limit.key); err == nil && first.Allowed {
			h.auditSignInFailure(c, a, "throttled:"+limit.rule.Name)
		}
		minutes := int(math.Ceil(d.RetryAfter.Minutes()))
		return fmt.Sprintf("Too many sign-in attempts. Try again in %d minute(s).", minutes), nil
	}
	return "", nil
}

func (h *Handlers) auditSignInFailure(c echo.Context, a store.Actor, reason string) {
	h.Metrics.Event("signin_failed")
	err := h.Store.Audit(c.Request().Context(), store.AuditEntry{
		ActorID:    a.ID,
		ActorEmail: a.Email,
		Action:     "auth.sign_in_failed",
		ClientIP:   a.IP,
		Detail:     map[string]any{"reason": reason},
	})
	if err != nil {
		h.Logger.ErrorContext(c.Request().Context(), "audit failed sign-in", "error", err)
	}
}

func (h *Handlers) signInRefused(c echo.Context, status int, email, next, msg string) error {
	f := h.signInForm(c, email, next)
	f.Error = msg
	return render(c, status, views.SignInPage(h.page(c, "Sign in", "", ""), f))
}

func (h *Handlers) signInForm(c echo.Context, email, next string) views.SignInForm {
	return views.SignInForm{
		Action: h.url("signin.create"),
		CSRF:   csrfToken(c),
		Email:  email,
		Next:   next,
	}
}

// afterSignIn is where a signed-in person goes: back where they were
// heading, when that is a portal page, else the dashboard.
func (h *Handlers) afterSignIn(next string) string {
	if strings.HasPrefix(next, "/admin") {
		return next
	}
	return h.url("admin.dashboard")
}

func (h *Handlers) signOut(c echo.Context) error {
	u, signedIn := auth.CurrentUser(c)
	if signedIn {
		if err := h.Sessions.SignOut(c); err != nil {
			return err
		}
		err := h.Store.Audit(c.Request().Context(), store.AuditEntry{
			ActorID: u.ID, ActorEmail: u.Email, Action: "auth.sign_out", ClientIP: c.RealIP(),
		})
		if err != nil {
			return err
		}
	}
	return c.Redirect(http.StatusSeeOther, h.url("signin.new")+"?signed_out=1")
}

func (h *Handlers) passwordResetEdit(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	token := c.Param("token")
	u, err := h.Store.PasswordResetCheck(c.Request().Context(), auth.HashToken(token))
	if errors.Is(err, store.ErrResetInvalid) || errors.Is(err, store.ErrNotFound) {
		return h.resetInvalid(c)
	}
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.PasswordResetPage(h.page(c, "Choose a password", "", ""),
		h.resetForm(c, token, u.Email, "")))
}

// passwordResetUpdate sets a password through an emailed link, once,
// and signs the user out everywhere: whoever held the old password is
// out too.
func (h *Handlers) passwordResetUpdate(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	ctx := c.Request().Context()
	token := c.Param("token")
	hash := auth.HashToken(token)

	u, err := h.Store.PasswordResetCheck(ctx, hash)
	if errors.Is(err, store.ErrResetInvalid) || errors.Is(err, store.ErrNotFound) {
		return h.resetInvalid(c)
	}
	if err != nil {
		return err
	}

	password, problem := newPassword(c, u.Email)
	if problem != "" {
		return render(c, http.StatusUnprocessableEntity, views.PasswordResetPage(
			h.page(c, "Choose a password", "", ""), h.resetForm(c, token, u.Email, problem)))
	}
	pwHash, err := h.Hasher.Hash(password)
	if err != nil {
		return err
	}

	u, err = h.Store.PasswordResetUse(ctx, hash, pwHash, c.RealIP())
	if errors.Is(err, store.ErrResetInvalid) {
		return h.resetInvalid(c)
	}
	if err != nil {
		return err
	}
	if err := h.Sessions.RevokeUser(ctx, u.ID); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, h.url("signin.new")+"?password_set=1")
}

func (h *Handlers) resetInvalid(c echo.Context) error {
	return render(c, http.StatusNotFound, views.PasswordResetInvalidPage(
		h.page(c, "Link expired", "", ""), h.url("signin.new")))
}

func (h *Handlers) resetForm(c echo.Context, token, email, problem string) views.PasswordResetForm {
	return views.PasswordResetForm{
		Action: h.url("password_reset.update", token),
		CSRF:   csrfToken(c),
		Email:  email,
		Error:  problem,
	}
}

// newPassword reads a new password and its confirmation from the form
// and returns it, or what is wrong with it.
func newPassword(c echo.Context, email string) (string, string) {
	password := postValue(c, "password")
	if err := auth.ValidatePassword(password, email); err != nil {
		_, msg, _ := strings.Cut(err.Error(), ": ")
		return "", "Please " + msg + "."
	}
	if postValue(c, "confirm") != password {
		return "", "The two passwords are not the same."
	}
	return password, ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
