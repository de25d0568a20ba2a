package cache_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"keel/cache"
	"keel/testenv"
)

var errMissing = errors.New("missing")

func newCache(t *testing.T, rdb *redis.Client) (*cache.Cache, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	c := cache.New(rdb, cache.Options{
		Timeout:     100 * time.Millisecond,
		NotFound:    errMissing,
		NotFoundTTL: time.Minute,
		Logger:      testenv.Logger(t),
		Registerer:  reg,
	})
	return c, reg
}

func key() cache.Key { return cache.Key{Family: "test", ID: testenv.Unique("k")} }

type thing struct {
	Name  string
	Count int
}

func TestGetLoadsOnceThenHits(t *testing.T) {
	t.Parallel()
	c, reg := newCache(t, testenv.Redis(t))
	k := key()
	var loads atomic.Int32
	load := func(context.Context) (thing, error) {
		loads.Add(1)
		return thing{"a", 1}, nil
	}

	for range 3 {
		v, err := cache.Get(context.Background(), c, k, time.Minute, load)
		require.NoError(t, err)
		require.Equal(t, thing{"a", 1}, v)
	}
	require.Equal(t, int32(1), loads.Load())
	require.InDelta(t, 2, testenv.Counter(t, reg, "keel_cache_lookups_total", "result", "hit"), 0)

	// Delete makes the next Get load again.
	c.Delete(context.Background(), k)
	_, err := cache.Get(context.Background(), c, k, time.Minute, load)
	require.NoError(t, err)
	require.Equal(t, int32(2), loads.Load())
}

// 200 concurrent requests for a cold key make one load in this process.
func TestGetColdKeyLoadsOnce(t *testing.T) {
	t.Parallel()
	c, _ := newCache(t, testenv.Redis(t))
	k := key()
	var loads atomic.Int32
	release := make(chan struct{})
	load := func(context.Context) (int, error) {
		loads.Add(1)
		<-release // hold the load until every caller is waiting
		return 42, nil
	}

	var wg sync.WaitGroup
	results := make(chan int, 200)
	for range 200 {
		wg.Go(func() {
			v, err := cache.Get(context.Background(), c, k, time.Minute, load)
			require.NoError(t, err)
			results <- v
		})
	}
	time.Sleep(100 * time.Millisecond)
	close(release)
	wg.Wait()
	close(results)

	require.Equal(t, int32(1), loads.Load())
	for v := range results {
		require.Equal(t, 42, v)
	}
}

func TestGetCachesNotFound(t *testing.T) {
	t.Parallel()
	c, _ := newCache(t, testenv.Redis(t))
	k := key()
	var loads atomic.Int32
	load := func(context.Context) (thing, error) {
		loads.Add(1)
		return thing{}, fmt.Errorf("row 7: %w", errMissing)
	}

	for range 3 {
		_, err := cache.Get(context.Background(), c, k, time.Minute, load)
		require.ErrorIs(t, err, errMissing)
	}
	require.Equal(t, int32(1), loads.Load())

	// Other errors are not cached.
	k2 := key()
	boom := func(context.Context) (thing, error) { loads.Add(1); return thing{}, errors.New("boom") }
	_, err := cache.Get(context.Background(), c, k2, time.Minute, boom)
	require.Error(t, err)
	_, err = cache.Get(context.Background(), c, k2, time.Minute, boom)
	require.Error(t, err)
	require.Equal(t, int32(3), loads.Load())
}

// Stored TTLs vary by ±10% around the one asked for.
func TestGetJittersTTL(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	c, _ := newCache(t, rdb)
	for range 20 {
		k := key()
		_, err := cache.Get(context.Background(), c, k, 100*time.Second, func(context.Context) (int, error) { return 1, nil })
		require.NoError(t, err)
		ttl, err := rdb.TTL(context.Background(), k.String()).Result()
		require.NoError(t, err)
		require.GreaterOrEqual(t, ttl, 89*time.Second)
		require.LessOrEqual(t, ttl, 110*time.Second)
	}
}

// With Redis refusing connections, or hanging, Get still answers from
// the source, within the timeout, and counts the errors.
func TestGetWithoutRedis(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(testenv.Getenv("KEEL_REDIS_URL"))
	require.NoError(t, err)

	for _, mode := range []string{"refused", "hanging"} {
		t.Run(mode, func(t *testing.T) {
			p := testenv.NewProxy(t, u.Host)
			if mode == "refused" {
				p.Cut()
			} else {
				p.Freeze()
			}
			rdb := redis.NewClient(&redis.Options{
				Addr: p.Addr(), MaxRetries: -1, DialerRetries: 1, ContextTimeoutEnabled: true,
			})
			t.Cleanup(func() { _ = rdb.Close() })
			c, reg := newCache(t, rdb)

			for range 3 {
				v, err := cache.Get(context.Background(), c, key(), time.Minute, func(context.Context) (int, error) { return 7, nil })
				require.NoError(t, err)
				require.Equal(t, 7, v)
			}
			require.GreaterOrEqual(t, testenv.Counter(t, reg, "keel_cache_lookups_total", "result", "error"), 3.0)
		})
	}
}

// A write that invalidates a key while a load of it runs wins: the
// load's (old) value is returned to its caller but not stored.
func TestDeleteDuringLoadWins(t *testing.T) {
	t.Parallel()
	c, _ := newCache(t, testenv.Redis(t))
	k := key()
	started, release := make(chan struct{}), make(chan struct{})
	var loads atomic.Int32
	load := func(context.Context) (string, error) {
		if loads.Add(1) == 1 {
			close(started)
			<-release
			return "old", nil
		}
		return "new", nil
	}

	done := make(chan string)
	go func() {
		v, err := cache.Get(context.Background(), c, k, time.Minute, load)
		require.NoError(t, err)
		done <- v
	}()
	<-started
	c.Delete(context.Background(), k) // the write commits while the load runs
	close(release)
	require.Equal(t, "old", <-done)

	v, err := cache.Get(context.Background(), c, k, time.Minute, load)
	require.NoError(t, err)
	require.Equal(t, "new", v, "the stale value was not stored")
}

// After a run of Redis failures the cache stops asking Redis for a
// while, so a failing Redis does not cost its timeout on every request.
func TestBreakerSkipsRedisAfterFailures(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(testenv.Getenv("KEEL_REDIS_URL"))
	require.NoError(t, err)
	p := testenv.NewProxy(t, u.Host)
	p.Freeze()
	rdb := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1, DialerRetries: 1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	c, reg := newCache(t, rdb)

	for range 10 {
		_, err := cache.Get(context.Background(), c, key(), time.Minute, func(context.Context) (int, error) { return 1, nil })
		require.NoError(t, err)
	}
	require.Positive(t, testenv.Counter(t, reg, "keel_cache_lookups_total", "result", "skipped"))
}
