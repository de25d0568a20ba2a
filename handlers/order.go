package handlers

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"keel/auth"
	"keel/money"
	"keel/store"
	"keel/views"
)

// orderNew shows the order form. Each form gets a fresh idempotency key:
// submitting it twice (a double click, a retried request) makes one
// order.
func (h *Handlers) orderNew(c echo.Context) error {
	f, err := h.orderForm(c)
	if err != nil {
		return err
	}
	f.IdempotencyKey = auth.RandomToken()
	// The key is this page's own: no cache may hand it to someone else.
	c.Response().Header().Set("Cache-Control", "no-store")
	return render(c, http.StatusOK, views.OrderFormPage(h.page(c, "Order", "Order from Keel.", "catalogue.index"), f))
}

func (h *Handlers) orderForm(c echo.Context) (views.OrderForm, error) {
	products, err := h.Store.ProductListActive(c.Request().Context())
	if err != nil {
		return views.OrderForm{}, err
	}
	f := views.OrderForm{
		Action:     h.url("order.create"),
		CSRF:       csrfToken(c),
		Quantities: map[int64]string{},
		Errors:     map[string]string{},
		TaxNote:    "Prices are before VAT; " + taxLabel(h.TaxRateBP) + " is added.",
	}
	for _, p := range products {
		f.Products = append(f.Products, h.productCard(p))
	}
	return f, nil
}

var (
	idempotencyPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{16,64}$`)
	quantityPattern    = regexp.MustCompile(`^[0-9]{1,3}$`)
)

// orderCreate records an order and answers 202 Accepted at once with
// its status page: the invoice, emails and notices are the job's work.
// Prices come from the catalogue; the prices the form showed are only
// checked against it. Scripts may send the key as Idempotency-Key.
func (h *Handlers) orderCreate(c echo.Context) error {
	req, f, err := h.orderRequest(c)
	if err != nil {
		return err
	}
	if len(f.Errors) > 0 {
		return h.orderRefused(c, http.StatusUnprocessableEntity, f)
	}
	// Each order sends email and renders a PDF: one client may place
	// only so many. A retry with the same key counts too.
	if d := h.allow(c, h.OrderRule, "order"); !d.Allowed {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.RetryAfter.Seconds()))))
		f.Errors["items"] = "You have placed several orders in a short time. Please try again later, or email us."
		return h.orderRefused(c, http.StatusTooManyRequests, f)
	}

	o, _, err := h.Store.OrderCreate(c.Request().Context(), req)
	var itemErr *store.OrderItemError
	switch {
	case errors.As(err, &itemErr):
		f.Errors["qty_"+strconv.FormatInt(itemErr.ProductID, 10)] = itemErr.Message
		f.Errors["items"] = itemErr.Message
		return h.orderRefused(c, http.StatusUnprocessableEntity, f)
	case errors.Is(err, store.ErrIdempotencyConflict):
		f.IdempotencyKey = auth.RandomToken()
		f.Errors["items"] = "This form was already used for a different order. Please check your order and send it again."
		return h.orderRefused(c, http.StatusUnprocessableEntity, f)
	case errors.Is(err, store.ErrOrderLimit):
		c.Response().Header().Set("Retry-After", "3600")
		f.Errors["email"] = "This address has received several orders in the last hour. Please try again later, or email us."
		return h.orderRefused(c, http.StatusTooManyRequests, f)
	case err != nil:
		return err
	}

	status := h.url("order.show", o.Token)
	c.Response().Header().Set(echo.HeaderLocation, status)
	c.Response().Header().Set("Cache-Control", "no-store")
	switch {
	case wantsJSON(c):
		return c.JSON(http.StatusAccepted, map[string]string{
			"order": o.Token, "status": o.Status, "status_url": status,
		})
	case isHTMX(c):
		// The status page is a page of its own, with its live stream.
		c.Response().Header().Set("HX-Redirect", status)
		return c.NoContent(http.StatusAccepted)
	}
	return h.renderOrder(c, http.StatusAccepted, o)
}

// orderRequest reads and checks the order form. Quantities must be whole
// numbers from 0 to 100, and at least one above 0. The form's products
// are loaded only when it must be shown again (orderRefused).
func (h *Handlers) orderRequest(c echo.Context) (store.OrderRequest, views.OrderForm, error) {
	f := views.OrderForm{Quantities: map[int64]string{}, Errors: map[string]string{}}
	form := c.Request().PostForm
	req := store.OrderRequest{
		IdempotencyKey: c.Request().Header.Get("Idempotency-Key"),
		Token:          auth.RandomToken(),
		Name:           strings.TrimSpace(form.Get("name")),
		Email:          strings.TrimSpace(form.Get("email")),
		Notes:          strings.TrimSpace(form.Get("notes")),
		TaxRateBP:      h.TaxRateBP,
		EmailLimit:     h.OrderEmailLimit,
	}
	if req.IdempotencyKey == "" {
		req.IdempotencyKey = form.Get("idempotency_key")
	}
	f.IdempotencyKey, f.Name, f.Email, f.Notes = req.IdempotencyKey, req.Name, req.Email, req.Notes

	if !idempotencyPattern.MatchString(req.IdempotencyKey) {
		f.IdempotencyKey = auth.RandomToken()
		f.Errors["items"] = "This form is incomplete; please check your order and send it again."
	}
	if n := utf8.RuneCountInString(req.Name); n == 0 || n > 200 || badText(req.Name, false) {
		f.Errors["name"] = "Please give your name (at most 200 characters)."
	}
	if len(req.Email) > 254 || !plainAddress(req.Email) {
		f.Errors["email"] = "Please give an email address such as name@example.com."
	}
	if utf8.RuneCountInString(req.Notes) > 2000 || badText(req.Notes, true) {
		f.Errors["notes"] = "Please keep notes to 2,000 characters of plain text."
	}

	for key, vals := range form {
		idStr, ok := strings.CutPrefix(key, "qty_")
		if !ok {
			continue
		}
		// One spelling per product ("qty_7", never "qty_07"), so a
		// product cannot be ordered on several lines past its limit.
		id, err := strconv.ParseInt(idStr, 10, 64)
		if err != nil || id <= 0 || strconv.FormatInt(id, 10) != idStr || len(vals) != 1 {
			f.Errors["items"] = "The order names a product that is not in the catalogue."
			continue
		}
		raw := strings.TrimSpace(vals[0])
		f.Quantities[id] = raw
		if raw == "" {
			continue
		}
		qty, err := strconv.ParseInt(raw, 10, 32)
		if !quantityPattern.MatchString(raw) || err != nil || qty > 100 {
			f.Errors[key] = "Please give a whole number from 0 to 100."
			continue
		}
		if qty == 0 {
			continue
		}
		price, err := strconv.ParseInt(form.Get("price_"+idStr), 10, 64)
		if err != nil {
			price = -1 // checked against the catalogue, which refuses it
		}
		req.Items = append(req.Items, store.OrderItemRequest{
			ProductID: id, Quantity: int32(qty), PriceSeen: price, CurrencySeen: form.Get("cur_" + idStr),
		})
	}
	if len(req.Items) == 0 && len(f.Errors) == 0 {
		f.Errors["items"] = "Please choose at most 100 of at least one product."
	}
	if len(req.Items) > 50 {
		f.Errors["items"] = "An order holds at most 50 different products."
	}
	return req, f, nil
}

// orderRefused shows the form again with what the customer typed and
// what needs fixing.
func (h *Handlers) orderRefused(c echo.Context, status int, typed views.OrderForm) error {
	if wantsJSON(c) {
		return c.JSON(status, map[string]any{"errors": typed.Errors})
	}
	f, err := h.orderForm(c)
	if err != nil {
		return err
	}
	f.IdempotencyKey, f.Name, f.Email, f.Notes = typed.IdempotencyKey, typed.Name, typed.Email, typed.Notes
	f.Quantities, f.Errors = typed.Quantities, typed.Errors
	if isHTMX(c) {
		return render(c, status, views.OrderFormFragment(f))
	}
	return render(c, status,
		views.OrderFormPage(h.page(c, "Order", "", "catalogue.index"), f))
}

// orderShow is the order's status page, at an address only its customer
// knows. It follows the order live, and falls back to reloading itself
// without JavaScript.
func (h *Handlers) orderShow(c echo.Context) error {
	o, err := h.Store.OrderGetByToken(c.Request().Context(), c.Param("token"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return h.renderOrder(c, http.StatusOK, o)
}

func (h *Handlers) renderOrder(c echo.Context, status int, o store.Order) error {
	v := h.orderView(o)
	return render(c, status, views.OrderStatusPage(h.page(c, "Your order", "", ""), v))
}

func (h *Handlers) orderView(o store.Order) views.OrderView {
	v := views.OrderView{
		Name: o.Name, Email: o.Email, Number: o.InvoiceNumber(),
		Subtotal:  money.Format(o.SubtotalMinor, o.Currency),
		TaxLabel:  taxLabel(o.TaxRateBP),
		Tax:       money.Format(o.TaxMinor, o.Currency),
		Total:     money.Format(o.TotalMinor, o.Currency),
		Status:    h.orderStatusView(o),
		URL:       h.url("order.show", o.Token),
		EventsURL: h.url("order.events", o.Token),
		CreatedAt: o.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"),
	}
	for _, l := range o.Lines {
		v.Lines = append(v.Lines, views.OrderLineRow{
			Name: l.Name, SKU: l.SKU, Quantity: l.Quantity,
			Unit: money.Format(l.UnitPriceMinor, o.Currency), Total: money.Format(l.LineTotalMinor, o.Currency),
		})
	}
	return v
}

func (h *Handlers) orderStatusView(o store.Order) views.OrderStatusView {
	return h.statusView(o.Token, o.Status, o.InvoiceNumber(), o.Email)
}

func (h *Handlers) statusView(token, status, number, email string) views.OrderStatusView {
	step := 1
	switch status {
	case store.OrderInvoiced:
		step = 2
	case store.OrderEmailed:
		step = 3
	}
	return views.OrderStatusView{
		Step: step, Number: number, Email: email, InvoiceURL: h.url("order.invoice", token),
	}
}

// orderInvoice sends the customer to their invoice through a signed
// link that works for five minutes; the page's own link never expires.
func (h *Handlers) orderInvoice(c echo.Context) error {
	o, err := h.Store.OrderGetByToken(c.Request().Context(), c.Param("token"))
	if err != nil {
		return err
	}
	return h.invoiceRedirect(c, o)
}

func (h *Handlers) invoiceRedirect(c echo.Context, o store.Order) error {
	if o.InvoiceKey == "" {
		return &Error{Status: http.StatusNotFound, Code: "invoice_pending",
			Message: "The invoice is not ready yet. This page will show it as soon as it is."}
	}
	link, err := h.Blob.DownloadURL(c.Request().Context(), o.InvoiceKey, "invoice-"+o.InvoiceNumber()+".pdf", 5*time.Minute)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Redirect(http.StatusSeeOther, link)
}

func taxLabel(bp int32) string {
	return fmt.Sprintf("VAT %s%%", strconv.FormatFloat(float64(bp)/100, 'f', -1, 64))
}
