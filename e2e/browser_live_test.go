package e2e

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"keel/app"
	"keel/auth"
	"keel/store"
	"keel/testenv"
)

// serveAt runs a on addr until the returned stop is called (or the test
// ends), as one run of a server process.
func serveAt(t *testing.T, a *app.App, addr string) (stop func()) {
	t.Helper()
	var ln net.Listener
	require.Eventually(t, func() bool {
		var err error
		ln, err = new(net.ListenConfig).Listen(context.Background(), "tcp", addr)
		return err == nil
	}, 10*time.Second, 50*time.Millisecond, "listen on %s", addr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// A staff member's portal pages follow what happens, without a reload:
// a new lead shows as a toast, in the unread count and in the lead list,
// and the notification centre marks it read. When the server restarts,
// the page reconnects by itself and goes on.
func TestBrowserLiveNotifications(t *testing.T) {
	t.Parallel()
	a := testenv.NewApp(t, app.Options{Conn: testenv.Pool(t)})
	addr := freeAddr(t)
	stop := serveAt(t, a, addr)
	base := "http://" + addr
	u := testenv.CreateUser(t, a, auth.RoleAdmin)
	tag := testenv.Unique("livebrowser")
	ctx := browser(t)

	newLead := func(a *app.App, name string) {
		t.Helper()
		_, err := a.Store.ContactCreate(context.Background(), store.ContactRequest{
			Name: name, Email: testenv.Unique("lead") + "@example.com", Company: tag, Message: "Live in the browser.",
		}, func(store.Lead) (store.OutgoingEmail, error) {
			return store.OutgoingEmail{DedupeKey: testenv.Unique("ack"), Kind: "contact_ack",
				To: "ack@example.com", Subject: "Thanks", Text: "Thanks."}, nil
		})
		require.NoError(t, err)
	}

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/signin"),
		signInWith(u.Email, testenv.TestPassword),
		chromedp.WaitVisible(chromedp.CSS("#pipeline-title")),
		chromedp.Navigate(base+"/admin/leads?q="+tag),
		chromedp.WaitVisible(chromedp.CSS("#lead-results .empty")),
		chromedp.Evaluate[chromedp.Void](`window.keelNoReload = true`),
	))
	// The stream is open once the count arrived.
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS("#notification-count"))))
	time.Sleep(500 * time.Millisecond)

	newLead(a, "Nora Notified "+tag)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS("#toasts .toast")),
		chromedp.WaitVisible(chromedp.CSS("#lead-results table")),
	))
	require.Contains(t, text(t, ctx, "#toasts"), "New lead: Nora Notified "+tag)
	require.Contains(t, text(t, ctx, "#lead-results"), "Nora Notified")
	require.NotEmpty(t, text(t, ctx, "#notification-count"))
	same, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.keelNoReload === true`))
	require.NoError(t, err)
	require.True(t, same, "the page was updated in place")
	checkA11y(t, ctx)

	// The notification centre lists it; marking it read swaps the item.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/admin/notifications"),
		chromedp.WaitVisible(chromedp.CSS(".notification.unread")),
	))
	checkA11y(t, ctx)
	id, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll(".notification")]
		.find(li => li.textContent.includes(`+strconv.Quote(tag)+`)).id`))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#"+id+" button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#"+id+":not(.unread)")),
	))

	// The server restarts (a new process, as after a deploy); the open
	// page reconnects and goes on.
	require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`window.keelNoReload = true`)))
	stop()
	again := testenv.NewApp(t, app.Options{Conn: testenv.Pool(t)})
	serveAt(t, again, addr)
	time.Sleep(5 * time.Second) // the browser's reconnect delay
	newLead(again, "Otto After Restart "+tag)
	require.NoError(t, chromedp.Do(ctx, chromedp.Poll[chromedp.Void](
		`document.querySelector("#notification-list").textContent.includes(`+strconv.Quote("Otto After Restart "+tag)+`)`)))
	same, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`window.keelNoReload === true`))
	require.NoError(t, err)
	require.True(t, same, "the page was updated in place")
}
