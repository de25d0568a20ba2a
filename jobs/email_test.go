package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"keel/jobs"
	"keel/mail"
	"keel/store"
	"keel/testenv"
)

// setup returns a store in a rolled-back transaction and a test worker
// that sends through the SMTP server at smtpAddr.
func setup(t *testing.T, smtpAddr string) (*store.Store, pgx.Tx, *rivertest.Worker[jobs.SendEmailArgs, pgx.Tx]) {
	t.Helper()
	tx := testenv.Tx(t)
	inserter, err := jobs.NewInserter(testenv.Pool(t), testenv.Logger(t))
	require.NoError(t, err)
	s := store.New(tx, jobs.NewQueue(inserter))

	sender, err := mail.NewSender(mail.Config{
		Addr:    smtpAddr,
		TLS:     "none",
		Timeout: 5 * time.Second,
		From:    "Keel <hello@keel.localhost>",
		Domain:  "keel.localhost",
	})
	require.NoError(t, err)

	w := rivertest.NewWorker(t, riverpgxv5.New(nil), &river.Config{}, jobs.NewSendEmailWorker(s, sender))
	return s, tx, w
}

func queue(t *testing.T, s *store.Store, addr string) store.Email {
	t.Helper()
	ctx := context.Background()
	_, err := s.ContactCreate(ctx, store.ContactRequest{
		Name: "Jo", Email: addr, Message: "Please call me back about a project.",
	}, func(l store.Lead) (store.OutgoingEmail, error) {
		content, err := mail.ContactAck(l.Name, "http://127.0.0.1:8080")
		return store.OutgoingEmail{
			DedupeKey: "contact_ack:" + addr, Kind: "contact_ack", To: addr,
			Subject: content.Subject, Text: content.Text, HTML: content.HTML,
		}, err
	})
	require.NoError(t, err)
	emails, err := s.EmailListByRecipient(ctx, addr, 1)
	require.NoError(t, err)
	return emails[0]
}

func TestSendEmailDelivers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tx, w := setup(t, testenv.Getenv("KEEL_SMTP_ADDR"))
	addr := testenv.Unique("deliver") + "@example.com"
	e := queue(t, s, addr)

	res, err := w.Work(ctx, t, tx, jobs.SendEmailArgs{EmailID: e.ID}, nil)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)

	// Worked again (a retry after a lost acknowledgement), it sends
	// nothing more.
	res, err = w.Work(ctx, t, tx, jobs.SendEmailArgs{EmailID: e.ID}, nil)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)

	msgs := testenv.MailTo(t, addr, 5*time.Second)
	require.Len(t, msgs, 1)
	require.Equal(t, "We received your message", msgs[0].Subject)
	require.Contains(t, msgs[0].Text, "Hello Jo")

	got, err := s.EmailGetByID(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, store.EmailSent, got.Status)
}

// With SMTP down the job fails and is retried later; the email stays
// queued for it, and the lead is kept.
func TestSendEmailSMTPDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	down := testenv.NewProxy(t, testenv.Getenv("KEEL_SMTP_ADDR"))
	down.Cut()
	s, tx, w := setup(t, down.Addr())
	addr := testenv.Unique("down") + "@example.com"
	e := queue(t, s, addr)

	res, err := w.Work(ctx, t, tx, jobs.SendEmailArgs{EmailID: e.ID}, nil)
	require.Error(t, err)
	require.Equal(t, river.EventKindJobFailed, res.EventKind)
	require.Len(t, res.Job.Errors, 1)
	require.True(t, res.Job.ScheduledAt.After(time.Now()), "retried later, with backoff")

	got, err := s.EmailGetByID(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, store.EmailFailed, got.Status)
	require.NotEmpty(t, got.LastError)

	// SMTP comes back: the retry delivers.
	down.Restore()
	res, err = w.WorkJob(ctx, t, tx, res.Job)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)
	require.Len(t, testenv.MailTo(t, addr, 5*time.Second), 1)
}

// A sensitive email (a password link) keeps its body only until sent.
func TestSendEmailErasesSensitiveBody(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tx, w := setup(t, testenv.Getenv("KEEL_SMTP_ADDR"))
	addr := testenv.Unique("secret") + "@example.com"
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO emails (dedupe_key, kind, recipient, subject, body_text, body_html, sensitive)
		VALUES ($1, 'password_link', $2, 'Your link', 'open /password/reset/SECRET', '<a>SECRET</a>', true)
		RETURNING id`, "test:"+addr, addr).Scan(&id)
	require.NoError(t, err)

	_, err = w.Work(ctx, t, tx, jobs.SendEmailArgs{EmailID: id}, nil)
	require.NoError(t, err)
	msgs := testenv.MailTo(t, addr, 5*time.Second)
	require.Len(t, msgs, 1)
	require.Contains(t, msgs[0].Text, "SECRET", "the recipient got the link")

	got, err := s.EmailGetByID(ctx, id)
	require.NoError(t, err)
	require.NotContains(t, got.Text, "SECRET")
	require.Empty(t, got.HTML)
}
