package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"keel/auth"
	"keel/mail"
	"keel/store"
	"keel/views"
)

func (h *Handlers) userIndex(c echo.Context) error {
	users, err := h.Store.UserList(c.Request().Context(), 500)
	if err != nil {
		return err
	}
	rows := make([]views.UserRow, len(users))
	for i, u := range users {
		rows[i] = views.UserRow{
			Name:       u.Name,
			Email:      u.Email,
			Role:       u.Role,
			Active:     u.Active(),
			LastSignIn: u.LastSignIn,
			URL:        h.url("user.show", u.ID),
		}
	}
	v := views.UsersView{Users: rows, NewURL: h.url("user.new")}
	return render(c, http.StatusOK, views.UsersPage(h.adminPage(c, "Users", "user.index"), v))
}

func (h *Handlers) userNew(c echo.Context) error {
	f := views.UserForm{Role: string(auth.RoleSupport)}
	return h.renderUserNew(c, http.StatusOK, f)
}

func (h *Handlers) renderUserNew(c echo.Context, status int, f views.UserForm) error {
	f.Action = h.url("user.create")
	f.Roles = assignable(c)
	return render(c, status, views.UserNewPage(h.adminPage(c, "New user", "user.index"), f))
}

// userCreate creates a user without a password and emails them a link
// to choose one.
func (h *Handlers) userCreate(c echo.Context) error {
	ctx := c.Request().Context()
	f := views.UserForm{
		Name:   strings.TrimSpace(postValue(c, "name")),
		Email:  strings.TrimSpace(postValue(c, "email")),
		Role:   postValue(c, "role"),
		Errors: map[string]string{},
	}
	switch n := utf8.RuneCountInString(f.Name); {
	case n == 0:
		f.Errors["name"] = "Please give a name."
	case n > 200:
		f.Errors["name"] = "Please shorten the name to 200 characters."
	}
	if len(f.Email) > 254 || !plainAddress(f.Email) {
		f.Errors["email"] = "Please give an email address such as name@example.com."
	}
	if msg := h.checkAssign(c, auth.Role(f.Role)); msg != "" {
		f.Errors["role"] = msg
	}
	if len(f.Errors) > 0 {
		return h.renderUserNew(c, http.StatusUnprocessableEntity, f)
	}

	u, err := h.Store.UserCreate(ctx, actor(c), store.NewUser{Email: f.Email, Name: f.Name, Role: f.Role})
	if errors.Is(err, store.ErrConflict) {
		f.Errors["email"] = "A user with this email already exists."
		return h.renderUserNew(c, http.StatusUnprocessableEntity, f)
	}
	if err != nil {
		return err
	}
	if err := h.sendPasswordLink(c, u, true); err != nil {
		return err
	}
	h.Sessions.Flash(c, fmt.Sprintf("%s is created and has an email to choose a password.", u.Name))
	return c.Redirect(http.StatusSeeOther, h.url("user.show", u.ID))
}

func (h *Handlers) userShow(c echo.Context) error {
	return h.renderUser(c, http.StatusOK, "")
}

func (h *Handlers) renderUser(c echo.Context, status int, roleErr string) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	devices, err := h.deviceRows(c, u.ID, func(dev string) string {
		return h.url("user.device_revoke", u.ID, dev)
	})
	if err != nil {
		return err
	}
	viewer, _ := auth.CurrentUser(c)
	v := views.UserView{
		Name:         u.Name,
		Email:        u.Email,
		Role:         u.Role,
		Active:       u.Active(),
		LastSignIn:   u.LastSignIn,
		Roles:        assignable(c),
		RoleAction:   h.url("user.role", u.ID),
		StatusAction: h.url("user.status", u.ID),
		ResetAction:  h.url("user.password_link", u.ID),
		RevokeAllURL: h.url("user.everywhere", u.ID),
		Devices:      devices,
		RoleError:    roleErr,
		IsViewer:     viewer.ID == u.ID,
	}
	return render(c, status, views.UserPage(h.adminPage(c, u.Name, "user.index"), v))
}

// userRoleUpdate changes a user's role and signs them out everywhere:
// their sessions were granted under the old role.
func (h *Handlers) userRoleUpdate(c echo.Context) error {
	u, err := h.managedUser(c)
	if err != nil {
		return err
	}
	role := auth.Role(postValue(c, "role"))
	if msg := h.checkAssign(c, role); msg != "" {
		return h.renderUser(c, http.StatusUnprocessableEntity, msg)
	}
	if string(role) == u.Role {
		return c.Redirect(http.StatusSeeOther, h.url("user.show", u.ID))
	}

	if _, err := h.Store.UserSetRole(c.Request().Context(), actor(c), u.ID, string(role)); err != nil {
		return err
	}
	if err := h.Sessions.RevokeUser(c.Request().Context(), u.ID); err != nil {
		return err
	}
	h.Sessions.Flash(c, fmt.Sprintf("%s is now %s and has been signed out everywhere.", u.Name, role))
	return c.Redirect(http.StatusSeeOther, h.url("user.show", u.ID))
}

// userStatusUpdate disables or enables a user. Disabling signs them out
// everywhere at once.
func (h *Handlers) userStatusUpdate(c echo.Context) error {
	ctx := c.Request().Context()
	u, err := h.managedUser(c)
	if err != nil {
		return err
	}
	status := postValue(c, "status")
	if status != store.UserActive && status != store.UserDisabled {
		return &Error{Status: http.StatusBadRequest, Code: "bad_status", Message: "Status must be active or disabled."}
	}
	if viewer, _ := auth.CurrentUser(c); viewer.ID == u.ID && status == store.UserDisabled {
		return &Error{Status: http.StatusUnprocessableEntity, Code: "self_disable",
			Message: "You cannot disable your own account."}
	}

	if _, err := h.Store.UserSetStatus(ctx, actor(c), u.ID, status); err != nil {
		return err
	}
	msg := u.Name + " is enabled."
	if status == store.UserDisabled {
		if err := h.Sessions.RevokeUser(ctx, u.ID); err != nil {
			return err
		}
		msg = u.Name + " is disabled and signed out everywhere."
	}
	h.Sessions.Flash(c, msg)
	return c.Redirect(http.StatusSeeOther, h.url("user.show", u.ID))
}

func (h *Handlers) userPasswordLink(c echo.Context) error {
	u, err := h.managedUser(c)
	if err != nil {
		return err
	}
	if err := h.sendPasswordLink(c, u, false); err != nil {
		return err
	}
	h.Sessions.Flash(c, "A password link is on its way to "+u.Email+".")
	return c.Redirect(http.StatusSeeOther, h.url("user.show", u.ID))
}

func (h *Handlers) userDeviceRevoke(c echo.Context) error {
	u, err := h.managedUser(c)
	if err != nil {
		return err
	}
	dev := c.Param("device")
	if err := h.Sessions.RevokeDevice(c.Request().Context(), u.ID, dev); err != nil {
		return err
	}
	if err := h.auditSessions(c, "auth.session_revoked", u, map[string]any{"device": dev}); err != nil {
		return err
	}
	h.Sessions.Flash(c, "That browser is signed out.")
	return c.Redirect(http.StatusSeeOther, h.url("user.show", u.ID))
}

func (h *Handlers) userSignOutEverywhere(c echo.Context) error {
	u, err := h.managedUser(c)
	if err != nil {
		return err
	}
	if err := h.Sessions.RevokeUser(c.Request().Context(), u.ID); err != nil {
		return err
	}
	if err := h.auditSessions(c, "auth.sign_out_everywhere", u, nil); err != nil {
		return err
	}
	h.Sessions.Flash(c, u.Name+" is signed out everywhere.")
	return c.Redirect(http.StatusSeeOther, h.url("user.show", u.ID))
}

// sendPasswordLink emails u a single-use link to choose a password.
func (h *Handlers) sendPasswordLink(c echo.Context, u store.User, welcome bool) error {
	token := auth.RandomToken()
	expires := time.Now().Add(h.ResetLinkLifetime)
	link := h.absolute(h.url("password_reset.edit", token))

	content, err := mail.PasswordLink(u.Name, link, h.ResetLinkLifetime, welcome)
	if err != nil {
		return err
	}
	email := store.OutgoingEmail{
		DedupeKey: "password_link:" + itoa(u.ID) + ":" + itoa(time.Now().UnixNano()),
		Kind:      "password_link",
		To:        u.Email,
		Subject:   content.Subject,
		Text:      content.Text,
		HTML:      content.HTML,
		Sensitive: true,
	}
	return h.Store.PasswordResetCreate(c.Request().Context(), actor(c), u, auth.HashToken(token), expires, email)
}

func (h *Handlers) userParam(c echo.Context) (store.User, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return store.User{}, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "There is no such user."}
	}
	return h.Store.UserGetByID(c.Request().Context(), id)
}

// managedUser returns the user a change is for, when the viewer may
// manage them: their role must hold nothing the viewer's lacks.
func (h *Handlers) managedUser(c echo.Context) (store.User, error) {
	u, err := h.userParam(c)
	if err != nil {
		return u, err
	}
	viewer, _ := auth.CurrentUser(c)
	if !auth.Role(viewer.Role).CanAssign(auth.Role(u.Role)) {
		return u, &Error{Status: http.StatusForbidden, Code: "forbidden",
			Message: "You cannot manage a user whose role has more access than yours."}
	}
	return u, nil
}

// checkAssign says why the viewer may not give a role, or "".
func (h *Handlers) checkAssign(c echo.Context, role auth.Role) string {
	viewer, _ := auth.CurrentUser(c)
	switch {
	case !role.Valid():
		return "Please choose one of the roles."
	case !auth.Role(viewer.Role).CanAssign(role):
		return "You cannot give a role with more access than yours."
	}
	return ""
}

// assignable lists the roles the viewer may give.
func assignable(c echo.Context) []string {
	viewer, _ := auth.CurrentUser(c)
	var out []string
	for _, r := range auth.Roles {
		if auth.Role(viewer.Role).CanAssign(r) {
			out = append(out, string(r))
		}
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
