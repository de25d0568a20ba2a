package cache_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"keel/cache"
	"keel/testenv"
)

// watching returns a cache on rdb under prefix whose Watch runs until
// the test ends, once it is subscribed.
func watching(t *testing.T, rdb *redis.Client, prefix string) *cache.Cache {
	t.Helper()
	c := cache.New(rdb, cache.Options{Timeout: 200 * time.Millisecond, Logger: testenv.Logger(t), Prefix: prefix})
	channel := prefix + "cache:versions"
	subscribers := func() int64 {
		n, err := rdb.PubSubNumSub(context.Background(), channel).Result()
		require.NoError(t, err)
		return n[channel]
	}
	before := subscribers()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Watch(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool { return subscribers() > before }, 5*time.Second, 10*time.Millisecond)
	return c
}

func version(t *testing.T, c *cache.Cache, family string) int64 {
	t.Helper()
	v, ok := c.Version(context.Background(), family)
	require.True(t, ok)
	return v
}

// A process answers versions from memory while it hears announcements;
// a bump in one process reaches the others.
func TestVersionFromMemoryAndAnnounced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := testenv.Redis(t)
	prefix := testenv.Unique("near") + ":"
	a := watching(t, rdb, prefix)
	b := watching(t, rdb, prefix)

	first := version(t, b, "blog")
	a.Bump(ctx, "blog")
	require.Equal(t, first+1, version(t, a, "blog"), "the writer reads its own bump at once")
	require.Eventually(t, func() bool { return version(t, b, "blog") == first+1 }, 5*time.Second, 5*time.Millisecond,
		"the other process heard of it")

	// Changed behind the announcements' back, the counter is not read
	// again at once: the copy in memory answers.
	require.NoError(t, rdb.Set(ctx, prefix+"cache:version:blog", 41, 0).Err())
	require.Equal(t, first+1, version(t, b, "blog"))
	a.Bump(ctx, "blog")
	require.Eventually(t, func() bool { return version(t, b, "blog") == 42 }, 5*time.Second, 5*time.Millisecond)
}

// A counter Redis has lost starts again past every version handed out
// before it, so a value stored under an old version is never current.
func TestVersionNeverGoesBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := testenv.Redis(t)
	c, _ := newCache(t, rdb)
	family := testenv.Unique("family")
	c.Bump(ctx, family)
	c.Bump(ctx, family)
	before, ok := c.Version(ctx, family)
	require.True(t, ok)

	require.NoError(t, rdb.Del(ctx, "cache:version:"+family).Err())
	after, ok := c.Version(ctx, family)
	require.True(t, ok)
	require.Greater(t, after, before)

	require.NoError(t, rdb.Del(ctx, "cache:version:"+family).Err())
	c.Bump(ctx, family)
	bumped, ok := c.Version(ctx, family)
	require.True(t, ok)
	require.Greater(t, bumped, after)
}

// When the subscription breaks, announcements may be missed, so the
// copies are forgotten: versions come from Redis again, or not at all.
func TestVersionForgottenWhenNotListening(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u, err := url.Parse(testenv.Getenv("KEEL_REDIS_URL"))
	require.NoError(t, err)
	p := testenv.NewProxy(t, u.Host)
	through := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = through.Close() })
	direct := testenv.Redis(t)
	prefix := testenv.Unique("near") + ":"
	c := watching(t, through, prefix)
	version(t, c, "blog")

	p.Cut()
	require.Eventually(t, func() bool {
		_, ok := c.Version(ctx, "blog")
		return !ok
	}, 5*time.Second, 10*time.Millisecond, "without Redis there is no version, so nothing is cached")

	// Meanwhile a write elsewhere moved the version on, unheard.
	require.NoError(t, direct.Set(ctx, prefix+"cache:version:blog", 7, 0).Err())
	p.Restore()
	require.Eventually(t, func() bool {
		v, ok := c.Version(ctx, "blog")
		return ok && v == 7
	}, 10*time.Second, 20*time.Millisecond)
}

// A value stored under a version is kept in memory: asking again does
// not go to Redis.
func TestGetLocalKeepsValuesInMemory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, reg := newCache(t, testenv.Redis(t))
	k := key()
	loads := 0
	load := func(context.Context) (thing, error) { loads++; return thing{"a", loads}, nil }

	for range 3 {
		v, err := cache.GetLocal(ctx, c, k, time.Minute, load)
		require.NoError(t, err)
		require.Equal(t, thing{"a", 1}, v)
	}
	require.Equal(t, 1, loads)
	require.InDelta(t, 2, testenv.Counter(t, reg, "keel_cache_lookups_total", "result", "local"), 0)
	require.InDelta(t, 0, testenv.Counter(t, reg, "keel_cache_lookups_total", "result", "hit"), 0)

	_, err := cache.GetLocal(ctx, c, key(), time.Minute, func(context.Context) (thing, error) {
		return thing{}, errMissing
	})
	require.ErrorIs(t, err, errMissing, "a missing value is not kept in memory")
}
