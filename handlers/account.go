package handlers

import (
	"errors"
	"net/http"
	"strings"

	"keel/ratelimit"

	"github.com/labstack/echo/v4"

	"keel/auth"
	"keel/store"
	"keel/views"
)

func (h *Handlers) dashboardShow(c echo.Context) error {
	p := h.adminPage(c, "Dashboard", "admin.dashboard")
	v := views.DashboardView{}
	for _, l := range p.Nav {
		if l.Label != "Dashboard" {
			v.Links = append(v.Links, l)
		}
	}
	if p.Viewer.Can("leads:read") {
		d, err := h.Store.Dashboard(c.Request().Context())
		if err != nil {
			return err
		}
		names, err := h.eventActorNames(c, d.Recent)
		if err != nil {
			return err
		}
		v.Pipeline = h.pipelineView(d, names)
	}
	return render(c, http.StatusOK, views.DashboardPage(p, v))
}

// eventActorNames names the users that lead events point at (owners
// given or taken away).
func (h *Handlers) eventActorNames(c echo.Context, events []store.LeadEvent) (map[int64]string, error) {
	var ids []int64
	for _, e := range events {
		for _, k := range []string{"from", "to"} {
			if f, ok := e.Detail[k].(float64); ok && e.Kind == "owner" {
				ids = append(ids, int64(f))
			}
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	users, err := h.Store.UserListByIDs(c.Request().Context(), ids)
	if err != nil {
		return nil, err
	}
	return ownerNames(users), nil
}

func (h *Handlers) pipelineView(d store.Dashboard, names map[int64]string) *views.PipelineView {
	leads := h.url("lead.index")
	v := &views.PipelineView{Total: d.Total, LeadsURL: leads, At: d.At}
	for _, s := range d.ByStatus {
		v.ByStatus = append(v.ByStatus, views.Count{Label: strings.ToLower(s.Status), N: s.Count, URL: leads + "?status=" + s.Status})
	}
	v.Chart.Title = "New leads per day, last 30 days"
	for _, day := range d.PerDay {
		v.Chart.Bars = append(v.Chart.Bars, views.Bar{Label: day.Day.Format("2 Jan"), Value: day.Count})
		v.Chart.Max = max(v.Chart.Max, day.Count)
	}
	for _, f := range d.Funnel {
		v.Funnel = append(v.Funnel, views.FunnelBar{Label: f.Label, N: f.Count, Percent: f.Percent})
	}
	for _, e := range d.Recent {
		v.Recent = append(v.Recent, views.EventRow{
			Who: nameOr(e.ActorName, "Keel"), What: describeEvent(e, names) + " on " + e.LeadName, At: e.At,
		})
	}
	return v
}

func nameOr(name, fallback string) string {
	if name == "" {
		return fallback
	}
	return name
}

func (h *Handlers) accountShow(c echo.Context) error {
	return h.renderAccount(c, http.StatusOK, "", "")
}

func (h *Handlers) renderAccount(c echo.Context, status int, currentErr, passwordErr string) error {
	u, _ := auth.CurrentUser(c)
	devices, err := h.deviceRows(c, u.ID, func(dev string) string {
		return h.url("account.device_revoke", dev)
	})
	if err != nil {
		return err
	}
	v := views.AccountView{
		Devices:        devices,
		EverywhereURL:  h.url("account.everywhere"),
		PasswordAction: h.url("account.password"),
		CurrentError:   currentErr,
		PasswordError:  passwordErr,
	}
	return render(c, status, views.AccountPage(h.adminPage(c, "Your account", "account.show"), v))
}

// deviceRows lists a user's signed-in browsers for a table.
func (h *Handlers) deviceRows(c echo.Context, userID int64, revokeURL func(string) string) ([]views.DeviceRow, error) {
	list, err := h.Sessions.Devices().List(c.Request().Context(), userID)
	if err != nil {
		return nil, errors.Join(auth.ErrUnavailable, err)
	}
	current := auth.CurrentDevice(c)
	rows := make([]views.DeviceRow, len(list))
	for i, d := range list {
		rows[i] = views.DeviceRow{
			ID:        d.ID,
			UserAgent: d.UserAgent,
			IP:        d.IP,
			LastSeen:  d.LastSeen,
			CreatedAt: d.CreatedAt,
			Current:   d.ID == current,
			RevokeURL: revokeURL(d.ID),
		}
	}
	return rows, nil
}

// accountPasswordUpdate changes the signed-in user's own password. Every
// device is signed out, then this browser signs in afresh.
func (h *Handlers) accountPasswordUpdate(c echo.Context) error {
	ctx := c.Request().Context()
	u, _ := auth.CurrentUser(c)
	a := actor(c)

	// Guessing the current password from a stolen session meets the
	// same limits as guessing it at sign-in.
	refused, err := h.throttleSignIn(c, a, ratelimit.ClientKey(c.RealIP()), strings.ToLower(u.Email))
	if err != nil {
		return err
	}
	if refused != "" {
		return h.renderAccount(c, http.StatusTooManyRequests, refused, "")
	}
	if !h.Hasher.Check(postValue(c, "current"), u.PasswordHash) {
		h.auditSignInFailure(c, a, "wrong_current_password")
		return h.renderAccount(c, http.StatusUnprocessableEntity, "This is not your current password.", "")
	}
	password, problem := newPassword(c, u.Email)
	if problem != "" {
		return h.renderAccount(c, http.StatusUnprocessableEntity, "", problem)
	}
	hash, err := h.Hasher.Hash(password)
	if err != nil {
		return err
	}

	if err := h.Store.UserSetPassword(ctx, a, u.ID, hash); err != nil {
		return err
	}
	if err := h.Sessions.RevokeUser(ctx, u.ID); err != nil {
		return err
	}
	// This browser proved the new password just now: it signs in again
	// after the revocation.
	checkedAt, err := h.Sessions.Clock(ctx)
	if err != nil {
		return err
	}
	u.PasswordHash = hash
	if err := h.Sessions.SignIn(c, u, checkedAt); err != nil {
		return err
	}
	h.Sessions.Flash(c, "Your password is changed. Every other browser is signed out.")
	return c.Redirect(http.StatusSeeOther, h.url("account.show"))
}

func (h *Handlers) accountDeviceRevoke(c echo.Context) error {
	ctx := c.Request().Context()
	u, _ := auth.CurrentUser(c)
	dev := c.Param("device")

	err := h.Sessions.RevokeDevice(ctx, u.ID, dev)
	if err != nil {
		return err
	}
	if err := h.auditSessions(c, "auth.session_revoked", u, map[string]any{"device": dev}); err != nil {
		return err
	}
	if dev == auth.CurrentDevice(c) {
		return h.finishSignOut(c)
	}
	h.Sessions.Flash(c, "That browser is signed out.")
	return c.Redirect(http.StatusSeeOther, h.url("account.show"))
}

func (h *Handlers) accountSignOutEverywhere(c echo.Context) error {
	u, _ := auth.CurrentUser(c)
	if err := h.Sessions.RevokeUser(c.Request().Context(), u.ID); err != nil {
		return err
	}
	if err := h.auditSessions(c, "auth.sign_out_everywhere", u, nil); err != nil {
		return err
	}
	return h.finishSignOut(c)
}

// finishSignOut forgets this browser's session after its device was
// revoked, and shows the sign-in page.
func (h *Handlers) finishSignOut(c echo.Context) error {
	if err := h.Sessions.SignOut(c); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, h.url("signin.new")+"?signed_out=1")
}

func (h *Handlers) auditSessions(c echo.Context, action string, target store.User, detail map[string]any) error {
	a := actor(c)
	return h.Store.SessionsEnded(c.Request().Context(), target.ID, store.AuditEntry{
		ActorID:    a.ID,
		ActorEmail: a.Email,
		Action:     action,
		TargetType: "user",
		TargetID:   itoa(target.ID),
		ClientIP:   a.IP,
		Detail:     detail,
	})
}
