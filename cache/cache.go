// Package cache is Keel's cache-aside layer on Redis. Get returns a
// cached value or loads it from the source of truth, once per key per
// process however many requests miss together (singleflight), and stores
// it with a jittered TTL. Not-found answers are cached too, briefly.
//
// Redis is an accelerator here, never a dependency: when it errors or is
// slower than the timeout, Get loads from the source, logs a warning and
// counts the error; no request fails because of the cache. After a run
// of failures the cache stops asking Redis for a few seconds, so a slow
// Redis does not add its timeout to every request.
//
// A write and a load can cross: the load reads the old data, the write
// deletes the key, the load then stores the old data. Each key has a
// generation, bumped by Delete; a load stores its value only if the
// generation it started under still stands.
package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

// Options configure a Cache.
type Options struct {
	// Timeout bounds each Redis call.
	Timeout time.Duration
	// NotFound is the error loaders return for a missing value (matched
	// with errors.Is). That answer is cached for NotFoundTTL, and a
	// cached one is returned as NotFound.
	NotFound    error
	NotFoundTTL time.Duration
	Logger      *slog.Logger
	// Registerer receives the cache's metrics; nil skips them.
	Registerer prometheus.Registerer
	// Prefix goes before every Redis key, so caches of different data
	// (tests each in their own transaction) can share one Redis.
	Prefix string
}

// Cache is a cache-aside store in Redis.
type Cache struct {
	rdb   *redis.Client
	opts  Options
	group singleflight.Group

	// failures counts Redis errors in a row; past breakerAfter, calls
	// are skipped until openUntil (unix nanoseconds).
	failures  atomic.Int64
	openUntil atomic.Int64

	versions versions
	local    *lru.Cache[string, any]

	lookups *prometheus.CounterVec
	loads   *prometheus.CounterVec
}

// New returns a Cache on rdb.
func New(rdb *redis.Client, o Options) *Cache {
	c := &Cache{
		rdb:      rdb,
		opts:     o,
		versions: versions{byFamily: map[string]localVersion{}},
		local:    newLocal(),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keel_cache_lookups_total",
			Help: "Cache lookups by key family and result (local: from this process's memory; hit, miss, error, skipped while Redis is failing).",
		}, []string{"family", "result"}),
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keel_cache_loads_total",
			Help: "Loads from the source of truth after a miss, by key family.",
		}, []string{"family"}),
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(c.lookups, c.loads)
	}
	return c
}

// Key names one cached value: a family (for metrics, "user") and the
// rest of the key ("42").
type Key struct {
	Family string
	ID     string
}

func (k Key) String() string { return "cache:" + k.Family + ":" + k.ID }

// name is the Redis key of a cached value; its generation counter is
// name + ":gen".
func (c *Cache) name(k Key) string { return c.opts.Prefix + k.String() }

const (
	breakerAfter = 5
	breakerFor   = 2 * time.Second
)

// entry is what is stored: the value, or a mark that the source had
// none.
type entry[T any] struct {
	Value    T    `json:"v,omitempty"`
	NotFound bool `json:"nf,omitempty"`
}

// Get returns the value at key, or loads it with load and caches it for
// about ttl (±10%, so keys filled together do not expire together).
func Get[T any](ctx context.Context, c *Cache, key Key, ttl time.Duration, load func(context.Context) (T, error)) (T, error) {
	var zero T
	if e, ok := c.read(ctx, key); ok {
		var got entry[T]
		if err := json.Unmarshal(e, &got); err == nil {
			c.lookups.WithLabelValues(key.Family, "hit").Inc()
			if got.NotFound {
				return zero, fmt.Errorf("%s (cached): %w", key, c.opts.NotFound)
			}
			return got.Value, nil
		}
	}

	// One load per key in this process, whoever else is waiting.
	v, err, _ := c.group.Do(c.name(key), func() (any, error) {
		c.loads.WithLabelValues(key.Family).Inc()
		gen, genOK := c.generation(ctx, key)
		// The load serves every waiter: it must not end with the first
		// caller's request.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()

		val, err := load(lctx)
		switch {
		case !genOK:
		case err == nil:
			c.write(ctx, key, gen, entry[T]{Value: val}, jitter(ttl))
		case c.opts.NotFound != nil && errors.Is(err, c.opts.NotFound):
			c.write(ctx, key, gen, entry[T]{NotFound: true}, jitter(c.opts.NotFoundTTL))
		}
		return val, err
	})
	if err != nil {
		return zero, err
	}
	return v.(T), nil
}

// Version returns the version of a family of keys, for values that one
// write makes stale together (every page of a list, say): put it in
// their keys, and Bump it after such a write; the old keys then expire
// unread. ok is false when Redis cannot say; then do not cache. While
// Watch runs, the answer usually comes from memory.
func (c *Cache) Version(ctx context.Context, family string) (int64, bool) {
	if v, ok := c.versions.get(family); ok {
		return v, true
	}
	if c.open() {
		return 0, false
	}
	mark := c.versions.mark()
	rctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	v, err := versionOf.Run(rctx, c.rdb, []string{c.versionKey(family)}, time.Now().UnixMicro()).Int64()
	if err != nil {
		c.fail(ctx, "version", Key{Family: family}, err)
		return 0, false
	}
	c.ok()
	c.versions.keep(family, v, mark)
	return v, true
}

// Bump makes every key of the family's current version stale, here and
// in every process that watches. Call it after the write commits. A
// failure is logged; the keys then expire with their TTL.
func (c *Cache) Bump(ctx context.Context, family string) {
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.Timeout)
	defer cancel()
	v, err := bump.Run(bctx, c.rdb, []string{c.versionKey(family)}, c.channel(), family, time.Now().UnixMicro()).Int64()
	if err != nil {
		c.versions.forget(family)
		c.fail(ctx, "bump", Key{Family: family}, err)
		return
	}
	// This process reads its own write at once, not when it hears of it.
	c.versions.announced(family, v)
}

func (c *Cache) versionKey(family string) string { return c.opts.Prefix + "cache:version:" + family }

// read returns the stored bytes at key; ok is false on a miss or an
// error, which is logged and counted.
func (c *Cache) read(ctx context.Context, key Key) ([]byte, bool) {
	if c.open() {
		c.lookups.WithLabelValues(key.Family, "skipped").Inc()
		return nil, false
	}
	rctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	b, err := c.rdb.Get(rctx, c.name(key)).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		c.ok()
		c.lookups.WithLabelValues(key.Family, "miss").Inc()
		return nil, false
	case err != nil:
		c.fail(ctx, "read", key, err)
		return nil, false
	}
	c.ok()
	return b, true
}

// generation returns the key's generation before a load; ok is false
// when it cannot be read, and then the load's value is not stored.
func (c *Cache) generation(ctx context.Context, key Key) (string, bool) {
	if c.open() {
		return "", false
	}
	gctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	g, err := c.rdb.Get(gctx, c.name(key)+":gen").Result()
	switch {
	case errors.Is(err, redis.Nil):
		return "0", true
	case err != nil:
		c.fail(ctx, "generation", key, err)
		return "", false
	}
	return g, true
}

// storeIfCurrent stores a loaded value unless the key was invalidated
// while it loaded.
var storeIfCurrent = redis.NewScript(`
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

func (c *Cache) write(ctx context.Context, key Key, gen string, v any, ttl time.Duration) {
	b, err := json.Marshal(v)
	if err != nil {
		c.fail(ctx, "encode", key, err)
		return
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.Timeout)
	defer cancel()
	err = storeIfCurrent.Run(wctx, c.rdb, []string{c.name(key), c.name(key) + ":gen"}, gen, b, ttl.Milliseconds()).Err()
	if err != nil {
		c.fail(ctx, "write", key, err)
		return
	}
	c.ok()
}

func (c *Cache) open() bool { return time.Now().UnixNano() < c.openUntil.Load() }

func (c *Cache) ok() { c.failures.Store(0) }

// Delete removes keys, after a write that makes them stale. Call it
// after the write commits. A failure is logged and counted; the keys
// then expire with their TTL.
func (c *Cache) Delete(ctx context.Context, keys ...Key) {
	if len(keys) == 0 {
		return
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = c.name(k)
	}
	// Deletes are tried even while reads are skipped: a missed delete
	// leaves a stale value until its TTL.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.Timeout)
	defer cancel()
	_, err := c.rdb.TxPipelined(dctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Incr(dctx, c.name(k)+":gen")
			p.Expire(dctx, c.name(k)+":gen", 24*time.Hour)
		}
		p.Del(dctx, names...)
		return nil
	})
	if err != nil {
		c.fail(ctx, "delete", keys[0], err)
	}
}

func (c *Cache) fail(ctx context.Context, op string, key Key, err error) {
	c.lookups.WithLabelValues(key.Family, "error").Inc()
	if c.failures.Add(1) >= breakerAfter {
		c.failures.Store(0)
		c.openUntil.Store(time.Now().Add(breakerFor).UnixNano())
	}
	if c.opts.Logger != nil {
		c.opts.Logger.WarnContext(ctx, "cache unavailable; using the database", "op", op, "key", key.String(), "error", err)
	}
}

func jitter(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return time.Minute
	}
	spread := int64(ttl) / 5
	return ttl - time.Duration(spread/2) + time.Duration(rand.Int64N(spread+1)) //nolint:gosec // G404: spreading expiry needs no secrecy.
}
