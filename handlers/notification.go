package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"keel/auth"
	"keel/store"
	"keel/views"
)

const notificationsPerPage = 50

// notificationIndex is the notification centre: the person's newest
// notifications, kept current by the live stream.
func (h *Handlers) notificationIndex(c echo.Context) error {
	ctx := c.Request().Context()
	u, _ := auth.CurrentUser(c)
	viewer := notificationViewer(u)
	before, err := positiveInt(c.QueryParam("before"))
	if err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "bad_request", Message: "That page of notifications does not exist."}
	}
	list, err := h.Store.Notifications(ctx, viewer, before, notificationsPerPage+1)
	if err != nil {
		return err
	}
	p := h.adminPage(c, "Notifications", "notification.index")
	v := views.NotificationsView{
		Unread: p.Unread, ReadAllURL: h.url("notification.read_all"), CSRF: p.CSRF,
	}
	if len(list) > notificationsPerPage {
		list = list[:notificationsPerPage]
		v.MoreURL = h.url("notification.index") + "?before=" + strconv.FormatInt(list[len(list)-1].ID, 10)
	}
	for _, n := range list {
		v.Items = append(v.Items, h.notificationView(n.Event, n.Read))
		v.Upto = max(v.Upto, n.ID)
	}
	return render(c, http.StatusOK, views.NotificationsPage(p, v))
}

// notificationRead marks one notification read.
func (h *Handlers) notificationRead(c echo.Context) error {
	ctx := c.Request().Context()
	u, _ := auth.CurrentUser(c)
	id, err := positiveInt(c.Param("id"))
	if err != nil || id == 0 {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "There is no such notification."}
	}
	err = h.Store.NotificationRead(ctx, notificationViewer(u), id)
	if errors.Is(err, store.ErrNotFound) {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "There is no such notification.", Err: err}
	}
	if err != nil {
		return err
	}
	if isHTMX(c) {
		list, err := h.Store.Notifications(ctx, notificationViewer(u), id+1, 1)
		if err != nil {
			return err
		}
		unread, err := h.Store.NotificationUnread(ctx, notificationViewer(u))
		if err != nil {
			return err
		}
		if len(list) == 1 {
			return render(c, http.StatusOK, views.NotificationRead(h.notificationView(list[0].Event, true), csrfToken(c), unread))
		}
	}
	return c.Redirect(http.StatusSeeOther, h.url("notification.index"))
}

// notificationReadAll marks read every notification up to the newest
// the page showed, so one that arrived since stays unread.
func (h *Handlers) notificationReadAll(c echo.Context) error {
	u, _ := auth.CurrentUser(c)
	upto, err := positiveInt(c.FormValue("upto"))
	if err != nil || upto == 0 {
		return &Error{Status: http.StatusBadRequest, Code: "bad_request",
			Message: "This form is incomplete; reload the page and try again."}
	}
	n, err := h.Store.NotificationReadAll(c.Request().Context(), notificationViewer(u), upto)
	if err != nil {
		return err
	}
	h.Sessions.Flash(c, strconv.FormatInt(n, 10)+" notification(s) marked read.")
	return c.Redirect(http.StatusSeeOther, h.url("notification.index"))
}

// positiveInt reads an optional id-like number: "" is 0.
func positiveInt(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, strconv.ErrSyntax
	}
	return n, nil
}
