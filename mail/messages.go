package mail

import (
	"bytes"
	"context"
	"fmt"

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
