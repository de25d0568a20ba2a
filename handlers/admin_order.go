package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"keel/auth"
	"keel/mail"
	"keel/money"
	"keel/store"
	"keel/views"
)

const orderPageSize = 50

func (h *Handlers) adminOrderIndex(c echo.Context) error {
	q := c.QueryParams()
	v := views.OrdersView{Action: h.url("admin.order.index"), Status: q.Get("status"), Statuses: store.OrderStatuses}
	f := store.OrderFilter{Status: v.Status, Limit: orderPageSize}

	status := http.StatusOK
	if f.Status != "" && !slices.Contains(store.OrderStatuses, f.Status) {
		v.Error, status = fmt.Sprintf("There is no status %q.", f.Status), http.StatusBadRequest
	}
	if b := q.Get("before"); b != "" && v.Error == "" {
		micros, id, ok := strings.Cut(b, "-")
		us, err1 := strconv.ParseInt(micros, 10, 64)
		n, err2 := strconv.ParseInt(id, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			v.Error, status = "The page marker is not valid; start again from the first page.", http.StatusBadRequest
		}
		f.BeforeAt, f.BeforeID = time.UnixMicro(us), n
	}

	if v.Error == "" {
		orders, err := h.Store.OrderList(c.Request().Context(), f)
		if err != nil {
			return err
		}
		for _, o := range orders {
			v.Rows = append(v.Rows, views.OrderRow{
				ID: o.ID, Number: o.InvoiceNumber(), Name: o.Name, Email: o.Email,
				Total: money.Format(o.TotalMinor, o.Currency), Status: o.Status,
				CreatedAt: o.CreatedAt.UTC().Format("2006-01-02 15:04"), URL: h.url("admin.order.show", o.ID),
			})
		}
		if len(orders) == orderPageSize {
			last := orders[len(orders)-1]
			q.Set("before", strconv.FormatInt(last.CreatedAt.UnixMicro(), 10)+"-"+strconv.FormatInt(last.ID, 10))
			v.NextURL = v.Action + "?" + q.Encode()
		}
	}
	return render(c, status, views.OrdersPage(h.adminPage(c, "Orders", "admin.order.index"), v))
}

func (h *Handlers) adminOrderShow(c echo.Context) error {
	ctx := c.Request().Context()
	o, err := h.orderParam(c)
	if err != nil {
		return err
	}
	jobs, err := h.Queue.OrderJobs(ctx, o.ID)
	if err != nil {
		return err
	}
	v := views.AdminOrderView{
		Order: h.orderView(o), ID: o.ID, Status: o.Status, Notes: o.Notes,
		StatusPageURL: h.url("order.show", o.Token),
		ResendURL:     h.url("admin.order.resend", o.ID),
		ResendKey:     auth.RandomToken(),
		RegenerateURL: h.url("admin.order.regenerate", o.ID),
	}
	if o.InvoiceKey != "" {
		v.InvoiceURL = h.url("admin.order.invoice", o.ID)
	}
	for _, j := range jobs {
		row := views.JobRow{
			ID: j.ID, Kind: j.Kind, State: string(j.State),
			Attempts: fmt.Sprintf("%d of %d", j.Attempt, j.MaxAttempts),
			When:     j.CreatedAt.UTC().Format("2006-01-02 15:04:05"),
		}
		for _, e := range j.Errors {
			row.Errors = append(row.Errors, fmt.Sprintf("attempt %d: %s", e.Attempt, truncate(e.Error, 300)))
		}
		v.Jobs = append(v.Jobs, row)
	}
	title := "Order " + o.InvoiceNumber()
	return render(c, http.StatusOK, views.AdminOrderPage(h.adminPage(c, title, "admin.order.index"), v))
}

func (h *Handlers) adminOrderInvoice(c echo.Context) error {
	o, err := h.orderParam(c)
	if err != nil {
		return err
	}
	return h.invoiceRedirect(c, o)
}

// adminOrderResend sends the order's confirmation again, as a new email
// (its own dedupe key), audited.
func (h *Handlers) adminOrderResend(c echo.Context) error {
	o, err := h.orderParam(c)
	if err != nil {
		return err
	}
	if o.InvoiceSeq == 0 {
		return &Error{Status: http.StatusUnprocessableEntity, Code: "not_ready",
			Message: "This order has no invoice yet; its confirmation will go out when it does."}
	}
	key := c.FormValue("resend_key")
	if !idempotencyPattern.MatchString(key) {
		return &Error{Status: http.StatusBadRequest, Code: "bad_request",
			Message: "This form is incomplete; reload the page and try again."}
	}
	content := mail.OrderConfirmation(o, h.absolute(h.url("order.show", o.Token)))
	e := store.OutgoingEmail{
		DedupeKey: fmt.Sprintf("order_confirmation:%d:resend:%s", o.ID, key),
		Kind:      "order_confirmation", To: o.Email, Subject: content.Subject, Text: content.Text,
	}
	if err := h.Store.OrderEmailResend(c.Request().Context(), actor(c), o, e); err != nil {
		return err
	}
	h.Sessions.Flash(c, "The confirmation is on its way to "+o.Email+" again.")
	return c.Redirect(http.StatusSeeOther, h.url("admin.order.show", o.ID))
}

// adminOrderRegenerate renders the invoice again under the same number
// and key, audited.
func (h *Handlers) adminOrderRegenerate(c echo.Context) error {
	ctx := c.Request().Context()
	o, err := h.orderParam(c)
	if err != nil {
		return err
	}
	if err := h.Store.OrderRegenerate(ctx, actor(c), o); err != nil {
		return err
	}
	h.Sessions.Flash(c, "The invoice will be rendered again in a moment.")
	return c.Redirect(http.StatusSeeOther, h.url("admin.order.show", o.ID))
}

func (h *Handlers) orderParam(c echo.Context) (store.Order, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return store.Order{}, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "There is no such order."}
	}
	o, err := h.Store.OrderGetByID(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return o, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "There is no such order.", Err: err}
	}
	return o, err
}

// absolute makes a path into a URL on the site's public origin.
func (h *Handlers) absolute(path string) string {
	return strings.TrimSuffix(h.BaseURL, "/") + path
}
