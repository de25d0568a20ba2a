package handlers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"keel/views"
)

// Live stream timing. Heartbeats go out well inside common proxy idle
// timeouts (60 s); a stream ends after streamLifetime and the browser
// reconnects, which bounds what one connection can hold.
const (
	heartbeatEvery = 15 * time.Second
	writeDeadline  = 10 * time.Second
	streamLifetime = 10 * time.Minute
	retryAfterMs   = 3000
)

// orderEvents streams an order's status to its page as Server-Sent
// Events: the current status at once, then again each time the order's
// job signals a change. The stream reads the order from PostgreSQL on
// every (re)connect and signal, so a reconnecting page misses nothing.
func (h *Handlers) orderEvents(c echo.Context) error {
	ctx := c.Request().Context()
	token := c.Param("token")
	if _, err := h.Store.OrderGetByToken(ctx, token); err != nil {
		return err
	}
	sub, err := h.Live.Subscribe(ctx, "order:"+token)
	if err != nil {
		return &Error{Status: http.StatusServiceUnavailable, Code: "live_unavailable",
			Message: "Live updates are unavailable; the page will try again.", Err: err}
	}
	defer func() { _ = sub.Close() }()

	s := newStream(c)
	send := func() error {
		o, err := h.Store.OrderGetByToken(ctx, token)
		if err != nil {
			return err
		}
		var b bytes.Buffer
		if err := views.OrderStatus(h.orderStatusView(o)).Render(ctx, &b); err != nil {
			return err
		}
		return s.event("status", b.String())
	}
	if err := send(); err != nil {
		return nil // the client is gone, or the stream cannot start
	}
	return s.loop(ctx, h.Stopping, sub.C, send)
}

// stream writes Server-Sent Events with a deadline on every write: there
// is no server-wide write timeout, which would cut every stream.
type stream struct {
	c  echo.Context
	rc *http.ResponseController
}

func newStream(c echo.Context) *stream {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set("Cache-Control", "no-store")
	// nginx and similar proxies would otherwise buffer the stream.
	h.Set("X-Accel-Buffering", "no")
	c.Response().WriteHeader(http.StatusOK)
	return &stream{c: c, rc: http.NewResponseController(c.Response())}
}

func (s *stream) write(text string) error {
	if err := s.rc.SetWriteDeadline(time.Now().Add(writeDeadline)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := fmt.Fprint(s.c.Response(), text); err != nil {
		return err
	}
	s.c.Response().Flush()
	return nil
}

// event writes one named event; each line of data gets its own field.
func (s *stream) event(name, data string) error {
	var b strings.Builder
	b.WriteString("event: " + name + "\n")
	for _, line := range strings.Split(data, "\n") {
		b.WriteString("data: " + line + "\n")
	}
	b.WriteString("\n")
	return s.write(b.String())
}

// loop sends on each signal and a heartbeat between them, until the
// client leaves, the stream's lifetime ends or the server stops; then it
// tells the client when to reconnect.
func (s *stream) loop(ctx context.Context, stopping <-chan struct{}, signals <-chan string, send func() error) error {
	heartbeat := time.NewTicker(heartbeatEvery)
	defer heartbeat.Stop()
	lifetime := time.NewTimer(streamLifetime)
	defer lifetime.Stop()

	for {
		select {
		case <-ctx.Done():
			return nil
		case <-stopping:
			_ = s.write(fmt.Sprintf("retry: %d\n\n", retryAfterMs))
			return nil
		case <-lifetime.C:
			_ = s.write(fmt.Sprintf("retry: %d\n\n", retryAfterMs))
			return nil
		case _, ok := <-signals:
			if !ok {
				return nil
			}
			if err := send(); err != nil {
				return nil
			}
		case <-heartbeat.C:
			if err := s.write(": heartbeat\n\n"); err != nil {
				return nil
			}
		}
	}
}
