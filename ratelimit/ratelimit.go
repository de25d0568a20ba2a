// Package ratelimit counts requests against limits kept in Redis, so a
// limit holds across every server copy. It uses the generic cell rate
// algorithm of go-redis/redis_rate: one atomic script call a check.
package ratelimit

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Rule is a named limit: Count events per Period for each key.
type Rule struct {
	Name   string
	Count  int
	Period time.Duration
}

// Decision is the outcome of one check.
type Decision struct {
	Allowed bool
	// RetryAfter is how long until the next event would be allowed,
	// when Allowed is false.
	RetryAfter time.Duration
}

// Limiter checks rules against Redis.
type Limiter struct {
	rl      *redis_rate.Limiter
	timeout time.Duration
}

// New returns a Limiter on rdb. Each check is bounded by timeout, so a
// slow Redis cannot hold up the request that asked.
func New(rdb *redis.Client, timeout time.Duration) *Limiter {
	return &Limiter{rl: redis_rate.NewLimiter(rdb), timeout: timeout}
}

// ClientKey is the key to limit a client address by. An IPv6 client
// usually holds a whole /64, so it is limited by that network: counting
// each of its 2^64 addresses apart would be no limit at all.
func ClientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// Allow counts one event for key under rule and says whether it is
// within the limit. An error means Redis could not answer; the caller
// decides whether to fail open or closed.
func (l *Limiter) Allow(ctx context.Context, rule Rule, key string) (Decision, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()

	limit := redis_rate.Limit{Rate: rule.Count, Burst: rule.Count, Period: rule.Period}
	res, err := l.rl.Allow(ctx, "ratelimit:"+rule.Name+":"+key, limit)
	if err != nil {
		return Decision{}, fmt.Errorf("rate limit %s: %w", rule.Name, err)
	}
	return Decision{Allowed: res.Allowed > 0, RetryAfter: res.RetryAfter}, nil
}
