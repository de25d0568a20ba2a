package handlers_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/stretchr/testify/require"

	"keel/app"
	"keel/auth"
	"keel/live"
	"keel/store"
	"keel/testenv"
)

type sseEvent = testenv.SSEEvent

// liveApp serves an app on the pool: live events are read once
// committed, so these tests commit.
func liveApp(t *testing.T, overrides ...string) (*app.App, string) {
	t.Helper()
	a := testenv.NewApp(t, app.Options{Conn: testenv.Pool(t)}, overrides...)
	return a, testenv.Serve(t, a)
}

// openStream opens the portal's live stream for c; lastID, when set, is
// sent as Last-Event-ID. Ending the test ends the stream.
func openStream(t *testing.T, c *testenv.Client, base, lastID string) (<-chan sseEvent, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := http.Header{}
	if lastID != "" {
		h.Set("Last-Event-ID", lastID)
	}
	resp := c.Open(ctx, base, "/admin/events", h)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	t.Cleanup(func() { _ = resp.Body.Close() })
	return testenv.ReadEvents(resp.Body), cancel
}

// nextEvent returns the stream's next event other than a heartbeat.
func nextEvent(t *testing.T, events <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case e, ok := <-events:
		require.True(t, ok, "the stream ended")
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
		return sseEvent{}
	}
}

// untilBadge collects the notifications that mention tag (all, for "")
// a stream sends up to its next unread count. Other tests running at
// the same time make notifications of their own.
func untilBadge(t *testing.T, events <-chan sseEvent, tag string) []string {
	t.Helper()
	var got []string
	for {
		e := nextEvent(t, events)
		switch e.Name {
		case "badge":
			return got
		case "notification":
			if text := textOf(t, e.Data); strings.Contains(text, tag) {
				got = append(got, text)
			}
		}
	}
}

// untilMine reads a stream until a notification that mentions tag, and
// returns the ones that do up to the count that follows.
func untilMine(t *testing.T, events <-chan sseEvent, tag string) []string {
	t.Helper()
	for {
		if got := untilBadge(t, events, tag); len(got) > 0 {
			return got
		}
	}
}

func textOf(t *testing.T, fragment string) string {
	t.Helper()
	d, err := goquery.NewDocumentFromReader(strings.NewReader(fragment))
	require.NoError(t, err)
	return strings.Join(strings.Fields(d.Find(".notification-text").Text()), " ")
}

func newLead(t *testing.T, a *app.App, name string) store.Lead {
	t.Helper()
	l, err := a.Store.ContactCreate(context.Background(), store.ContactRequest{
		Name: name, Email: testenv.Unique("live") + "@example.com", Message: "Live test.",
	}, func(store.Lead) (store.OutgoingEmail, error) {
		return store.OutgoingEmail{DedupeKey: testenv.Unique("live-ack"), Kind: "contact_ack",
			To: "ack@example.com", Subject: "Thanks", Text: "Thanks."}, nil
	})
	require.NoError(t, err)
	return l
}

// Each person hears only what their role may see: support gets leads
// and orders, not job failures; an editor gets none of them; a lead
// assigned to someone is news to that person only.
func TestStaffStreamByPermission(t *testing.T) {
	t.Parallel()
	a, base := liveApp(t)
	admin, adminUser := signedIn(t, a, auth.RoleAdmin)
	support, supportUser := signedIn(t, a, auth.RoleSupport)
	editor, editorUser := signedIn(t, a, auth.RoleEditor)
	adminEvents, _ := openStream(t, admin, base, "")
	supportEvents, _ := openStream(t, support, base, "")
	editorEvents, _ := openStream(t, editor, base, "")
	for _, ev := range []<-chan sseEvent{adminEvents, supportEvents, editorEvents} {
		require.Equal(t, "badge", nextEvent(t, ev).Name, "the count comes first")
	}

	name := testenv.Unique("Lena Live")
	lead := newLead(t, a, name)
	require.Equal(t, []string{"New lead: " + name}, untilMine(t, adminEvents, name))
	require.Equal(t, []string{"New lead: " + name}, untilMine(t, supportEvents, name))

	ctx := context.Background()
	job := testenv.Unique("job")
	require.NoError(t, a.Store.EventAdd(ctx, store.Event{
		Topic: store.TopicStaff, Kind: store.EventJobDiscarded, Permission: "jobs:read",
		Data: map[string]string{"job_id": job, "kind": "send_email", "attempts": "25", "error": "smtp down"},
	}))
	require.Equal(t, []string{"Job send_email #" + job + " was given up after 25 attempts: smtp down"},
		untilMine(t, adminEvents, job))

	_, err := a.Store.LeadAssign(ctx, store.Actor{ID: adminUser.ID, Email: adminUser.Email}, lead.ID, &supportUser.ID)
	require.NoError(t, err)
	require.Equal(t, []string{adminUser.Email + " gave you the lead " + name}, untilMine(t, supportEvents, "gave you"))

	// Then a lead: support sees it after the assignment, and nothing
	// between them was about this test (the job's failure included).
	newLead(t, a, name+" 2")
	require.Equal(t, []string{"New lead: " + name + " 2"}, untilMine(t, supportEvents, name))
	require.Equal(t, []string{"New lead: " + name + " 2"}, untilMine(t, adminEvents, name),
		"the assignment was not the admin's news")

	// A marker only the editor hears: what came before it reached the
	// editor's stream first, and none of it was shown.
	_, err = a.Store.UserSetStatus(ctx, store.Actor{ID: adminUser.ID}, editorUser.ID, store.UserActive)
	require.NoError(t, err)
	require.Empty(t, untilBadge(t, editorEvents, ""))
}

// A browser that reconnects with Last-Event-ID gets what it missed,
// once and in order, then the count.
func TestStaffStreamReplaysWhatWasMissed(t *testing.T) {
	t.Parallel()
	a, base := liveApp(t)
	admin, _ := signedIn(t, a, auth.RoleAdmin)
	events, stop := openStream(t, admin, base, "")
	first := nextEvent(t, events)
	require.Equal(t, "badge", first.Name)
	require.NotEmpty(t, first.ID)
	stop()

	tag := testenv.Unique("Missed")
	for i := range 3 {
		newLead(t, a, tag+" "+strconv.Itoa(i))
	}
	// Replayed from the store, or (those the server's hub has not
	// handed out yet) delivered live: either way each once, in order.
	again, _ := openStream(t, admin, base, first.ID)
	var got []string
	for len(got) < 3 {
		got = append(got, untilBadge(t, again, tag)...)
	}
	require.Equal(t, []string{"New lead: " + tag + " 0", "New lead: " + tag + " 1", "New lead: " + tag + " 2"}, got)

	// What the stream then sends is new.
	newLead(t, a, tag+" 3")
	require.Equal(t, []string{"New lead: " + tag + " 3"}, untilMine(t, again, tag))
}

// Losing a permission takes effect on an open stream before the next
// event; a disabled account's stream ends.
func TestStaffStreamFollowsAccessChanges(t *testing.T) {
	t.Parallel()
	a, base := liveApp(t)
	boss := testenv.CreateUser(t, a, auth.RoleSuperadmin)
	actor := store.Actor{ID: boss.ID, Email: boss.Email}
	c, u := signedIn(t, a, auth.RoleSupport)
	events, _ := openStream(t, c, base, "")
	require.Equal(t, "badge", nextEvent(t, events).Name)

	ctx := context.Background()
	_, err := a.Store.UserSetRole(ctx, actor, u.ID, string(auth.RoleEditor))
	require.NoError(t, err)
	hidden := testenv.Unique("Hidden")
	newLead(t, a, hidden)
	_, err = a.Store.UserSetStatus(ctx, actor, u.ID, store.UserDisabled)
	require.NoError(t, err)
	for e := range events { // until the stream ends
		if e.Name == "notification" {
			require.NotContains(t, textOf(t, e.Data), hidden, "an editor sees no leads")
		}
	}
}

// One person may hold only so many streams open on a server.
func TestStaffStreamLimit(t *testing.T) {
	t.Parallel()
	a, base := liveApp(t, "KEEL_LIVE_STREAM_LIMIT=2")
	c, _ := signedIn(t, a, auth.RoleSupport)
	openStream(t, c, base, "")
	openStream(t, c, base, "")
	resp := c.Open(context.Background(), base, "/admin/events", nil)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
}

// A stream whose browser leaves leaves nothing behind: its goroutines
// end and its subscription closes.
func TestStreamsLeaveNothingBehind(t *testing.T) {
	a, base := liveApp(t, "KEEL_LIVE_STREAM_LIMIT=100")
	c, _ := signedIn(t, a, auth.RoleSupport)
	runtime.GC()
	before := runtime.NumGoroutine()

	var stops []context.CancelFunc
	for range 20 {
		events, stop := openStream(t, c, base, "")
		require.Equal(t, "badge", nextEvent(t, events).Name)
		stops = append(stops, stop)
	}
	require.Equal(t, 20, a.Hub.Open())
	require.Greater(t, runtime.NumGoroutine(), before+20)
	for _, stop := range stops {
		stop()
	}
	require.Eventually(t, func() bool { return a.Hub.Open() == 0 }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= before+2 }, 10*time.Second, 20*time.Millisecond,
		"goroutines: %d before, %d after", before, runtime.NumGoroutine())
}

// The server's shutdown ends every stream with a hint to come back.
func TestStreamEndsWithRetryOnShutdown(t *testing.T) {
	t.Parallel()
	a := testenv.NewApp(t, app.Options{Conn: testenv.Pool(t)})
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()

	c, _ := signedIn(t, a, auth.RoleSupport)
	events, _ := openStream(t, c, base, "")
	require.Equal(t, "badge", nextEvent(t, events).Name)
	cancel()
	require.Equal(t, sseEvent{Name: "retry", Data: "3000"}, nextEvent(t, events))
	require.NoError(t, <-served)
}

// The notification centre lists what the person may see; marking one
// read answers with the item and the new count, and one the person may
// not see does not exist for them.
func TestNotificationCentre(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t)
	c, u := signedIn(t, a, auth.RoleSupport)
	other := testenv.CreateUser(t, a, auth.RoleSupport)
	ctx := context.Background()
	tag := testenv.Unique("centre")
	add := func(kind, perm string, to *int64, name string) int64 {
		require.NoError(t, a.Store.EventAdd(ctx, store.Event{
			Topic: store.TopicStaff, Kind: kind, Permission: perm, UserID: to,
			Data: map[string]string{"lead_id": "1", "name": name, "by": "someone@example.com", "job_id": name, "kind": "k"},
		}))
		var id int64
		require.NoError(t, tx.QueryRow(ctx, "SELECT id FROM events WHERE data->>'name' = $1", name).Scan(&id))
		return id
	}
	visible := add(store.EventLeadCreated, "leads:read", nil, tag+"-visible")
	add(store.EventJobDiscarded, "jobs:read", nil, tag+"-jobs")
	theirs := add(store.EventLeadAssigned, "leads:read", &other.ID, tag+"-theirs")
	mine := add(store.EventLeadAssigned, "leads:read", &u.ID, tag+"-mine")

	page := c.Get("/admin/notifications")
	require.Equal(t, http.StatusOK, page.Code)
	text := doc(t, page).Find("#notification-list").Text()
	require.Contains(t, text, tag+"-visible")
	require.Contains(t, text, tag+"-mine")
	require.NotContains(t, text, tag+"-jobs", "support cannot read jobs")
	require.NotContains(t, text, tag+"-theirs", "another person's assignment")

	req := httptest.NewRequest(http.MethodPost, "/admin/notifications/"+itoa(visible)+"/read", strings.NewReader(url.Values{"_csrf": {c.CSRF()}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("HX-Request", "true")
	rec := c.Do(req)
	require.Equal(t, http.StatusOK, rec.Code)
	d := doc(t, rec)
	require.Equal(t, 0, d.Find(".notification.unread").Length(), "the item comes back read")
	require.Equal(t, "true", d.Find("#notification-count").AttrOr("hx-swap-oob", ""), "with the page's new count")

	require.Equal(t, http.StatusNotFound, c.Post("/admin/notifications/"+itoa(theirs)+"/read", nil).Code)
	require.Equal(t, http.StatusNotFound, c.Post("/admin/notifications/abc/read", nil).Code)
	require.Equal(t, http.StatusBadRequest, c.Get("/admin/notifications?before=-1").Code)
	require.Equal(t, http.StatusBadRequest, c.Post("/admin/notifications/read", nil).Code, "no upto")

	rec = c.Post("/admin/notifications/read", url.Values{"upto": {itoa(mine)}})
	require.Equal(t, http.StatusSeeOther, rec.Code)
	require.Equal(t, 0, doc(t, c.Get("/admin/notifications")).Find(".notification.unread:contains('"+tag+"')").Length())
}

// Signing a person out everywhere ends their open streams at once, not
// at the next heartbeat.
func TestStaffStreamEndsWhenSignedOut(t *testing.T) {
	t.Parallel()
	a, base := liveApp(t)
	c, u := signedIn(t, a, auth.RoleSupport)
	other := testenv.NewClient(t, a)
	other.SignIn(u.Email, testenv.TestPassword)
	events, _ := openStream(t, c, base, "")
	require.Equal(t, "badge", nextEvent(t, events).Name)

	require.Equal(t, http.StatusSeeOther, other.Post("/admin/account/signout-everywhere", nil).Code)
	ended := make(chan struct{})
	go func() {
		for range events { //nolint:revive // drained until the stream ends
		}
		close(ended)
	}()
	select {
	case <-ended:
	case <-time.After(live.HeartbeatEvery / 2):
		t.Fatal("the stream went on after its device was signed out")
	}
}
