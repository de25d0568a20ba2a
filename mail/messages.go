package mail

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"keel/money"
	"keel/store"
	"keel/views"
)

// Content is a rendered message: subject and both bodies.
type Content struct {
	Subject string
	Text    string
	HTML    string
}

// ContactAck thanks a visitor for a contact request.
func ContactAck(name, siteURL string) (Content, error) {
	var html bytes.Buffer
	if err := views.ContactAckEmail(name, siteURL).Render(context.Background(), &html); err != nil {
		return Content{}, fmt.Errorf("render contact acknowledgement: %w", err)
	}

	text := fmt.Sprintf(`Hello %s,

Thank you for writing to Keel. We have your message, and someone from
our team will reply within one working day.

The Keel team
%s
`, name, siteURL)

	return Content{
		Subject: "We received your message",
		Text:    text,
		HTML:    html.String(),
	}, nil
}

// PasswordLink carries a link to choose a password: for a new user
// (welcome) or a reset.
func PasswordLink(name, link string, valid time.Duration, welcome bool) (Content, error) {
	subject, intro := "Reset your Keel password", "Someone asked to reset the password of your Keel account."
	if welcome {
		subject, intro = "Welcome to Keel: choose your password", "An account on the Keel portal was created for you."
	}

	var html bytes.Buffer
	if err := views.PasswordLinkEmail(name, intro, link, valid.String()).Render(context.Background(), &html); err != nil {
		return Content{}, fmt.Errorf("render password link email: %w", err)
	}

	text := fmt.Sprintf(`Hello %s,

%s

Choose your password here (the link works once, for %s):
%s

If you did not expect this email, ignore it: nothing changes until the
link is used.

The Keel team
`, name, intro, valid, link)

	return Content{Subject: subject, Text: text, HTML: html.String()}, nil
}

// OrderConfirmation tells a customer their order is in, with the link to
// its status page and invoice.
func OrderConfirmation(o store.Order, statusURL string) Content {
	var lines strings.Builder
	for _, l := range o.Lines {
		fmt.Fprintf(&lines, "  %d x %s  %s\n", l.Quantity, l.Name, money.Format(l.LineTotalMinor, o.Currency))
	}
	text := fmt.Sprintf(`Hello %s,

Thank you for your order. Your invoice %s is ready:
%s

%s
Total, VAT included: %s

The Keel team
`, o.Name, o.InvoiceNumber(), statusURL, lines.String(), money.Format(o.TotalMinor, o.Currency))
	return Content{Subject: "Your order " + o.InvoiceNumber() + " is confirmed", Text: text}
}

// OrderStaffNotice tells staff of a new order.
func OrderStaffNotice(o store.Order, adminURL string) Content {
	text := fmt.Sprintf("New order %s from %s <%s>, %s.\n%s\n",
		o.InvoiceNumber(), o.Name, o.Email, money.Format(o.TotalMinor, o.Currency), adminURL)
	return Content{Subject: "New order " + o.InvoiceNumber(), Text: text}
}
