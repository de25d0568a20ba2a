// Package mail delivers Keel's email over SMTP and builds the messages
// Keel sends. Delivery is driven by the send_email job; every message is
// first recorded by the store, which keeps sends idempotent.
package mail

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"

	"keel/store"
)

// Config says how to reach the SMTP server.
type Config struct {
	Addr     string // host:port
	Username string // empty: no authentication
	Password string
	TLS      string // none, starttls or tls
	Timeout  time.Duration
	From     string
	// Domain is the right-hand side of every Message-ID Keel sets.
	Domain string
}

// Message is one email to deliver.
type Message struct {
	// ID is stable across retries of the same email, so that a resend
	// after a crash carries the same Message-ID.
	ID      string
	To      string
	Subject string
	Text    string
	HTML    string
}

// Sender delivers messages over SMTP. It opens one connection a message:
// Keel's mail volume is small and this keeps no connection state to
// repair after the server restarts.
type Sender struct {
	cfg  Config
	host string
	port int
}

// NewSender checks cfg and returns a Sender.
func NewSender(cfg Config) (*Sender, error) {
	host, portStr, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("smtp address %q: %w", cfg.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("smtp port %q: %w", portStr, err)
	}
	return &Sender{cfg: cfg, host: host, port: port}, nil
}

// Send delivers m, bounded by the configured timeout and by ctx.
func (s *Sender) Send(ctx context.Context, m Message) error {
	msg, err := s.build(m)
	if err != nil {
		return err
	}

	client, err := gomail.NewClient(s.host, s.options()...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}

	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	err = client.DialAndSendWithContext(ctx, msg)
	if err != nil && !msg.IsDelivered() {
		return fmt.Errorf("smtp send to %s: %w", s.cfg.Addr, classify(err))
	}
	// Once the server has answered the message with 250 it is sent: a
	// failed RSET or QUIT afterwards changes nothing, and trying again
	// would send it twice.
	return nil
}

// classify marks what a failed send means for trying again: a message
// the server had whole without answering may have been delivered
// (store.ErrDeliveryUncertain); a 5xx answer is final
// (store.ErrDeliveryRejected). Anything else is worth another try.
func classify(err error) error {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return err
	}
	code := se.ErrorCode()
	switch {
	case se.Reason == gomail.ErrSMTPDataClose && code == 0:
		// The final "." went out and no reply code came back.
		return fmt.Errorf("%w: %w", store.ErrDeliveryUncertain, err)
	case code >= 500 && code < 600:
		return fmt.Errorf("%w: %w", store.ErrDeliveryRejected, err)
	}
	return err
}

func (s *Sender) build(m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return nil, fmt.Errorf("from address: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("to address: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageIDWithValue(m.ID + "@" + s.cfg.Domain)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

func (s *Sender) options() []gomail.Option {
	opts := []gomail.Option{
		gomail.WithPort(s.port),
		gomail.WithTimeout(s.cfg.Timeout),
	}
	switch s.cfg.TLS {
	case "tls":
		opts = append(opts, gomail.WithSSL())
	case "starttls":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.cfg.Username != "" {
		opts = append(opts,
			gomail.WithSMTPAuth(gomail.SMTPAuthPlain),
			gomail.WithUsername(s.cfg.Username),
			gomail.WithPassword(s.cfg.Password),
		)
	}
	return opts
}
