// Package store is Keel's access to PostgreSQL. It runs the queries sqlc
// generates in package db, turns their rows into Keel's own types and
// turns driver errors into the errors below, so that nothing above it
// imports pgx.
package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"keel/cache"
	"keel/db"
	"keel/markdown"
)

// Errors returned by store methods. Wrapped errors keep their context;
// test with errors.Is.
var (
	// ErrNotFound means the row asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrUnavailable means PostgreSQL could not be reached or did not
	// answer in time. The request may succeed later.
	ErrUnavailable = errors.New("database unavailable")
)

// Conn is what the store needs from a pool or a transaction: queries
// plus Begin, which on a transaction opens a savepoint. Tests hand the
// store a transaction they roll back.
type Conn interface {
	db.DBTX
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Enqueuer inserts background jobs inside the caller's transaction, so
// a job exists exactly when the change that caused it commits.
type Enqueuer interface {
	EnqueueEmail(ctx context.Context, tx pgx.Tx, emailID int64) error
	EnqueueOrder(ctx context.Context, tx pgx.Tx, orderID int64) error
	EnqueueRegenerate(ctx context.Context, tx pgx.Tx, orderID int64) error
	// EnqueuePublish schedules the publication of a post at at and
	// returns the job's id, which CancelJob takes.
	EnqueuePublish(ctx context.Context, tx pgx.Tx, postID int64, at time.Time) (int64, error)
	CancelJob(ctx context.Context, tx pgx.Tx, jobID int64) error
}

// Store runs Keel's queries on one connection source.
type Store struct {
	conn  Conn
	q     *db.Queries
	queue Enqueuer
	cache *cache.Cache // nil: every read goes to PostgreSQL
	// notify tells the servers' live hubs that events were committed;
	// nil tells no one (they find the events on their next poll).
	notify func(context.Context)
	md     *markdown.Renderer
}

// New returns a Store on conn that enqueues follow-up jobs through queue.
func New(conn Conn, queue Enqueuer) *Store {
	return &Store{conn: conn, q: db.New(conn), queue: queue}
}

// WithCache returns a copy of s that serves hot reads (users, the
// dashboard) through c and invalidates them on every write that affects
// them.
func (s *Store) WithCache(c *cache.Cache) *Store {
	cp := *s
	cp.cache = c
	return &cp
}

// WithSignal returns a copy of s that calls notify after committing
// events, so live streams deliver them at once.
func (s *Store) WithSignal(notify func(context.Context)) *Store {
	cp := *s
	cp.notify = notify
	return &cp
}

// signal tells the live hubs that events were committed. Call it after
// the commit and after invalidating cached keys, so a stream that reads
// on the signal sees the change.
func (s *Store) signal(ctx context.Context) {
	if s.notify != nil {
		s.notify(ctx)
	}
}

// Cached keys. A write that changes what a key holds deletes it after
// the write commits.
var dashboardKey = cache.Key{Family: "dashboard", ID: "leads"}

func userKey(id int64) cache.Key {
	return cache.Key{Family: "user", ID: strconv.FormatInt(id, 10)}
}

// invalidate deletes cached keys after a committed write.
func (s *Store) invalidate(ctx context.Context, keys ...cache.Key) {
	if s.cache != nil {
		s.cache.Delete(ctx, keys...)
	}
}

// inTx runs fn in a transaction (a savepoint when the store itself runs
// on a transaction) and commits when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx, *db.Queries) error) error {
	tx, err := s.conn.Begin(ctx)
	if err != nil {
		return classify(fmt.Errorf("begin: %w", err))
	}
	defer func() { _ = tx.Rollback(ctx) }()

	if err := fn(tx, s.q.WithTx(tx)); err != nil {
		return classify(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return classify(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// classify maps driver errors onto the store's sentinel errors while
// keeping the original in the chain for logs.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if isUniqueViolation(err) {
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	if unreachable(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

func unreachable(err error) bool {
	var (
		connErr *pgconn.ConnectError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &connErr), errors.As(err, &netErr):
		return true
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, pgconn.ErrConnClosed):
		return true
	case pgconn.SafeToRetry(err):
		return true
	}
	return false
}

// Ping checks that PostgreSQL answers.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.conn.Exec(ctx, "SELECT 1")
	return classify(err)
}

// mapRows converts query rows to the store's types.
func mapRows[R, T any](rows []R, conv func(R) T) []T {
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i] = conv(r)
	}
	return out
}
