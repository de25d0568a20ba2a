package handlers

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	keelmail "keel/mail"
	"keel/ratelimit"
	"keel/store"
	"keel/views"
)

const contactTitle = "Contact us"

func (h *Handlers) contactNew(c echo.Context) error {
	f := views.ContactForm{Action: h.url("contact.create"), CSRF: csrfToken(c)}
	return render(c, http.StatusOK, views.ContactPage(h.contactPage(c), f))
}

func (h *Handlers) contactThanks(c echo.Context) error {
	return render(c, http.StatusOK, views.ContactSentPage(h.contactPage(c), views.ContactSent{}))
}

// contactCreate turns a valid contact request into a lead and queues
// its acknowledgement. Order matters: the honeypot and validation cost
// nothing and store nothing; only a request that would create a lead is
// counted against the per-IP limit.
func (h *Handlers) contactCreate(c echo.Context) error {
	ctx := c.Request().Context()
	req := contactRequestFrom(c)

	if postValue(c, "website") != "" {
		// A bot filled the hidden field. It gets the same answer as a
		// person, so it learns nothing; nothing is stored.
		h.Metrics.Event("contact_honeypot")
		h.Logger.InfoContext(ctx, "contact honeypot filled", "client_ip", c.RealIP())
		return h.contactDone(c, req)
	}

	if errs := validateContact(req); len(errs) > 0 {
		return h.contactForm(c, http.StatusUnprocessableEntity, req, errs, "")
	}

	if d := h.allow(c, h.ContactRule, "contact"); !d.Allowed {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.RetryAfter.Seconds()))))
		notice := "You have sent several requests in a short time. Please try again later, or email us directly."
		return h.contactForm(c, http.StatusTooManyRequests, req, nil, notice)
	}

	_, err := h.Store.ContactCreate(ctx, req, h.contactAck)
	if err != nil {
		return fmt.Errorf("create contact lead: %w", err)
	}
	return h.contactDone(c, req)
}

// allow takes one request of the client's allowance under rule. When
// Redis is down the request goes through and the outage is counted: a
// customer's form is worth more than a perfect limit.
func (h *Handlers) allow(c echo.Context, rule ratelimit.Rule, what string) ratelimit.Decision {
	ctx := c.Request().Context()
	d, err := h.Limiter.Allow(ctx, rule, ratelimit.ClientKey(c.RealIP()))
	if err != nil {
		h.Metrics.Event("ratelimit_unavailable")
		h.Logger.WarnContext(ctx, what+" rate limit unavailable", "error", err)
		return ratelimit.Decision{Allowed: true}
	}
	if !d.Allowed {
		h.Metrics.Event(what + "_rate_limited")
	}
	return d
}

// contactAck builds the acknowledgement email for a new lead.
func (h *Handlers) contactAck(lead store.Lead) (store.OutgoingEmail, error) {
	content, err := keelmail.ContactAck(lead.Name, h.BaseURL)
	if err != nil {
		return store.OutgoingEmail{}, err
	}
	return store.OutgoingEmail{
		DedupeKey: "contact_ack:lead:" + strconv.FormatInt(lead.ID, 10),
		Kind:      "contact_ack",
		To:        lead.Email,
		Subject:   content.Subject,
		Text:      content.Text,
		HTML:      content.HTML,
	}, nil
}

// contactDone answers an accepted request: htmx swaps a thank-you in
// place of the form; a plain form post is redirected, so reloading the
// page cannot post it twice.
func (h *Handlers) contactDone(c echo.Context, req store.ContactRequest) error {
	if isHTMX(c) {
		sent := views.ContactSent{Name: req.Name, Email: req.Email}
		return render(c, http.StatusOK, views.ContactSentFragment(sent))
	}
	return c.Redirect(http.StatusSeeOther, h.url("contact.thanks"))
}

func (h *Handlers) contactForm(c echo.Context, status int, req store.ContactRequest, errs map[string]string, notice string) error {
	f := views.ContactForm{
		Action:  h.url("contact.create"),
		CSRF:    csrfToken(c),
		Name:    req.Name,
		Email:   req.Email,
		Phone:   req.Phone,
		Company: req.Company,
		Message: req.Message,
		Errors:  errs,
		Notice:  notice,
	}
	if isHTMX(c) {
		return render(c, status, views.ContactFormFragment(f))
	}
	return render(c, status, views.ContactPage(h.contactPage(c), f))
}

func (h *Handlers) contactPage(c echo.Context) views.Page {
	return h.page(c, contactTitle, "Tell Keel about your project.", "contact.new")
}

func contactRequestFrom(c echo.Context) store.ContactRequest {
	return store.ContactRequest{
		Name:    strings.TrimSpace(postValue(c, "name")),
		Email:   strings.TrimSpace(postValue(c, "email")),
		Phone:   strings.TrimSpace(postValue(c, "phone")),
		Company: strings.TrimSpace(postValue(c, "company")),
		Message: strings.TrimSpace(postValue(c, "message")),
	}
}

// validateContact returns a message for each field that needs fixing,
// keyed by the field's form name. Limits match the table's checks.
func validateContact(r store.ContactRequest) map[string]string {
	errs := map[string]string{}

	switch n := utf8.RuneCountInString(r.Name); {
	case n == 0:
		errs["name"] = "Please tell us your name."
	case n > 200:
		errs["name"] = "Please shorten your name to 200 characters."
	case badText(r.Name, false), strings.Contains(r.Name, "://"), strings.Contains(strings.ToLower(r.Name), "www."):
		// The name is repeated in the email Keel sends to the address
		// given; it must be a name, not a message or a link.
		errs["name"] = "Please give just your name, without links or special characters."
	}

	switch {
	case r.Email == "":
		errs["email"] = "Please give an email address so we can reply."
	case len(r.Email) > 254 || !plainAddress(r.Email):
		errs["email"] = "This does not look like an email address (name@example.com)."
	}

	switch {
	case utf8.RuneCountInString(r.Phone) > 40:
		errs["phone"] = "Please shorten the phone number to 40 characters."
	case strings.Trim(r.Phone, "0123456789+-() .") != "":
		errs["phone"] = "Use digits, spaces and + - ( ) only."
	}

	switch {
	case utf8.RuneCountInString(r.Company) > 200:
		errs["company"] = "Please shorten the company name to 200 characters."
	case badText(r.Company, false):
		errs["company"] = "Please remove the special characters from the company name."
	}

	switch n := utf8.RuneCountInString(r.Message); {
	case badText(r.Message, true):
		errs["message"] = "Your message contains characters we cannot store; please retype it."
	case n < 10:
		errs["message"] = "Please tell us a little more (at least 10 characters)."
	case n > 5000:
		errs["message"] = fmt.Sprintf("Please shorten your message to 5,000 characters (it has %d).", n)
	}

	return errs
}
