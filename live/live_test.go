package live_test

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"keel/live"
	"keel/store"
	"keel/testenv"
)

// newHub runs a hub on the test database until the test ends. A nil
// signal leaves the hub to find events by polling.
func newHub(t *testing.T, o live.Options) (*live.Hub, *store.Store) {
	t.Helper()
	rdb := testenv.Redis(t)
	s := store.New(testenv.Pool(t), nil)
	if o.PollEvery == 0 {
		o.PollEvery = time.Hour // only signals wake it
	}
	h := live.NewHub(rdb, s, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	probe, err := h.Subscribe(context.Background(), "probe", 0, "probe")
	require.NoError(t, err, "the hub is ready")
	probe.Close()
	return h, s.WithSignal(live.NewSignaler(rdb, slog.New(slog.DiscardHandler)).Signal)
}

func add(t *testing.T, s *store.Store, topic, n string) {
	t.Helper()
	require.NoError(t, s.EventAdd(context.Background(), store.Event{
		Topic: topic, Kind: "test", Data: map[string]string{"n": n},
	}))
}

func next(t *testing.T, sub *live.Subscription) store.Event {
	t.Helper()
	select {
	case e, ok := <-sub.C:
		require.True(t, ok, "subscription ended")
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
		return store.Event{}
	}
}

// Events reach the subscribers of their topics, in commit order, and
// only them.
func TestHubDeliversInOrder(t *testing.T) {
	t.Parallel()
	h, s := newHub(t, live.Options{})
	topic := testenv.Unique("topic")
	a, err := h.Subscribe(context.Background(), "a", 0, topic)
	require.NoError(t, err)
	defer a.Close()
	other, err := h.Subscribe(context.Background(), "b", 0, testenv.Unique("other"))
	require.NoError(t, err)
	defer other.Close()

	for i := range 20 {
		add(t, s, topic, strconv.Itoa(i))
	}
	var last int64
	for i := range 20 {
		e := next(t, a)
		require.Equal(t, strconv.Itoa(i), e.Data["n"])
		require.Greater(t, e.ID, last)
		require.Greater(t, e.ID, a.From)
		last = e.ID
	}
	select {
	case e := <-other.C:
		t.Fatalf("another topic got %v", e)
	default:
	}
}

// Without the Redis signal (lost, or Redis down) the hub still finds
// events on its poll.
func TestHubPollsWithoutSignal(t *testing.T) {
	t.Parallel()
	h, _ := newHub(t, live.Options{PollEvery: 100 * time.Millisecond})
	unsignalled := store.New(testenv.Pool(t), nil)
	topic := testenv.Unique("topic")
	sub, err := h.Subscribe(context.Background(), "a", 0, topic)
	require.NoError(t, err)
	defer sub.Close()
	add(t, unsignalled, topic, "quiet")
	require.Equal(t, "quiet", next(t, sub).Data["n"])
}

// A subscriber that does not keep up is dropped, not waited for: the
// others still get every event.
func TestHubDropsSlowSubscriber(t *testing.T) {
	t.Parallel()
	h, s := newHub(t, live.Options{Buffer: 2})
	topic := testenv.Unique("topic")
	slow, err := h.Subscribe(context.Background(), "slow", 0, topic)
	require.NoError(t, err)
	fast, err := h.Subscribe(context.Background(), "fast", 0, topic)
	require.NoError(t, err)
	defer fast.Close()

	for i := range 4 {
		add(t, s, topic, strconv.Itoa(i))
		require.Equal(t, strconv.Itoa(i), next(t, fast).Data["n"])
	}
	require.Eventually(t, slow.Lagged, 5*time.Second, 10*time.Millisecond)
	n := 0
	for range slow.C {
		n++
	}
	require.Equal(t, 2, n, "what was buffered is still read, then C closes")
}

// At most limit subscriptions share a key; closing one frees its place.
func TestHubLimit(t *testing.T) {
	t.Parallel()
	h, _ := newHub(t, live.Options{})
	key := testenv.Unique("key")
	first, err := h.Subscribe(context.Background(), key, 2, "t")
	require.NoError(t, err)
	_, err = h.Subscribe(context.Background(), key, 2, "t")
	require.NoError(t, err)
	_, err = h.Subscribe(context.Background(), key, 2, "t")
	require.ErrorIs(t, err, live.ErrLimit)
	first.Close()
	first.Close() // twice is harmless
	_, err = h.Subscribe(context.Background(), key, 2, "t")
	require.NoError(t, err)
}
