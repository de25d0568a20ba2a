package e2e

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"keel/auth"
	"keel/store"
	"keel/testenv"
)

type sseEvent = testenv.SSEEvent

// openEvents opens a stream with c's cookies, sending lastID as
// Last-Event-ID when set. Events arrive on the channel until the stream
// ends; ending ctx ends it.
func openEvents(ctx context.Context, t *testing.T, c *http.Client, target, lastID string) <-chan sseEvent {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	require.NoError(t, err)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, target)
	return testenv.ReadEvents(resp.Body)
}

func nextEvent(t *testing.T, events <-chan sseEvent, within time.Duration) sseEvent {
	t.Helper()
	select {
	case e, ok := <-events:
		require.True(t, ok, "the stream ended")
		return e
	case <-time.After(within):
		t.Fatalf("no event within %s", within)
		return sseEvent{}
	}
}

// startWorker runs `keel worker` until the test ends.
func startWorker(t *testing.T, env ...string) {
	t.Helper()
	var logs bytes.Buffer
	cmd := exec.Command(keelBin, "worker")
	cmd.Env = testenv.Environ(env...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("keel worker logged:\n%s", logs.String())
		}
	})
}

var notificationText = regexp.MustCompile(`<a href="[^"]*">([^<]*)</a>`)

// Two server processes and one worker process on one database: the
// steps the worker records reach an order's page on either server, and
// a staff member's stream cut off for ten seconds gets what it missed
// when it comes back, once and in order.
func TestLiveAcrossProcesses(t *testing.T) {
	t.Parallel()
	dbURL, pool := testenv.Database(t)
	env := []string{"KEEL_DATABASE_URL=" + dbURL, "KEEL_CONTACT_LIMIT=1000", "KEEL_ORDER_LIMIT=1000"}
	one := startKeel(t, env...)
	two := startKeel(t, env...)
	startWorker(t, env...)
	s := store.New(pool, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// A staff member signs in on one and listens on two, through a
	// connection the test can cut.
	email := testenv.Unique("live") + "@example.com"
	create := exec.Command(keelBin, "user", "create", "--email", email, "--role", "admin", "--password-stdin")
	create.Env = testenv.Environ(env...)
	create.Stdin = strings.NewReader("a password for live streams\n")
	out, err := create.CombinedOutput()
	require.NoError(t, err, string(out))
	staff := browserLike(t)
	resp := submit(t, staff, one+"/signin", one+"/signin",
		url.Values{"email": {email}, "password": {"a password for live streams"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	twoURL, err := url.Parse(two)
	require.NoError(t, err)
	line := testenv.NewProxy(t, twoURL.Host)
	viaProxy := "http://" + line.Addr()
	proxyURL, err := url.Parse(viaProxy)
	require.NoError(t, err)
	staff.Jar.SetCookies(proxyURL, staff.Jar.Cookies(twoURL))
	oneURL, err := url.Parse(one)
	require.NoError(t, err)
	staff.Jar.SetCookies(proxyURL, staff.Jar.Cookies(oneURL))

	streamCtx, cut := context.WithCancel(ctx)
	staffEvents := openEvents(streamCtx, t, staff, viaProxy+"/admin/events", "")
	first := nextEvent(t, staffEvents, 10*time.Second)
	require.Equal(t, "badge", first.Name)

	// A customer orders on one; the order's page is open on both.
	p, err := s.ProductCreate(ctx, store.Actor{}, store.ProductInput{
		SKU: "LIVE-1", Name: "Live product", PriceMinor: 5000, Currency: "EUR", Active: true,
	})
	require.NoError(t, err)
	customer := browserLike(t)
	resp = submit(t, customer, one+"/order", one+"/orders", url.Values{
		"idempotency_key": {auth.RandomToken()}, "name": {"Cleo Cluster"}, "email": {testenv.Unique("cleo") + "@example.com"},
		"qty_" + itoa(p.ID): {"1"}, "price_" + itoa(p.ID): {"5000"}, "cur_" + itoa(p.ID): {"EUR"},
	})
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	page := resp.Header.Get("Location")
	onOne := openEvents(ctx, t, customer, one+page+"/events", "")
	onTwo := openEvents(ctx, t, customer, two+page+"/events", "")
	for name, events := range map[string]<-chan sseEvent{"one": onOne, "two": onTwo} {
		var last sseEvent
		for e := range events { // the stream ends once the order is done
			if e.Name == "status" {
				last = e
			}
		}
		require.Contains(t, last.Data, "Confirmation sent", "server %s showed the worker's last step", name)
	}

	// The staff stream is cut; three leads arrive on one meanwhile.
	line.Cut()
	cut()
	tag := testenv.Unique("Missed")
	visitor := browserLike(t)
	for _, n := range []string{"A", "B", "C"} {
		resp := submit(t, visitor, one+"/contact", one+"/contact", url.Values{
			"name": {tag + " " + n}, "email": {testenv.Unique("lead") + "@example.com"},
			"message": {"Sent while the staff stream was cut."},
		})
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	}
	time.Sleep(10 * time.Second)
	line.Restore()

	// It comes back where it left off, as EventSource does.
	lastID := first.ID
	for e := range staffEvents { // what it read before the cut
		if e.ID != "" {
			lastID = e.ID
		}
	}
	again := openEvents(ctx, t, staff, viaProxy+"/admin/events", lastID)
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < 3 && time.Now().Before(deadline) {
		e := nextEvent(t, again, 10*time.Second)
		if e.Name != "notification" {
			continue
		}
		if m := notificationText.FindStringSubmatch(e.Data); m != nil && strings.Contains(m[1], tag) {
			got = append(got, m[1])
		}
	}
	require.Equal(t, []string{"New lead: " + tag + " A", "New lead: " + tag + " B", "New lead: " + tag + " C"}, got)

	// Nothing of it comes twice: the next lead is the next notification
	// of this test's.
	resp = submit(t, visitor, one+"/contact", one+"/contact", url.Values{
		"name": {tag + " D"}, "email": {testenv.Unique("lead") + "@example.com"}, "message": {"Sent after the stream came back."},
	})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	for {
		e := nextEvent(t, again, 10*time.Second)
		if e.Name != "notification" {
			continue
		}
		m := notificationText.FindStringSubmatch(e.Data)
		require.NotNil(t, m)
		if strings.Contains(m[1], tag) {
			require.Equal(t, "New lead: "+tag+" D", m[1])
			break
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
