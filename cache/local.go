package cache

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/redis/go-redis/v9"
)

// A process keeps copies of what it reads most: family versions, which
// every cached public page asks for, and values stored under a version,
// which never change once stored. Both save a Redis round trip per
// request. A version's copy is trusted only while Watch is subscribed
// to the channel on which Bump announces new versions, and for at most
// versionFor; a value's copy needs no announcement, since a write moves
// the version and so the key. The least recently used values make room
// for new ones.
const (
	versionFor = 5 * time.Second
	localSize  = 1024
)

type localVersion struct {
	value int64
	at    time.Time
}

// versions is this process's copy of the family versions.
type versions struct {
	mu       sync.Mutex
	watching bool  // subscribed: announcements are arriving
	heard    int64 // announcements heard, to spot one racing a read
	byFamily map[string]localVersion
}

func (v *versions) get(family string) (int64, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	lv, ok := v.byFamily[family]
	if !v.watching || !ok || time.Since(lv.at) > versionFor {
		return 0, false
	}
	return lv.value, true
}

// mark returns a token for a read from Redis about to start.
func (v *versions) mark() int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.heard
}

// keep stores a version read from Redis, unless an announcement arrived
// while it was read (the read may be older) or nothing is heard.
func (v *versions) keep(family string, value int64, mark int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.watching && v.heard == mark {
		v.byFamily[family] = localVersion{value: value, at: time.Now()}
	}
}

func (v *versions) announced(family string, value int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.heard++
	if v.watching {
		v.byFamily[family] = localVersion{value: value, at: time.Now()}
	}
}

func (v *versions) forget(family string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.heard++
	delete(v.byFamily, family)
}

// reset forgets every copy: announcements may have been missed (the
// subscription broke, or Redis restarted and its counters with it).
func (v *versions) reset(watching bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.heard++
	v.watching = watching
	clear(v.byFamily)
}

func newLocal() *lru.Cache[string, any] {
	l, err := lru.New[string, any](localSize)
	if err != nil {
		panic(err) // only for a size below one
	}
	return l
}

func (c *Cache) channel() string { return c.opts.Prefix + "cache:versions" }

// Watch listens for version announcements until ctx ends, so Version
// can answer from memory. Without it, every Version asks Redis.
func (c *Cache) Watch(ctx context.Context) {
	ps := c.rdb.Subscribe(ctx, c.channel())
	// Receive waits for a message whatever ctx says; closing ends it.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer func() {
		stop()
		_ = ps.Close()
	}()
	backoff := 50 * time.Millisecond
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			c.versions.reset(false)
			if ctx.Err() != nil {
				return
			}
			// The next Receive reconnects and subscribes again.
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		switch m := msg.(type) {
		case *redis.Subscription:
			// Announcements made before this point were not heard.
			c.versions.reset(m.Kind == "subscribe")
		case *redis.Message:
			family, value, ok := strings.Cut(m.Payload, " ")
			n, err := strconv.ParseInt(value, 10, 64)
			if !ok || err != nil {
				continue
			}
			c.versions.announced(family, n)
		}
	}
}

// A version counter starts at the time it is first needed, in
// microseconds, not at zero: should Redis lose it (a restart without
// persistence, an eviction), the new count starts past every version
// handed out before, so no key of an old version is read as current.
//
// versionOf returns a family's version, starting the counter if need be.
var versionOf = redis.NewScript(`
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
`)

// bump moves a family's version on and announces the new one, in one
// step, so no process hears of a version Redis does not hold.
var bump = redis.NewScript(`
redis.call('SET', KEYS[1], ARGV[3], 'NX')
redis.call('INCR', KEYS[1])
-- As the stored text: a Lua number this large would print as 1.7e+15.
local v = redis.call('GET', KEYS[1])
redis.call('PUBLISH', ARGV[1], ARGV[2] .. ' ' .. v)
return v
`)

// GetLocal is Get with a copy in this process's memory in front, for
// keys whose value never changes once stored: those named under a
// family's Version. Callers share the returned value and must not
// change it.
func GetLocal[T any](ctx context.Context, c *Cache, key Key, ttl time.Duration, load func(context.Context) (T, error)) (T, error) {
	name := c.name(key)
	if v, ok := c.local.Get(name); ok {
		c.lookups.WithLabelValues(key.Family, "local").Inc()
		return v.(T), nil
	}
	v, err := Get(ctx, c, key, ttl, load)
	if err == nil {
		c.local.Add(name, v)
	}
	return v, err
}
