package live_test

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"keel/live"
	"keel/store"
	"keel/testenv"
)

// newFanout runs a Fanout on a hub until the test ends.
func newFanout(t *testing.T, o live.FanoutOptions) (*live.Fanout, *store.Store) {
	t.Helper()
	h, s := newHub(t, live.Options{})
	f := live.NewFanout(h, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return f, s
}

// pair returns the two ends of a loopback TCP connection: the server's,
// for the Fanout, and the client's, read line by line.
func pair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = ln.Close() }()
	client, err := new(net.Dialer).DialContext(context.Background(), "tcp", ln.Addr().String())
	require.NoError(t, err)
	server, err := ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	return server, client
}

// lines delivers what a client reads, line by line, until the
// connection closes.
func lines(conn net.Conn) <-chan string {
	out := make(chan string, 64)
	go func() {
		defer close(out)
		r := bufio.NewReader(conn)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			out <- strings.TrimRight(l, "\n")
		}
	}()
	return out
}

func nextLine(t *testing.T, ls <-chan string) string {
	t.Helper()
	select {
	case l, ok := <-ls:
		require.True(t, ok, "the connection closed")
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("nothing within 10 s")
		return ""
	}
}

func closed(t *testing.T, ls <-chan string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ls:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("the connection stayed open")
		}
	}
}

// render shows an event's "n" as one line; "last" ends the streams.
func render(e store.Event) ([]byte, bool) {
	return []byte("n " + e.Data["n"] + "\n"), e.Data["n"] == "last"
}

// Every stream of a topic gets each event in order, after what it was
// started with, events that came before Start included; the last event
// closes them.
func TestFanoutDelivers(t *testing.T) {
	t.Parallel()
	f, s := newFanout(t, live.FanoutOptions{})
	ctx := context.Background()
	topic := testenv.Unique("fan")

	var clients []<-chan string
	for i := range 3 {
		st, err := f.Attach(ctx, topic, 0, render)
		require.NoError(t, err)
		server, client := pair(t)
		if i == 0 {
			// Committed before this stream starts; most likely relayed
			// before it too, and either way sent after "hello".
			add(t, s, topic, "early")
			time.Sleep(100 * time.Millisecond)
		}
		st.Start(server, []byte("hello\n"))
		clients = append(clients, lines(client))
	}
	require.Equal(t, 3, f.Len())
	require.Equal(t, "hello", nextLine(t, clients[0]))
	require.Equal(t, "n early", nextLine(t, clients[0]))
	for _, c := range clients[1:] {
		require.Equal(t, "hello", nextLine(t, c))
	}
	for _, n := range []string{"1", "2", "last"} {
		add(t, s, topic, n)
	}
	for _, c := range clients {
		for _, n := range []string{"1", "2", "last"} {
			l := nextLine(t, c)
			if l == "n early" { // a later stream attached before it was relayed
				l = nextLine(t, c)
			}
			require.Equal(t, "n "+n, l)
		}
		closed(t, c)
	}
	require.Eventually(t, func() bool { return f.Len() == 0 }, 5*time.Second, 10*time.Millisecond)
}

// A browser that left is found by the next heartbeat; a stream past its
// lifetime is told when to come back and closed.
func TestFanoutHeartbeatAndLifetime(t *testing.T) {
	t.Parallel()
	f, _ := newFanout(t, live.FanoutOptions{Heartbeat: 50 * time.Millisecond, Lifetime: 300 * time.Millisecond})
	ctx := context.Background()
	topic := testenv.Unique("fan")

	gone, err := f.Attach(ctx, topic, 0, render)
	require.NoError(t, err)
	server, client := pair(t)
	gone.Start(server, []byte("hello\n"))
	require.NoError(t, client.Close())

	st, err := f.Attach(ctx, topic, 0, render)
	require.NoError(t, err)
	server, client = pair(t)
	st.Start(server, []byte("hello\n"))
	ls := lines(client)
	require.Equal(t, "hello", nextLine(t, ls))
	require.Equal(t, ": heartbeat", nextLine(t, ls))
	require.Eventually(t, func() bool { return f.Len() == 1 }, 5*time.Second, 10*time.Millisecond, "the one that left is gone")

	var got []string
	for l := range ls {
		got = append(got, l)
	}
	require.Contains(t, got, "retry: 3000", "told when to come back, then closed")
	require.Eventually(t, func() bool { return f.Len() == 0 }, 5*time.Second, 10*time.Millisecond)
}

// A connection that does not take what is written is closed; the
// others get everything.
func TestFanoutDropsStuckConnection(t *testing.T) {
	t.Parallel()
	f, s := newFanout(t, live.FanoutOptions{WriteTimeout: 200 * time.Millisecond, QueueLimit: 4})
	ctx := context.Background()
	topic := testenv.Unique("fan")
	big := func(e store.Event) ([]byte, bool) {
		return []byte(strings.Repeat("x", 1<<20) + " " + e.Data["n"] + "\n"), false
	}

	stuck, err := f.Attach(ctx, topic, 0, big)
	require.NoError(t, err)
	server, _ := pair(t) // never read
	stuck.Start(server, []byte("hello\n"))
	reader, err := f.Attach(ctx, topic, 0, big)
	require.NoError(t, err)
	server, client := pair(t)
	reader.Start(server, []byte("hello\n"))
	ls := lines(client)
	require.Equal(t, "hello", nextLine(t, ls))

	for _, n := range []string{"1", "2", "3", "4", "5", "6"} {
		add(t, s, topic, n)
	}
	for _, n := range []string{"1", "2", "3", "4", "5", "6"} {
		require.True(t, strings.HasSuffix(nextLine(t, ls), " "+n))
	}
	require.Eventually(t, func() bool { return f.Len() == 1 }, 10*time.Second, 10*time.Millisecond, "the stuck one was closed")
}

// Streams per topic are capped; shutting down tells every stream when
// to come back, closes it and refuses new ones.
func TestFanoutLimitAndShutdown(t *testing.T) {
	t.Parallel()
	f, _ := newFanout(t, live.FanoutOptions{})
	ctx := context.Background()
	topic := testenv.Unique("fan")

	var clients []<-chan string
	for range 2 {
		st, err := f.Attach(ctx, topic, 2, render)
		require.NoError(t, err)
		server, client := pair(t)
		st.Start(server, []byte("hello\n"))
		clients = append(clients, lines(client))
	}
	_, err := f.Attach(ctx, topic, 2, render)
	require.ErrorIs(t, err, live.ErrLimit)

	f.Shutdown()
	for _, c := range clients {
		require.Equal(t, "hello", nextLine(t, c))
		require.Equal(t, "retry: 3000", nextLine(t, c))
		closed(t, c)
	}
	_, err = f.Attach(ctx, testenv.Unique("fan"), 0, render)
	require.ErrorIs(t, err, live.ErrClosed)
}
