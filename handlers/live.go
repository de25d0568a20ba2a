package handlers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"keel/auth"
	"keel/live"
	"keel/store"
	"keel/views"
)

// replayLimit bounds what a reconnecting stream is sent of what it
// missed; past it the page is told to read afresh.
const replayLimit = 500

// orderEvents streams an order's status to its page as Server-Sent
// Events: the current status at once, then each step as the order's
// job records it. Every (re)connect starts from the order as stored, so
// nothing is missed across reconnects.
func (h *Handlers) orderEvents(c echo.Context) error {
	ctx := c.Request().Context()
	token := c.Param("token")
	o, err := h.Store.OrderGetByToken(ctx, token)
	if err != nil {
		return err // no stream for an order that does not exist
	}
	if h.orderStatusView(o).Step < views.OrderStepsDone && h.Fanout != nil &&
		c.Request().Method == http.MethodGet && c.Request().ProtoMajor == 1 &&
		c.Request().Header.Get("Accept") == "text/event-stream" {
		if err := h.orderFanout(c, o); !errors.Is(err, errNoFanout) {
			return err
		}
	}
	sub, err := h.subscribe(ctx, "order:"+token, store.OrderTopic(token))
	if err != nil {
		return err
	}
	defer sub.Close()
	// Read after subscribing: a step recorded before the subscription
	// began is in the table by now, and later ones come through sub.
	if o, err = h.Store.OrderGetByToken(ctx, token); err != nil {
		return err
	}

	s := h.newStream(c, "order")
	defer s.end()
	// send shows a status; after the last step it tells the page to
	// stop listening (sse-close), and the stream ends.
	send := func(v views.OrderStatusView) error {
		if err := s.render("status", 0, views.OrderStatus(v)); err != nil {
			return err
		}
		if v.Step == views.OrderStepsDone {
			_ = s.event("done", 0, "")
			return errStreamDone
		}
		return nil
	}
	if send(h.orderStatusView(o)) != nil {
		return nil
	}
	// Each step's event says what the page shows: no read per browser.
	return s.loop(sub, nil, func(e store.Event) error {
		return send(h.statusView(token, e.Data["status"], e.Data["number"], o.Email))
	})
}

// orderFanout serves an order's stream from the Fanout: after the
// response head and the current status, the connection is taken over
// from net/http and needs no goroutine or HTTP buffers of its own (see
// live.Fanout). It returns errNoFanout, having written nothing, when
// the connection cannot be taken over; the caller then serves the
// stream itself.
func (h *Handlers) orderFanout(c echo.Context, o store.Order) error {
	ctx := c.Request().Context()
	email := o.Email
	render := func(e store.Event) ([]byte, bool) {
		v := h.statusView(o.Token, e.Data["status"], e.Data["number"], email)
		var b bytes.Buffer
		_ = views.OrderStatus(v).Render(context.Background(), &b)
		data := sseEvent("status", 0, b.String())
		if v.Step == views.OrderStepsDone {
			data += sseEvent("done", 0, "")
		}
		return []byte(data), v.Step == views.OrderStepsDone
	}
	st, err := h.Fanout.Attach(ctx, store.OrderTopic(o.Token), h.StreamLimit, render)
	switch {
	case errors.Is(err, live.ErrLimit):
		return &Error{Status: http.StatusTooManyRequests, Code: "too_many_streams",
			Message: "Too many live pages are open; close some and reload this one.", Err: err}
	case err != nil:
		return fmt.Errorf("%w: %w", errNoFanout, err)
	}
	// Read after attaching: later steps come through the stream.
	if o, err = h.Store.OrderGetByToken(ctx, o.Token); err != nil {
		st.Cancel()
		return err
	}
	var b bytes.Buffer
	if err := views.OrderStatus(h.orderStatusView(o)).Render(ctx, &b); err != nil {
		st.Cancel()
		return err
	}

	conn, _, err := http.NewResponseController(c.Response().Writer).Hijack()
	if err != nil {
		st.Cancel()
		return fmt.Errorf("%w: %w", errNoFanout, err)
	}
	hd := c.Response().Header().Clone()
	hd.Set(echo.HeaderContentType, "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	hd.Set("Connection", "close") // the body ends when the connection does
	hd.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	_ = hd.Write(&head)
	head.WriteString("\r\n")
	head.WriteString(sseEvent("status", 0, b.String()))
	st.Start(conn, head.Bytes())
	return nil
}

// errNoFanout means a stream cannot be served by the Fanout.
var errNoFanout = errors.New("stream not taken over")

// staffEvents is the portal's live stream: the person's notifications
// as they happen (a list item, a toast and the unread count), and a
// signal to lists that new rows arrived. An event reaches the person
// only if their role lets them see it, checked when the stream opens
// and again for every event: a change to their access reaches the
// stream, in order, before any later event. A browser that reconnects
// with Last-Event-ID is sent what it missed, once, in order.
func (h *Handlers) staffEvents(c echo.Context) error {
	ctx := c.Request().Context()
	u, _ := auth.CurrentUser(c)
	device := auth.CurrentDevice(c)
	sub, err := h.subscribe(ctx, "user:"+strconv.FormatInt(u.ID, 10), store.TopicStaff, store.UserTopic(u.ID))
	if err != nil {
		return err
	}
	defer sub.Close()
	viewer := notificationViewer(u)

	s := h.newStream(c, "staff")
	defer s.end()
	csrf := csrfToken(c)
	// notify sends a notification for the centre's list and, as it
	// happens (not when replayed), a toast.
	notify := func(e store.Event, toast bool) error {
		n := h.notificationView(e, false)
		if err := s.render("notification", e.ID, views.NotificationItem(n, csrf)); err != nil {
			return err
		}
		if !toast {
			return nil
		}
		if err := s.render("toast", e.ID, views.NotificationToast(n)); err != nil {
			return err
		}
		if e.Kind == store.EventLeadCreated {
			return s.event("leads", e.ID, "")
		}
		return nil
	}
	badge := func(id int64) error {
		unread, err := h.Store.NotificationUnread(ctx, viewer)
		if err != nil {
			return err
		}
		return s.render("badge", id, views.NotificationBadge(unread))
	}

	if last := lastEventID(c); last > 0 && last < sub.From {
		missed, err := h.Store.NotificationsBetween(ctx, viewer, last, sub.From, replayLimit)
		if err != nil {
			return nil
		}
		if len(missed) >= replayLimit {
			// Too much to send: an open notification centre reloads.
			if s.event("stale", sub.From, "") != nil {
				return nil
			}
		} else {
			for _, e := range missed {
				if notify(e, false) != nil {
					return nil
				}
			}
		}
	}
	if badge(sub.From) != nil {
		return nil
	}

	check := func() bool {
		// The device may have been signed out since the stream opened.
		alive, err := h.Sessions.Devices().Seen(ctx, device, c.RealIP(), c.Request().UserAgent())
		return err != nil || alive // Redis away: sessions cannot be checked, nor renewed
	}
	return s.loop(sub, check, func(e store.Event) error {
		if e.Kind == store.EventSignedOut {
			// Some of the person's devices were signed out: this one?
			if !check() {
				return errStreamDone
			}
			return nil
		}
		if e.Topic != store.TopicStaff {
			// The person's access changed; the event says to what.
			u.Role, u.Status = e.Data["role"], e.Data["status"]
			if !u.Active() {
				return errStreamDone
			}
			viewer = notificationViewer(u)
			return badge(e.ID)
		}
		if !viewer.Sees(e) {
			return nil
		}
		if err := notify(e, true); err != nil {
			return err
		}
		return badge(e.ID)
	})
}

// subscribe opens a hub subscription, at most StreamLimit per key.
func (h *Handlers) subscribe(ctx context.Context, key string, topics ...string) (*live.Subscription, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	sub, err := h.Hub.Subscribe(ctx, key, h.StreamLimit, topics...)
	switch {
	case errors.Is(err, live.ErrLimit):
		return nil, &Error{Status: http.StatusTooManyRequests, Code: "too_many_streams",
			Message: "Too many live pages are open; close some and reload this one.", Err: err}
	case err != nil:
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: "live_unavailable",
			Message: "Live updates are unavailable; the page will try again.", Err: err}
	}
	return sub, nil
}

// lastEventID is the id of the last event the browser received, which
// EventSource sends when it reconnects.
func lastEventID(c echo.Context) int64 {
	id, err := strconv.ParseInt(c.Request().Header.Get("Last-Event-ID"), 10, 64)
	if err != nil || id < 0 {
		return 0
	}
	return id
}

// errStreamDone ends a stream from inside its loop.
var errStreamDone = errors.New("stream done")

// stream writes Server-Sent Events with a deadline on every write: there
// is no server-wide write timeout, which would cut every stream.
type stream struct {
	c        echo.Context
	rc       *http.ResponseController
	stopping <-chan struct{}
	end      func()
}

func (h *Handlers) newStream(c echo.Context, kind string) *stream {
	hd := c.Response().Header()
	hd.Set(echo.HeaderContentType, "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	// nginx and similar proxies would otherwise buffer the stream.
	hd.Set("X-Accel-Buffering", "no")
	c.Response().WriteHeader(http.StatusOK)
	open := h.Metrics.Streams.WithLabelValues(kind)
	open.Inc()
	return &stream{c: c, rc: http.NewResponseController(c.Response()), stopping: h.Stopping, end: open.Dec}
}

func (s *stream) write(text string) error {
	if err := s.rc.SetWriteDeadline(time.Now().Add(live.WriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := fmt.Fprint(s.c.Response(), text); err != nil {
		return err
	}
	s.c.Response().Flush()
	return nil
}

// event writes one named event; each line of data gets its own field.
// An id above 0 becomes the event's id, which the browser sends back as
// Last-Event-ID when it reconnects.
func (s *stream) event(name string, id int64, data string) error {
	return s.write(sseEvent(name, id, data))
}

// sseEvent formats one named event; each line of data gets its own
// field.
func sseEvent(name string, id int64, data string) string {
	var b strings.Builder
	if id > 0 {
		b.WriteString("id: " + strconv.FormatInt(id, 10) + "\n")
	}
	b.WriteString("event: " + name + "\n")
	for line := range strings.SplitSeq(data, "\n") {
		b.WriteString("data: " + line + "\n")
	}
	b.WriteString("\n")
	return b.String()
}

// render writes a component as one event.
func (s *stream) render(name string, id int64, component templ.Component) error {
	var b bytes.Buffer
	if err := component.Render(s.c.Request().Context(), &b); err != nil {
		return err
	}
	return s.event(name, id, b.String())
}

// loop hands each event to send, with a heartbeat between them (which
// first asks check, when given, whether the stream may go on), until the
// client leaves, the stream's lifetime ends, the subscription ends or
// the server stops. Unless the client left, it then tells the browser
// when to reconnect.
func (s *stream) loop(sub *live.Subscription, check func() bool, send func(store.Event) error) error {
	ctx := s.c.Request().Context()
	heartbeat := time.NewTicker(live.HeartbeatEvery)
	defer heartbeat.Stop()
	lifetime := time.NewTimer(live.StreamLifetime)
	defer lifetime.Stop()

	retry := func() error {
		_ = s.write(live.Retry)
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.stopping:
			return retry()
		case <-lifetime.C:
			return retry()
		case e, ok := <-sub.C:
			if !ok {
				// Dropped for falling behind, or the hub stopped: the
				// browser comes back and reads what it missed.
				return retry()
			}
			if err := send(e); err != nil {
				return nil
			}
		case <-heartbeat.C:
			if check != nil && !check() {
				return nil
			}
			if err := s.write(": heartbeat\n\n"); err != nil {
				return nil
			}
		}
	}
}

// notificationViewer is whom notifications are read for: u, with the
// notification permissions u's role holds.
func notificationViewer(u store.User) store.Viewer {
	v := store.Viewer{UserID: u.ID, Permissions: []string{}}
	role := auth.Role(u.Role)
	for _, p := range store.NotificationPermissions {
		if role.Can(auth.Permission(p)) {
			v.Permissions = append(v.Permissions, p)
		}
	}
	return v
}

// notificationView says in words what an event means and where it
// leads.
func (h *Handlers) notificationView(e store.Event, read bool) views.NotificationView {
	d := e.Data
	id, _ := strconv.ParseInt(d["lead_id"]+d["order_id"], 10, 64)
	n := views.NotificationView{
		ID: e.ID, At: e.CreatedAt.UTC().Format("2 Jan 15:04 UTC"), Read: read,
		ReadURL: h.url("notification.read", e.ID),
	}
	switch e.Kind {
	case store.EventLeadCreated:
		n.Text, n.URL = "New lead: "+d["name"], h.url("lead.show", id)
	case store.EventLeadAssigned:
		n.Text, n.URL = d["by"]+" gave you the lead "+d["name"], h.url("lead.show", id)
	case store.EventOrderCreated:
		n.Text, n.URL = "New order from "+d["name"], h.url("admin.order.show", id)
	case store.EventOrderFailed:
		n.Text, n.URL = "Order "+d["order_id"]+" is failing: "+d["error"], h.url("admin.order.show", id)
	case store.EventJobDiscarded:
		n.Text = fmt.Sprintf("Job %s #%s was given up after %s attempts: %s", d["kind"], d["job_id"], d["attempts"], d["error"])
	default:
		n.Text = e.Kind
	}
	return n
}
