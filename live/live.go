// Package live carries events between Keel's processes: a job in a
// worker publishes, and every server copy with a browser waiting on that
// topic hears it, through Redis pub/sub. Events here are signals ("this
// order changed"); what changed is read from PostgreSQL, so a missed
// event is repaired by the next read.
package live

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Broker publishes and subscribes through Redis.
type Broker struct {
	rdb *redis.Client
}

// New returns a Broker on rdb.
func New(rdb *redis.Client) *Broker { return &Broker{rdb: rdb} }

func channel(topic string) string { return "live:" + topic }

// Publish sends name to every subscriber of topic, on every server.
func (b *Broker) Publish(ctx context.Context, topic, name string) error {
	if err := b.rdb.Publish(ctx, channel(topic), name).Err(); err != nil {
		return fmt.Errorf("publish %s: %w", topic, err)
	}
	return nil
}

// Subscription receives the events of one topic until closed.
type Subscription struct {
	ps *redis.PubSub
	C  <-chan string
}

// Subscribe listens to topic. It returns once Redis has confirmed the
// subscription, so no event published afterwards is missed.
func (b *Broker) Subscribe(ctx context.Context, topic string) (*Subscription, error) {
	ps := b.rdb.Subscribe(ctx, channel(topic))
	if _, err := ps.Receive(ctx); err != nil {
		_ = ps.Close()
		return nil, fmt.Errorf("subscribe %s: %w", topic, err)
	}
	msgs := ps.Channel()
	out := make(chan string, 8)
	go func() {
		defer close(out)
		for m := range msgs {
			select {
			case out <- m.Payload:
			default: // a slow reader misses a signal; it re-reads state anyway
			}
		}
	}()
	return &Subscription{ps: ps, C: out}, nil
}

// Close ends the subscription; C is closed soon after.
func (s *Subscription) Close() error { return s.ps.Close() }
