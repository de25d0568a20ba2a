// Package live delivers events to the browsers connected to this server
// copy, whichever process wrote them.
//
// Events are rows in PostgreSQL, written in the transaction of the
// change they report (see store.Event); their ids follow commit order.
// After a commit the writer publishes a wake-up on one Redis channel.
// Each server runs one Hub: on a wake-up, and every PollEvery in case a
// wake-up was lost (Redis down, a dropped connection), it reads the
// events after the last one it saw and hands each, in order, to the
// local subscribers of its topic. So each process holds one Redis
// connection and runs one query per batch of events, however many
// browsers listen, and an event reaches every copy even while Redis is
// away, a little later.
//
// A subscriber that falls behind is dropped rather than allowed to hold
// up the others; its browser reconnects with Last-Event-ID and reads
// what it missed from PostgreSQL.
package live

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"keel/store"
)

// channel is the Redis channel that wakes every hub.
const channel = "live:events"

// Signaler wakes every server's hub when events were committed; its
// Signal is what store.WithSignal is given. A signal does not wait for
// Redis, so neither does the request that sent it; a failed one is only
// logged, as hubs poll.
type Signaler struct {
	rdb    *redis.Client
	logger *slog.Logger
	wg     sync.WaitGroup
}

// NewSignaler returns a Signaler publishing through rdb.
func NewSignaler(rdb *redis.Client, logger *slog.Logger) *Signaler {
	return &Signaler{rdb: rdb, logger: logger}
}

// Signal publishes a wake-up in the background.
func (s *Signaler) Signal(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	s.wg.Go(func() {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if err := s.rdb.Publish(ctx, channel, "").Err(); err != nil {
			s.logger.WarnContext(ctx, "live signal not sent; hubs will poll", "error", err)
		}
	})
}

// Wait waits for the signals sent so far; call it before closing Redis.
func (s *Signaler) Wait() { s.wg.Wait() }

// Source is where the hub reads events: the store.
type Source interface {
	EventsAfter(ctx context.Context, after int64, limit int32) ([]store.Event, error)
	EventLatestID(ctx context.Context) (int64, error)
}

// Options tune a Hub.
type Options struct {
	// PollEvery bounds how late an event is when its wake-up is lost.
	PollEvery time.Duration
	// Buffer is how many events a subscriber may have waiting before
	// it is dropped.
	Buffer int
	Logger *slog.Logger
	// Delivered and Dropped, when set, count events handed to
	// subscribers and subscribers dropped for falling behind.
	Delivered func(n int)
	Dropped   func()
}

// Hub fans events out to this process's subscribers.
type Hub struct {
	rdb  *redis.Client
	src  Source
	opts Options

	mu     sync.Mutex
	cursor int64 // the last event handed out
	topics map[string]map[*Subscription]struct{}
	counts map[string]int // open subscriptions by limit key
	ready  chan struct{}  // closed once the cursor is set
}

// NewHub returns a hub reading from src, woken through rdb. Run it.
func NewHub(rdb *redis.Client, src Source, o Options) *Hub {
	if o.PollEvery <= 0 {
		o.PollEvery = 2 * time.Second
	}
	if o.Buffer <= 0 {
		o.Buffer = 32
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Hub{
		rdb: rdb, src: src, opts: o,
		topics: map[string]map[*Subscription]struct{}{},
		counts: map[string]int{},
		ready:  make(chan struct{}),
	}
}

// Run delivers events until ctx ends. Events written before Run are not
// delivered live; streams replay them from the store.
func (h *Hub) Run(ctx context.Context) {
	for {
		latest, err := h.src.EventLatestID(ctx)
		if err == nil {
			h.mu.Lock()
			h.cursor = latest
			h.mu.Unlock()
			close(h.ready)
			break
		}
		h.opts.Logger.WarnContext(ctx, "live hub cannot read events yet", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(h.opts.PollEvery):
		}
	}

	wake := make(chan struct{}, 1)
	go h.listen(ctx, wake)

	poll := time.NewTicker(h.opts.PollEvery)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			h.closeAll()
			return
		case <-wake:
		case <-poll.C:
		}
		h.pump(ctx)
	}
}

// listen turns Redis messages into wake-ups, resubscribing after an
// outage.
func (h *Hub) listen(ctx context.Context, wake chan<- struct{}) {
	for ctx.Err() == nil {
		ps := h.rdb.Subscribe(ctx, channel)
		if _, err := ps.Receive(ctx); err != nil {
			_ = ps.Close()
			if ctx.Err() == nil {
				h.opts.Logger.WarnContext(ctx, "live hub cannot subscribe; polling", "error", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(h.opts.PollEvery):
			}
			continue
		}
		// A wake-up may have been lost while unsubscribed.
		notify(wake)
		for range ps.Channel() {
			notify(wake)
		}
		_ = ps.Close()
	}
}

func notify(wake chan<- struct{}) {
	select {
	case wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// pump hands out every event after the cursor.
func (h *Hub) pump(ctx context.Context) {
	for {
		h.mu.Lock()
		after := h.cursor
		h.mu.Unlock()
		events, err := h.src.EventsAfter(ctx, after, 500)
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				h.opts.Logger.WarnContext(ctx, "live hub cannot read events", "error", err)
			}
			return
		}
		for _, e := range events {
			h.deliver(e)
		}
		if len(events) < 500 {
			return
		}
	}
}

func (h *Hub) deliver(e store.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cursor = e.ID
	n := 0
	for s := range h.topics[e.Topic] {
		select {
		case s.c <- e:
			n++
		default:
			h.drop(s)
			if h.opts.Dropped != nil {
				h.opts.Dropped()
			}
		}
	}
	if n > 0 && h.opts.Delivered != nil {
		h.opts.Delivered(n)
	}
}

// Subscription receives the events of its topics, in order, until
// closed. C is closed when the subscription ends: by Close, because it
// fell behind (Lagged reports it) or because the hub stopped.
type Subscription struct {
	hub    *Hub
	topics []string
	key    string
	c      chan store.Event
	C      <-chan store.Event
	// From is the id of the last event handed out before the
	// subscription began; every later event on its topics reaches C.
	From   int64
	lagged bool
	closed bool
}

// ErrLimit means the subscription's limit key already has as many open
// subscriptions as allowed.
var ErrLimit = errors.New("too many live streams")

// ErrNotReady means the hub has not read the events table yet.
var ErrNotReady = errors.New("live events are not available yet")

// Subscribe listens to topics. At most limit subscriptions may be open
// under key at once on this server (limit 0: no limit). Just after the
// server starts it waits for the hub to be ready, as long as ctx lets
// it.
func (h *Hub) Subscribe(ctx context.Context, key string, limit int, topics ...string) (*Subscription, error) {
	select {
	case <-h.ready:
	case <-ctx.Done():
		return nil, ErrNotReady
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if limit > 0 && h.counts[key] >= limit {
		return nil, ErrLimit
	}
	c := make(chan store.Event, h.opts.Buffer)
	s := &Subscription{hub: h, topics: topics, key: key, c: c, C: c, From: h.cursor}
	h.counts[key]++
	for _, t := range topics {
		if h.topics[t] == nil {
			h.topics[t] = map[*Subscription]struct{}{}
		}
		h.topics[t][s] = struct{}{}
	}
	return s, nil
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.remove(s)
}

// Lagged reports whether the hub dropped the subscription for falling
// behind. Read it once C is closed.
func (s *Subscription) Lagged() bool {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.lagged
}

// drop ends a subscription that fell behind. h.mu is held.
func (h *Hub) drop(s *Subscription) {
	s.lagged = true
	h.remove(s)
}

// remove ends s once. h.mu is held.
func (h *Hub) remove(s *Subscription) {
	if s.closed {
		return
	}
	s.closed = true
	for _, t := range s.topics {
		delete(h.topics[t], s)
		if len(h.topics[t]) == 0 {
			delete(h.topics, t)
		}
	}
	if h.counts[s.key]--; h.counts[s.key] <= 0 {
		delete(h.counts, s.key)
	}
	close(s.c)
}

func (h *Hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, subs := range h.topics {
		for s := range subs {
			h.remove(s)
		}
	}
}

// Open returns how many subscriptions are open.
func (h *Hub) Open() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.counts {
		n += c
	}
	return n
}
