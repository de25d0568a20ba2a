// Package jobs holds Keel's background work, run by River on the same
// PostgreSQL as the rest of the data. Jobs are inserted inside the
// transaction of the change that causes them (see Queue), and every
// worker is safe to run twice: River delivers at least once.
//
// Kind strings are stored in the river_job table. Never rename them.
package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"keel/mail"
	"keel/store"
)

// Queue names.
const (
	QueueDefault = river.QueueDefault
	QueueEmail   = "email"
)

// Queues lists every queue Keel works.
var Queues = []string{QueueDefault, QueueEmail}

// Mailer delivers one message; *mail.Sender is the real one.
type Mailer interface {
	Send(ctx context.Context, m mail.Message) error
}

// Deps are what the workers need.
type Deps struct {
	Store  *store.Store
	Mailer Mailer
}

// Options tune a working client.
type Options struct {
	Logger  *slog.Logger
	Workers int // jobs worked at once, across queues
}

// Workers registers every worker Keel has with its dependencies.
func Workers(d Deps) *river.Workers {
	w := river.NewWorkers()
	river.AddWorker(w, NewSendEmailWorker(d.Store, d.Mailer))
	return w
}

// NewClient returns a River client that works Keel's queues. Start it
// with Start and stop it with Stop.
func NewClient(pool *pgxpool.Pool, d Deps, o Options) (*river.Client[pgx.Tx], error) {
	emailWorkers := max(1, o.Workers/4)
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger:  o.Logger,
		Workers: Workers(d),
		Queues: map[string]river.QueueConfig{
			QueueDefault: {MaxWorkers: o.Workers},
			QueueEmail:   {MaxWorkers: emailWorkers},
		},
		JobTimeout: time.Minute,
		// A job whose worker died is worked again after this long.
		RescueStuckJobsAfter: 5 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return client, nil
}

// NewInserter returns an insert-only River client: it works nothing and
// is what request handlers use to enqueue.
func NewInserter(pool *pgxpool.Pool, logger *slog.Logger) (*river.Client[pgx.Tx], error) {
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger: logger,
	})
	if err != nil {
		return nil, fmt.Errorf("river inserter: %w", err)
	}
	return client, nil
}

// Queue enqueues Keel's jobs inside a caller's transaction. It
// implements store.Enqueuer.
type Queue struct {
	client *river.Client[pgx.Tx]
}

// NewQueue returns a Queue that inserts through client.
func NewQueue(client *river.Client[pgx.Tx]) *Queue {
	return &Queue{client: client}
}

// EnqueueEmail inserts the job that sends email id, inside tx.
func (q *Queue) EnqueueEmail(ctx context.Context, tx pgx.Tx, id int64) error {
	_, err := q.client.InsertTx(ctx, tx, SendEmailArgs{EmailID: id}, nil)
	return err
}
