package live

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"keel/store"
)

// noEvents is an event source with nothing in it.
type noEvents struct{}

func (noEvents) EventsAfter(context.Context, int64, int32) ([]store.Event, error) { return nil, nil }
func (noEvents) EventLatestID(context.Context) (int64, error)                     { return 0, nil }

// sink is a connection that takes every write at once.
type sink struct{ net.Conn }

func (sink) Write(b []byte) (int, error)      { return len(b), nil }
func (sink) Close() error                     { return nil }
func (sink) SetWriteDeadline(time.Time) error { return nil }

func readyHub() *Hub {
	h := NewHub(nil, noEvents{}, Options{})
	close(h.ready)
	return h
}

func nothing(store.Event) ([]byte, bool) { return nil, false }

// A stream attached while its topic's last stream closes joins a topic
// that still has a subscription, never one being torn down.
func TestAttachWhileTheTopicCloses(t *testing.T) {
	t.Parallel()
	f := NewFanout(readyHub(), FanoutOptions{})
	for range 20000 {
		first, err := f.Attach(context.Background(), "order:t", 0, nothing)
		if err != nil {
			t.Fatal(err)
		}
		var second *Stream
		var wg sync.WaitGroup
		wg.Go(first.Cancel)
		wg.Go(func() { second, err = f.Attach(context.Background(), "order:t", 0, nothing) })
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		current := f.topics["order:t"] == second.topic
		f.mu.Unlock()
		if !current {
			t.Fatal("the stream joined a topic no longer subscribed")
		}
		second.Cancel()
	}
}

// More streams than the writers' queue holds, all ending on one
// heartbeat: the heartbeat must not hold the lock the writers need to
// close them.
func TestHeartbeatEndsMoreStreamsThanTheQueueHolds(t *testing.T) {
	t.Parallel()
	f := NewFanout(readyHub(), FanoutOptions{Heartbeat: time.Hour, Lifetime: time.Minute})
	for range f.opts.Writers {
		f.wg.Go(f.writer)
	}
	n := cap(f.work) + 4096
	for i := range n {
		s, err := f.Attach(context.Background(), "order:"+string(rune('a'+i%20)), 0, nothing)
		if err != nil {
			t.Fatal(err)
		}
		s.Start(sink{}, []byte("head"))
	}
	done := make(chan struct{})
	go func() { f.heartbeat(time.Now().Add(2 * time.Minute)); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("the heartbeat is stuck with %d streams", n)
	}
	deadline := time.Now().Add(time.Minute)
	for f.Len() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if f.Len() > 0 {
		t.Fatalf("%d streams past their lifetime are still open", f.Len())
	}
}
