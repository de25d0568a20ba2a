package testenv

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"keel/app"
)

// NewApp assembles Keel for a test. Unless opts say otherwise, its store
// runs inside a transaction rolled back at the end of the test.
func NewApp(t testing.TB, opts app.Options, overrides ...string) *app.App {
	t.Helper()
	if opts.Conn == nil && !opts.Workers {
		opts.Conn = Tx(t)
	} else {
		Pool(t) // migrate before anything else touches the database
	}
	if _, ok := opts.Conn.(pgx.Tx); ok && opts.CachePrefix == "" {
		// Values read inside one test's transaction must not be served
		// to another test.
		opts.CachePrefix = Unique("test") + ":"
	}
	a, err := app.New(context.Background(), Config(t, overrides...), Logger(t), opts)
	require.NoError(t, err)
	t.Cleanup(a.Close)
	return a
}

// Serve runs a on a loopback port until the test ends and returns its
// base URL.
func Serve(t testing.TB, a *app.App) string {
	t.Helper()
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("server did not stop within 30 s")
		}
	})
	return "http://" + ln.Addr().String()
}

// Do sends req through a's handler and returns the recorded response.
func Do(a *app.App, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, req)
	return rec
}
