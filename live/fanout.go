package live

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"keel/store"
)

// Stream timing, shared by every live stream. Heartbeats go out well
// inside common proxy idle timeouts (60 s); a stream ends after
// StreamLifetime and the browser reconnects (Retry says when), which
// bounds what one connection can hold.
const (
	HeartbeatEvery = 15 * time.Second
	WriteTimeout   = 10 * time.Second
	StreamLifetime = 10 * time.Minute
	Retry          = "retry: 3000\n\n"
)

// Fanout holds streams whose connections were taken over from net/http
// (hijacked) once their response began. Such a stream needs no
// goroutine and no HTTP buffers of its own: each event is rendered once
// for its topic, and a small pool of writers writes the bytes to every
// connection on the topic, each write bounded by a deadline. That is
// what lets one server hold tens of thousands of customers' order pages.
//
// A connection that fails a write, or falls QueueLimit writes behind, is
// closed; its browser reconnects. Heartbeats go out on every connection
// every Heartbeat, which is also how connections whose browser left are
// found and closed. After Lifetime a stream is told when to come back
// and closed, which bounds what one connection can hold; Shutdown does
// the same for all of them.
type Fanout struct {
	hub  *Hub
	opts FanoutOptions
	work chan *Stream
	stop chan struct{} // closed when Run returns: the writers end

	attach  sync.Mutex // one topic subscribed at a time
	mu      sync.Mutex
	topics  map[string]*topic
	streams map[*Stream]struct{}
	closed  bool
	wg      sync.WaitGroup
}

// FanoutOptions tune a Fanout.
type FanoutOptions struct {
	// Zero values take the defaults: 8 writers, the stream timing
	// above, a queue of 16.
	Writers      int
	Heartbeat    time.Duration
	Lifetime     time.Duration
	WriteTimeout time.Duration
	QueueLimit   int
	// Retry is the SSE field that tells a browser when to reconnect,
	// "retry: 3000\n\n".
	Retry string
	// Open is told of each stream opened (+1) and closed (-1).
	Open func(delta int)
}

// Render turns an event into the bytes every stream of its topic is
// sent; last ends the streams after them. It is called once per event.
type Render func(store.Event) (data []byte, last bool)

type topic struct {
	name    string
	sub     *Subscription
	render  Render
	streams map[*Stream]struct{}
}

// Stream is one connection held by a Fanout.
type Stream struct {
	f     *Fanout
	topic *topic

	mu        sync.Mutex
	conn      net.Conn // nil until Start
	expires   time.Time
	queue     [][]byte
	scheduled bool
	closeLast bool // close once the queue is written
	done      bool
}

// NewFanout returns a Fanout fed by hub. Run it.
func NewFanout(hub *Hub, o FanoutOptions) *Fanout {
	if o.Writers <= 0 {
		o.Writers = 8
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = HeartbeatEvery
	}
	if o.Lifetime <= 0 {
		o.Lifetime = StreamLifetime
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = WriteTimeout
	}
	if o.Retry == "" {
		o.Retry = Retry
	}
	if o.QueueLimit <= 0 {
		o.QueueLimit = 16
	}
	if o.Open == nil {
		o.Open = func(int) {}
	}
	return &Fanout{
		hub: hub, opts: o, work: make(chan *Stream, 1<<16), stop: make(chan struct{}),
		topics: map[string]*topic{}, streams: map[*Stream]struct{}{},
	}
}

// Run writes and sends heartbeats until ctx ends, then ends every
// stream as Shutdown does.
func (f *Fanout) Run(ctx context.Context) {
	for range f.opts.Writers {
		f.wg.Go(f.writer)
	}
	tick := time.NewTicker(f.opts.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			f.Shutdown()
			close(f.stop)
			f.wg.Wait()
			return
		case now := <-tick.C:
			f.heartbeat(now)
		}
	}
}

// ErrClosed means the Fanout is shutting down.
var ErrClosed = errors.New("live streams are closing")

// Attach adds a stream to topic, at most limit per topic (0: no limit),
// subscribing the topic on first use. Events that arrive before Start
// wait for it. The stream must be started or cancelled.
func (f *Fanout) Attach(ctx context.Context, name string, limit int, render Render) (*Stream, error) {
	f.attach.Lock()
	defer f.attach.Unlock()
	for {
		f.mu.Lock()
		t := f.topics[name]
		f.mu.Unlock()
		if t == nil {
			sub, err := f.hub.Subscribe(ctx, "fanout:"+name, 0, name)
			if err != nil {
				return nil, err
			}
			t = &topic{name: name, sub: sub, render: render, streams: map[*Stream]struct{}{}}
			f.mu.Lock()
			f.topics[name] = t
			f.mu.Unlock()
			go f.relay(t)
		}
		s, err := f.join(t, limit)
		if s != nil || err != nil {
			return s, err
		}
		// The topic's last stream closed (or the hub dropped it) in the
		// meantime, and its subscription with it: start again.
	}
}

// join adds a stream to t, unless t is no longer the topic's current
// subscription (then both results are nil).
func (f *Fanout) join(t *topic, limit int) (*Stream, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.topics[t.name] != t && !f.closed {
		return nil, nil
	}
	switch {
	case f.closed:
		return nil, ErrClosed
	case limit > 0 && len(t.streams) >= limit:
		return nil, ErrLimit
	}
	s := &Stream{f: f, topic: t, expires: time.Now().Add(f.opts.Lifetime)}
	t.streams[s] = struct{}{}
	f.streams[s] = struct{}{}
	f.opts.Open(1)
	return s, nil
}

// Start hands the stream its connection, with the bytes to send first
// (the response head and the current state); what arrived since Attach
// follows.
func (s *Stream) Start(conn net.Conn, first []byte) {
	s.mu.Lock()
	if s.done { // closed while it waited
		s.mu.Unlock()
		_ = conn.Close()
		return
	}
	s.conn = conn
	s.queue = append([][]byte{first}, s.queue...)
	s.mu.Unlock()
	s.schedule()
}

// Cancel drops a stream that was never started.
func (s *Stream) Cancel() { s.close() }

// relay renders each event of a topic once and queues it on every
// stream of the topic.
func (f *Fanout) relay(t *topic) {
	for e := range t.sub.C {
		data, last := t.render(e)
		for _, s := range f.collect(t.streams) {
			s.enqueue(data, last)
		}
	}
	// The hub dropped the topic (behind) or stopped: its browsers come
	// back and read the state afresh.
	f.mu.Lock()
	if f.topics[t.name] == t {
		delete(f.topics, t.name)
	}
	f.mu.Unlock()
	for _, s := range f.collect(t.streams) {
		s.enqueue([]byte(f.opts.Retry), true)
	}
}

// enqueue adds bytes to write; last closes the stream after them.
func (s *Stream) enqueue(data []byte, last bool) {
	s.mu.Lock()
	if s.done || s.closeLast {
		s.mu.Unlock()
		return
	}
	if len(s.queue) >= s.f.opts.QueueLimit {
		s.mu.Unlock()
		go s.close() // too far behind: the browser reconnects
		return
	}
	s.queue = append(s.queue, data)
	s.closeLast = last
	started := s.conn != nil
	s.mu.Unlock()
	if started {
		s.schedule()
	}
}

// schedule puts the stream in the writers' queue unless it is there.
func (s *Stream) schedule() {
	s.mu.Lock()
	if s.scheduled || s.done {
		s.mu.Unlock()
		return
	}
	s.scheduled = true
	s.mu.Unlock()
	s.f.work <- s
}

// writer writes queued bytes, one stream at a time, in order.
func (f *Fanout) writer() {
	for {
		var s *Stream
		select {
		case <-f.stop:
			return
		case s = <-f.work:
		}
		for {
			s.mu.Lock()
			if s.done || len(s.queue) == 0 {
				s.scheduled = false
				closeNow := s.closeLast && !s.done
				s.mu.Unlock()
				if closeNow {
					s.close()
				}
				break
			}
			data := s.queue[0]
			s.queue = s.queue[1:]
			conn := s.conn
			s.mu.Unlock()

			_ = conn.SetWriteDeadline(time.Now().Add(f.opts.WriteTimeout))
			if _, err := conn.Write(data); err != nil {
				s.close()
				break
			}
		}
	}
}

// close ends a stream once: its connection closes, and a topic left
// without streams is unsubscribed.
func (s *Stream) close() {
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return
	}
	s.done = true
	conn := s.conn
	s.queue = nil
	s.mu.Unlock()
	if conn != nil {
		_ = conn.Close()
	}

	f := s.f
	f.mu.Lock()
	delete(f.streams, s)
	t := s.topic
	delete(t.streams, s)
	if len(t.streams) == 0 && f.topics[t.name] == t {
		delete(f.topics, t.name)
		t.sub.Close()
	}
	f.mu.Unlock()
	f.opts.Open(-1)
}

// heartbeat keeps connections open through proxies, finds the ones
// whose browser left, and ends streams past their lifetime.
func (f *Fanout) heartbeat(now time.Time) {
	for _, s := range f.collect(f.streams) {
		if now.After(s.expires) {
			s.enqueue([]byte(f.opts.Retry), true)
			continue
		}
		s.enqueue([]byte(": heartbeat\n\n"), false)
	}
}

// Shutdown tells every stream when to come back and closes it, waiting
// a little for the writes; new streams are refused.
func (f *Fanout) Shutdown() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	f.mu.Unlock()
	for _, s := range f.collect(f.streams) {
		s.enqueue([]byte(f.opts.Retry), true)
	}

	deadline := time.Now().Add(f.opts.WriteTimeout)
	for time.Now().Before(deadline) && f.Len() > 0 {
		time.Sleep(10 * time.Millisecond)
	}
	for _, s := range f.collect(f.streams) {
		s.close()
	}
}

// collect returns the streams in set, a set f.mu guards. Enqueueing
// may wait for the writers, which take f.mu to close a stream, so it
// happens on what collect returned, without the lock.
func (f *Fanout) collect(set map[*Stream]struct{}) []*Stream {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*Stream, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	return out
}

// Len returns how many streams are open.
func (f *Fanout) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.streams)
}
