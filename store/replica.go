package store

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Reads chooses where reports and exports read: the replica while it
// keeps up, the primary when it lags past a bound or cannot say how far
// behind it is. Reads that must see the reader's own writes use the
// primary store directly, never Reads.
type Reads struct {
	primary, replica *Store
	maxLag           time.Duration
	logger           *slog.Logger
	// Fallback is told each time a read goes to the primary instead,
	// with why ("lag" or "unreachable"); Lag of each measurement.
	Fallback func(reason string)
	Lag      func(time.Duration)

	mu        sync.Mutex
	checkedAt time.Time
	behind    string // why the replica is not used; "" while it keeps up
}

// replicaCheckEvery is how long one lag measurement stands.
const replicaCheckEvery = time.Second

// NewReads returns the chooser; a nil replica means every read goes to
// the primary, silently.
func NewReads(primary, replica *Store, maxLag time.Duration, logger *slog.Logger) *Reads {
	return &Reads{primary: primary, replica: replica, maxLag: maxLag, logger: logger,
		Fallback: func(string) {}, Lag: func(time.Duration) {}}
}

// Store returns the store a report should read from now.
func (r *Reads) Store(ctx context.Context) *Store {
	if r.replica == nil {
		return r.primary
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checkedAt) >= replicaCheckEvery {
		r.check(ctx)
	}
	if r.behind != "" {
		r.Fallback(r.behind)
		return r.primary
	}
	return r.replica
}

// check measures the replica's lag, logging when it starts or stops
// being used.
func (r *Reads) check(ctx context.Context) {
	r.checkedAt = time.Now()
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	lag, err := r.replica.ReplicaLag(cctx)
	behind := ""
	switch {
	case err != nil:
		behind = "unreachable"
	case lag > r.maxLag:
		behind = "lag"
	}
	if err == nil {
		r.Lag(lag)
	}
	switch {
	case behind != "" && r.behind == "":
		r.logger.WarnContext(ctx, "replica not used: reads go to the primary",
			"reason", behind, "lag", lag.String(), "max_lag", r.maxLag.String(), "error", err)
	case behind == "" && r.behind != "":
		r.logger.InfoContext(ctx, "replica caught up: reads go to it again", "lag", lag.String())
	}
	r.behind = behind
}

// ReplicaLag says how far behind the primary this store's database is:
// zero on a primary, or on a replica that has replayed all it received;
// otherwise the time since the last transaction it replayed.
func (s *Store) ReplicaLag(ctx context.Context) (time.Duration, error) {
	var seconds float64
	err := s.conn.QueryRow(ctx, `SELECT CASE
		WHEN NOT pg_is_in_recovery() THEN 0
		WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
		ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)
	END::float8`).Scan(&seconds)
	if err != nil {
		return 0, classify(err)
	}
	return time.Duration(seconds * float64(time.Second)), nil
}
