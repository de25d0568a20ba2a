package store_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"keel/jobs"
	"keel/markdown"
	"keel/store"
	"keel/testenv"
)

// newStore returns a store inside a transaction that is rolled back at
// the end of the test, enqueueing through a real River client.
func newStore(t *testing.T) (*store.Store, pgx.Tx) {
	t.Helper()
	tx := testenv.Tx(t)
	inserter, err := jobs.NewInserter(testenv.Pool(t), testenv.Logger(t))
	require.NoError(t, err)
	return store.New(tx, jobs.NewQueue(inserter)), tx
}

func contactRequest(email string) store.ContactRequest {
	return store.ContactRequest{
		Name:    "Jo Tester",
		Email:   email,
		Company: "Testing Ltd",
		Message: "We would like a quote for a new site.",
	}
}

func ack(l store.Lead) (store.OutgoingEmail, error) {
	return store.OutgoingEmail{
		DedupeKey: "contact_ack:lead:" + l.Email,
		Kind:      "contact_ack",
		To:        l.Email,
		Subject:   "Thanks",
		Text:      "Hello " + l.Name,
	}, nil
}

func TestContactCreate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tx := newStore(t)

	lead, err := s.ContactCreate(ctx, contactRequest("jo@example.com"), ack)
	require.NoError(t, err)
	require.Equal(t, store.LeadNew, lead.Status)
	require.Equal(t, store.SourceContactForm, lead.Source)

	got, err := s.LeadGetByID(ctx, lead.ID)
	require.NoError(t, err)
	require.Equal(t, lead, got)

	emails, err := s.EmailListByRecipient(ctx, "jo@example.com", 10)
	require.NoError(t, err)
	require.Len(t, emails, 1)
	require.Equal(t, store.EmailQueued, emails[0].Status)
	require.Equal(t, "contact_ack", emails[0].Kind)

	// The job that sends it is in the same transaction.
	var jobsFound int
	err = tx.QueryRow(ctx, `SELECT count(*) FROM river_job
		WHERE kind = $1 AND (args->>'email_id')::bigint = $2`,
		jobs.SendEmailArgs{}.Kind(), emails[0].ID).Scan(&jobsFound)
	require.NoError(t, err)
	require.Equal(t, 1, jobsFound)
}

func countLeads(t *testing.T, tx pgx.Tx, email string) int {
	t.Helper()
	var n int
	err := tx.QueryRow(context.Background(), "SELECT count(*) FROM leads WHERE email = $1", email).Scan(&n)
	require.NoError(t, err)
	return n
}

// When any part fails, nothing of the contact request is kept.
func TestContactCreateIsAtomic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tx := newStore(t)

	failing := func(store.Lead) (store.OutgoingEmail, error) {
		return store.OutgoingEmail{}, errors.New("template broke")
	}
	_, err := s.ContactCreate(ctx, contactRequest("atomic@example.com"), failing)
	require.ErrorContains(t, err, "template broke")

	// A second email for the same event violates the dedupe key.
	_, err = s.ContactCreate(ctx, contactRequest("dup@example.com"), func(l store.Lead) (store.OutgoingEmail, error) {
		e, _ := ack(l)
		e.DedupeKey = "fixed"
		return e, nil
	})
	require.NoError(t, err)
	_, err = s.ContactCreate(ctx, contactRequest("dup@example.com"), func(l store.Lead) (store.OutgoingEmail, error) {
		e, _ := ack(l)
		e.DedupeKey = "fixed"
		return e, nil
	})
	require.Error(t, err)

	require.Equal(t, 0, countLeads(t, tx, "atomic@example.com"))
	require.Equal(t, 1, countLeads(t, tx, "dup@example.com"), "only the complete request is stored")

	var emails int
	err = tx.QueryRow(ctx, "SELECT count(*) FROM emails WHERE recipient = 'atomic@example.com'").Scan(&emails)
	require.NoError(t, err)
	require.Zero(t, emails)
}

func TestLeadGetByIDNotFound(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)

	_, err := s.LeadGetByID(context.Background(), -1)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func queuedEmail(t *testing.T, s *store.Store, addr string) store.Email {
	t.Helper()
	_, err := s.ContactCreate(context.Background(), contactRequest(addr), ack)
	require.NoError(t, err)
	emails, err := s.EmailListByRecipient(context.Background(), addr, 1)
	require.NoError(t, err)
	return emails[0]
}

func TestEmailSendMarksSentOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	e := queuedEmail(t, s, "once@example.com")

	var sends atomic.Int32
	send := func(store.Email) error { sends.Add(1); return nil }

	require.NoError(t, s.EmailSend(ctx, e.ID, send))
	require.NoError(t, s.EmailSend(ctx, e.ID, send), "a retried job finds it sent")
	require.Equal(t, int32(1), sends.Load())

	got, err := s.EmailGetByID(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, store.EmailSent, got.Status)
	require.NotNil(t, got.SentAt)
	require.Equal(t, int32(1), got.Attempts)
}

func TestEmailSendRecordsFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	e := queuedEmail(t, s, "fail@example.com")

	err := s.EmailSend(ctx, e.ID, func(store.Email) error { return errors.New("smtp: connection refused") })
	require.ErrorContains(t, err, "connection refused")

	got, err := s.EmailGetByID(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, store.EmailFailed, got.Status)
	require.Equal(t, int32(1), got.Attempts)
	require.Contains(t, got.LastError, "connection refused")

	// The retry succeeds once SMTP is back.
	require.NoError(t, s.EmailSend(ctx, e.ID, func(store.Email) error { return nil }))
	got, err = s.EmailGetByID(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, store.EmailSent, got.Status)
	require.Equal(t, int32(2), got.Attempts)
	require.Empty(t, got.LastError)
}

// Two workers holding the same job at once send the email once: the
// second waits on the row lock and then finds it sent.
func TestEmailSendConcurrentWorkers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.Pool(t)
	// This test commits, so its email must not get a job: a worker in
	// another test could send it first.
	s := store.New(pool, noJobs{})

	addr := testenv.Unique("concurrent") + "@example.com"
	e := queuedEmail(t, s, addr)
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), "DELETE FROM leads WHERE email = $1", addr)
	})

	var sends atomic.Int32
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			require.NoError(t, s.EmailSend(ctx, e.ID, func(store.Email) error {
				sends.Add(1)
				return nil
			}))
		})
	}
	wg.Wait()
	require.Equal(t, int32(1), sends.Load())
}

func TestSeedIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tx := newStore(t)
	s = s.WithMarkdown(markdown.New(mediaBase))
	seeded := func() [2]int {
		var n [2]int
		err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM leads WHERE source = 'seed'),
			(SELECT count(*) FROM posts WHERE status = 'published' AND slug IN ('welcome', 'how-an-order-is-processed'))`).Scan(&n[0], &n[1])
		require.NoError(t, err)
		return n
	}

	require.NoError(t, s.Seed(ctx, fakeHash))
	first := seeded()
	require.Positive(t, first[0])
	require.Positive(t, first[1], "the blog has posts to read")
	require.NoError(t, s.Seed(ctx, fakeHash))
	require.Equal(t, first, seeded())
}

// noJobs enqueues nothing.
type noJobs struct{}

func (noJobs) EnqueueEmail(context.Context, pgx.Tx, int64) error { return nil }

// fakeHash stands in for argon2id where the hash's strength is not what
// the test is about.
func fakeHash(p string) (string, error) { return "plain:" + p, nil }

// The audit log pages newest first by (at, id), and each filter narrows
// it.
func TestAuditListPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	actor := testenv.Unique("auditor") + "@example.com"
	for i := range 5 {
		require.NoError(t, s.Audit(ctx, store.AuditEntry{
			ActorEmail: actor, Action: "test.step", Detail: map[string]any{"step": i},
		}))
	}

	first, err := s.AuditList(ctx, store.AuditFilter{ActorEmail: actor, Limit: 3})
	require.NoError(t, err)
	require.Len(t, first, 3)
	require.EqualValues(t, 4, first[0].Detail["step"], "newest first")

	last := first[len(first)-1]
	rest, err := s.AuditList(ctx, store.AuditFilter{
		ActorEmail: actor, Limit: 3, BeforeAt: last.At, BeforeID: last.ID,
	})
	require.NoError(t, err)
	require.Len(t, rest, 2)
	require.EqualValues(t, 1, rest[0].Detail["step"])

	none, err := s.AuditList(ctx, store.AuditFilter{ActorEmail: actor, Action: "other.action", Limit: 3})
	require.NoError(t, err)
	require.Empty(t, none)
}

func (noJobs) EnqueueOrder(context.Context, pgx.Tx, int64) error      { return nil }
func (noJobs) EnqueueRegenerate(context.Context, pgx.Tx, int64) error { return nil }
func (noJobs) EnqueuePublish(context.Context, pgx.Tx, int64, time.Time) (int64, error) {
	return 0, nil
}
func (noJobs) CancelJob(context.Context, pgx.Tx, int64) error { return nil }
