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
	"github.com/riverqueue/river/rivertype"

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
	Orders OrderDeps
	// Blobs removes abandoned uploads.
	Blobs Deleter
}

// Options tune a working client.
type Options struct {
	Logger  *slog.Logger
	Workers int // jobs worked at once, across queues
	// RescueAfter is how long a job may run before it is taken for
	// abandoned (its worker died) and worked again.
	RescueAfter time.Duration
}

// Workers registers every worker Keel has with its dependencies.
func Workers(d Deps) *river.Workers {
	w := river.NewWorkers()
	river.AddWorker(w, NewSendEmailWorker(d.Store, d.Mailer))
	river.AddWorker(w, NewProcessOrderWorker(d.Store, d.Orders))
	river.AddWorker(w, NewRegenerateInvoiceWorker(d.Store, d.Orders))
	river.AddWorker(w, &PruneEventsWorker{store: d.Store})
	river.AddWorker(w, NewPublishPostWorker(d.Store))
	river.AddWorker(w, NewPruneUploadsWorker(d.Store, d.Blobs))
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
		// A job whose worker died is worked again after RescueAfter. A job
		// still running is cancelled well before that, so a slow live
		// job is never taken for a dead one.
		JobTimeout:           min(time.Minute, o.RescueAfter/2),
		RescueStuckJobsAfter: o.RescueAfter,
		ErrorHandler:         failures{store: d.Store, logger: o.Logger},
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
				func() (river.JobArgs, *river.InsertOpts) { return PruneEventsArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
				func() (river.JobArgs, *river.InsertOpts) { return PruneUploadsArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
		},
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

// EnqueueOrder inserts the job that works order id, inside tx.
func (q *Queue) EnqueueOrder(ctx context.Context, tx pgx.Tx, id int64) error {
	_, err := q.client.InsertTx(ctx, tx, ProcessOrderArgs{OrderID: id}, nil)
	return err
}

// EnqueueRegenerate inserts a new rendering of an order's invoice,
// inside tx.
func (q *Queue) EnqueueRegenerate(ctx context.Context, tx pgx.Tx, id int64) error {
	_, err := q.client.InsertTx(ctx, tx, RegenerateInvoiceArgs{OrderID: id}, nil)
	return err
}

// OrderJobs returns the jobs that worked on an order, newest first.
func (q *Queue) OrderJobs(ctx context.Context, id int64) ([]*rivertype.JobRow, error) {
	params := river.NewJobListParams().
		Kinds(OrderJobKinds...).
		Where("(args->>'order_id')::bigint = @order_id", river.NamedArgs{"order_id": id}).
		OrderBy(river.JobListOrderByID, river.SortOrderDesc).
		First(20)
	res, err := q.client.JobList(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("order %d jobs: %w", id, err)
	}
	return res.Jobs, nil
}

// EnqueueEmail inserts the job that sends email id, inside tx.
func (q *Queue) EnqueueEmail(ctx context.Context, tx pgx.Tx, id int64) error {
	_, err := q.client.InsertTx(ctx, tx, SendEmailArgs{EmailID: id}, nil)
	return err
}
