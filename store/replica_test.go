package store_test

import (
	"context"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"keel/store"
	"keel/testenv"
)

// replicaStore is a store on the test profile's streaming replica,
// through a proxy that can be cut.
func replicaStore(t *testing.T) (*store.Store, *pgxpool.Pool, *testenv.Proxy) {
	t.Helper()
	u, err := url.Parse(testenv.Getenv("KEEL_TEST_REPLICA_URL"))
	require.NoError(t, err)
	proxy := testenv.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	pool, err := pgxpool.New(context.Background(), u.String())
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	require.NoError(t, pool.Ping(context.Background()), "the test services run a replica")
	return store.New(pool, nil), pool, proxy
}

type fallbacks struct {
	mu      sync.Mutex
	reasons []string
}

func (f *fallbacks) add(reason string) {
	f.mu.Lock()
	f.reasons = append(f.reasons, reason)
	f.mu.Unlock()
}
func (f *fallbacks) last() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reasons) == 0 {
		return ""
	}
	return f.reasons[len(f.reasons)-1]
}

// Reports read the replica while it keeps up; when its replay falls
// behind past the bound, or it cannot be reached, they read the
// primary, and say so; once it catches up they go back to it.
func TestReadsFollowReplicaLag(t *testing.T) {
	ctx := context.Background()
	primary := store.New(testenv.Pool(t), nil)
	replica, replicaPool, proxy := replicaStore(t)
	lag, err := primary.ReplicaLag(ctx)
	require.NoError(t, err)
	require.Zero(t, lag, "a primary is behind nothing")

	var fell fallbacks
	reads := store.NewReads(primary, replica, time.Second, testenv.Logger(t))
	reads.Fallback = fell.add
	require.Same(t, replica, reads.Store(ctx))

	// Replay paused, a write on the primary leaves the replica behind.
	_, err = replicaPool.Exec(ctx, "SELECT pg_wal_replay_pause()")
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = replicaPool.Exec(context.Background(), "SELECT pg_wal_replay_resume()") })
	require.NoError(t, primary.Audit(ctx, store.AuditEntry{ActorEmail: "replica-test", Action: "test.replica_lag"}))
	require.Eventually(t, func() bool { return reads.Store(ctx) == primary }, 10*time.Second, 100*time.Millisecond)
	require.Equal(t, "lag", fell.last())

	_, err = replicaPool.Exec(ctx, "SELECT pg_wal_replay_resume()")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return reads.Store(ctx) == replica }, 10*time.Second, 100*time.Millisecond,
		"back to the replica once it caught up")

	proxy.Cut()
	require.Eventually(t, func() bool { return reads.Store(ctx) == primary }, 10*time.Second, 100*time.Millisecond)
	require.Equal(t, "unreachable", fell.last())
	proxy.Restore()
	require.Eventually(t, func() bool { return reads.Store(ctx) == replica }, 10*time.Second, 100*time.Millisecond)
}

// Without a replica every report reads the primary.
func TestReadsWithoutReplica(t *testing.T) {
	t.Parallel()
	primary := store.New(testenv.Pool(t), nil)
	require.Same(t, primary, store.NewReads(primary, nil, time.Second, testenv.Logger(t)).Store(context.Background()))
}
