package store

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"keel/db"
)

// Email statuses. Failed emails are tried again; uncertain and rejected
// ones are not (see EmailSend).
const (
	EmailQueued    = "queued"
	EmailSent      = "sent"
	EmailFailed    = "failed"
	EmailUncertain = "uncertain"
	EmailRejected  = "rejected"
)

// Errors a send function returns (wrapped) to say what became of a
// message whose sending failed.
var (
	// ErrDeliveryUncertain means the server had the whole message but
	// its answer never came: it may have been delivered. Sending again
	// could deliver it twice.
	ErrDeliveryUncertain = errors.New("delivery uncertain")
	// ErrDeliveryRejected means the server refused the message for good
	// (a 5xx answer): sending again would be refused again.
	ErrDeliveryRejected = errors.New("delivery rejected")
)

// OutgoingEmail is a message to queue. DedupeKey names the business
// event behind it ("contact_ack:lead:42"); a second email for the same
// key is refused by the database.
type OutgoingEmail struct {
	DedupeKey string
	Kind      string
	To        string
	Subject   string
	Text      string
	HTML      string
	// Sensitive bodies (a password link) are erased once sent.
	Sensitive bool
}

// Email is the record of one message Keel sends.
type Email struct {
	ID        int64
	DedupeKey string
	Kind      string
	To        string
	Subject   string
	Text      string
	HTML      string
	Status    string
	Attempts  int32
	LastError string
	CreatedAt time.Time
	SentAt    *time.Time
}

// queueEmail records e and enqueues the job that sends it, inside tx.
func (s *Store) queueEmail(ctx context.Context, tx pgx.Tx, q *db.Queries, e OutgoingEmail) error {
	row, err := q.EmailCreate(ctx, db.EmailCreateParams{
		DedupeKey: e.DedupeKey,
		Kind:      e.Kind,
		Recipient: e.To,
		Subject:   e.Subject,
		BodyText:  e.Text,
		BodyHtml:  e.HTML,
		Sensitive: e.Sensitive,
	})
	if err != nil {
		return fmt.Errorf("insert email %s: %w", e.DedupeKey, err)
	}
	if err := s.queue.EnqueueEmail(ctx, tx, row.ID); err != nil {
		return fmt.Errorf("enqueue email %d: %w", row.ID, err)
	}
	return nil
}

// EmailSend delivers one queued email through send, at most once per
// row. The row is locked for the duration, so two workers holding the
// same job cannot both send it, and it is marked sent in the same
// transaction once send returns nil. A failure of send is recorded on
// the row and returned, so the job is retried with backoff, except:
//
//   - ErrDeliveryUncertain (the server had the message and went quiet):
//     the row is marked uncertain and EmailSend returns nil. The
//     message was most likely delivered; sending it again on every
//     retry of a slow server is what at-most-once forbids. Staff can
//     resend by hand.
//   - ErrDeliveryRejected: the row is marked rejected and the error is
//     returned for the caller to stop retrying.
//
// An email already sent or uncertain is left alone and EmailSend
// returns nil; one rejected returns ErrDeliveryRejected again.
//
// One window remains: if the process dies after the SMTP server accepted
// the message but before the commit, the retry sends it again. The
// message id is derived from the row, so mail clients fold such a
// duplicate into one.
func (s *Store) EmailSend(ctx context.Context, id int64, send func(Email) error) error {
	var sendErr error
	err := s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		row, err := q.EmailGetForSend(ctx, id)
		if err != nil {
			return fmt.Errorf("lock email %d: %w", id, err)
		}
		switch row.Status {
		case EmailSent, EmailUncertain:
			return nil
		case EmailRejected:
			sendErr = fmt.Errorf("email %d: %w: %s", id, ErrDeliveryRejected, row.LastError)
			return nil
		}

		sendErr = send(emailFromRow(row))
		switch {
		case sendErr == nil:
			return q.EmailMarkSent(ctx, id)
		case errors.Is(sendErr, ErrDeliveryUncertain):
			err := q.EmailMarkSettled(ctx, db.EmailMarkSettledParams{
				ID: id, Status: EmailUncertain, LastError: truncate(sendErr.Error(), 500),
			})
			sendErr = nil
			return err
		case errors.Is(sendErr, ErrDeliveryRejected):
			return q.EmailMarkSettled(ctx, db.EmailMarkSettledParams{
				ID: id, Status: EmailRejected, LastError: truncate(sendErr.Error(), 500),
			})
		}
		return q.EmailMarkFailed(ctx, db.EmailMarkFailedParams{
			ID:        id,
			LastError: truncate(sendErr.Error(), 500),
		})
	})
	return errors.Join(sendErr, err)
}

// EmailGetByID returns one email record, or ErrNotFound.
func (s *Store) EmailGetByID(ctx context.Context, id int64) (Email, error) {
	row, err := s.q.EmailGetByID(ctx, id)
	if err != nil {
		return Email{}, classify(fmt.Errorf("get email %d: %w", id, err))
	}
	return emailFromRow(row), nil
}

// EmailListByRecipient returns the newest emails sent to addr.
func (s *Store) EmailListByRecipient(ctx context.Context, addr string, limit int32) ([]Email, error) {
	rows, err := s.q.EmailListByRecipient(ctx, db.EmailListByRecipientParams{
		Recipient: addr,
		Limit:     limit,
	})
	if err != nil {
		return nil, classify(fmt.Errorf("list emails: %w", err))
	}
	return mapRows(rows, emailFromRow), nil
}

func emailFromRow(r db.Email) Email {
	return Email{
		ID:        r.ID,
		DedupeKey: r.DedupeKey,
		Kind:      r.Kind,
		To:        r.Recipient,
		Subject:   r.Subject,
		Text:      r.BodyText,
		HTML:      r.BodyHtml,
		Status:    r.Status,
		Attempts:  r.Attempts,
		LastError: r.LastError,
		CreatedAt: r.CreatedAt,
		SentAt:    r.SentAt,
	}
}

// truncate cuts s to at most n bytes, at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
