package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"keel/db"
)

// Email statuses.
const (
	EmailQueued = "queued"
	EmailSent   = "sent"
	EmailFailed = "failed"
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
// transaction once send returns nil. An email already sent is left
// alone and EmailSend returns nil. A failure of send is recorded on the
// row and returned, so the job is retried with backoff.
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
		if row.Status == EmailSent {
			return nil
		}

		sendErr = send(emailFromRow(row))
		if sendErr != nil {
			return q.EmailMarkFailed(ctx, db.EmailMarkFailedParams{
				ID:        id,
				LastError: truncate(sendErr.Error(), 500),
			})
		}
		return q.EmailMarkSent(ctx, id)
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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
