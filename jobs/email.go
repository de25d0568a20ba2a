package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/riverqueue/river"

	"keel/mail"
	"keel/store"
)

// SendEmailArgs sends one email recorded in the emails table.
type SendEmailArgs struct {
	EmailID int64 `json:"email_id"`
}

// Kind is stored with every job. Never rename it.
func (SendEmailArgs) Kind() string { return "send_email" }

// InsertOpts puts email on its own queue, so a slow SMTP server cannot
// hold up other work, and refuses a second job for the same email.
func (SendEmailArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueEmail,
		MaxAttempts: 12,
		UniqueOpts:  river.UniqueOpts{ByArgs: true},
	}
}

// SendEmailWorker delivers a queued email. The store locks the email
// row while sending and marks it sent in the same transaction, so a
// retried or duplicated job never sends it twice; an SMTP failure
// returns an error and River retries with backoff.
type SendEmailWorker struct {
	river.WorkerDefaults[SendEmailArgs]

	store  *store.Store
	mailer Mailer
}

// NewSendEmailWorker returns the worker that sends emails recorded in s
// through m.
func NewSendEmailWorker(s *store.Store, m Mailer) *SendEmailWorker {
	return &SendEmailWorker{store: s, mailer: m}
}

// Work sends the email unless it has already gone out.
func (w *SendEmailWorker) Work(ctx context.Context, job *river.Job[SendEmailArgs]) error {
	err := w.store.EmailSend(ctx, job.Args.EmailID, func(e store.Email) error {
		return w.mailer.Send(ctx, mail.Message{
			ID:      "email-" + strconv.FormatInt(e.ID, 10),
			To:      e.To,
			Subject: e.Subject,
			Text:    e.Text,
			HTML:    e.HTML,
		})
	})
	if errors.Is(err, store.ErrDeliveryRejected) {
		// Refused for good: no retry would be accepted.
		return river.JobCancel(fmt.Errorf("send email %d: %w", job.Args.EmailID, err))
	}
	if err != nil {
		return fmt.Errorf("send email %d: %w", job.Args.EmailID, err)
	}
	return nil
}
