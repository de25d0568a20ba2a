package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"keel/app"
	"keel/auth"
	"keel/store"
	"keel/testenv"
)

// browser starts a headless Chromium for one test, with its profile and
// home in the test's temporary folder.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	require.NoError(t, err, "Chromium is needed; scripts/tools.sh --test installs it")

	home := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(home+"/profile"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1280, 900),
		chromedp.Env("HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_CACHE_HOME="+home),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	require.NoError(t, chromedp.Do(ctx))
	return ctx
}

var axeSource = func() string {
	b, err := os.ReadFile("node_modules/axe-core/axe.min.js")
	if err != nil {
		return ""
	}
	return string(b)
}()

type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []string `json:"target"`
	} `json:"nodes"`
}

// checkA11y runs axe-core on the current page and fails the test on any
// serious or critical violation of WCAG 2.2 A and AA.
func checkA11y(t *testing.T, ctx context.Context) {
	t.Helper()
	require.NotEmpty(t, axeSource, "axe-core is needed; scripts/tools.sh --test installs it")

	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](axeSource+";true"))
	require.NoError(t, err)
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`
		axe.run(document, {runOnly: {type: "tag", values:
			["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}})
		.then(r => JSON.stringify(r.violations))`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)

	var violations []axeViolation
	require.NoError(t, json.Unmarshal([]byte(raw), &violations))
	url, _ := chromedp.Run(ctx, chromedp.Location())
	for _, v := range violations {
		if v.Impact == "serious" || v.Impact == "critical" {
			var where []string
			for _, n := range v.Nodes {
				where = append(where, strings.Join(n.Target, " "))
			}
			t.Errorf("%s: accessibility %s (%s): %s at %v", url, v.ID, v.Impact, v.Help, where)
		}
	}
}

// signInWith fills in and sends the sign-in form on the current page.
func signInWith(email, password string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.SendKeys(chromedp.CSS("#signin-email"), email),
		chromedp.SendKeys(chromedp.CSS("#signin-password"), password),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
	)
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(t, err)
	return s
}

// A visitor finds the contact form from the home page, is told what to
// fix, sends the request, sees the confirmation, and gets the
// acknowledgement by email.
func TestBrowserContactRequest(t *testing.T) {
	t.Parallel()
	a := testenv.NewApp(t, app.Options{Workers: true})
	base := testenv.Serve(t, a)
	ctx := browser(t)
	email := testenv.Unique("browser") + "@example.com"

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(base+"/")))
	require.Equal(t, "Software your business can lean on", text(t, ctx, "h1"))
	checkA11y(t, ctx)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`nav a[href="/contact"]`)),
		chromedp.WaitVisible(chromedp.CSS("#contact-form")),
	))
	checkA11y(t, ctx)

	// An empty submit: htmx swaps in the form with a message per field.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#contact-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#contact-name-error")),
	))
	require.Equal(t, "Please tell us your name.", text(t, ctx, "#contact-name-error"))
	require.Contains(t, text(t, ctx, "#contact-message-error"), "at least 10")
	checkA11y(t, ctx)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#contact-name"), "Grace Browser"),
		chromedp.SendKeys(chromedp.CSS("#contact-email"), email),
		chromedp.SendKeys(chromedp.CSS("#contact-company"), "Navy Labs"),
		chromedp.SendKeys(chromedp.CSS("#contact-message"), "We need a new ordering site before spring."),
		chromedp.Click(chromedp.CSS(`#contact-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#contact-form[role="status"]`)),
	))
	require.Contains(t, text(t, ctx, "#contact-form"), "Thank you, Grace Browser.")
	require.Contains(t, text(t, ctx, "#contact-form"), email)
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.Equal(t, base+"/contact", loc, "htmx answered in place")
	checkA11y(t, ctx)

	msgs := testenv.MailTo(t, email, 20*time.Second)
	require.Len(t, msgs, 1)
	require.Equal(t, "We received your message", msgs[0].Subject)
	require.Contains(t, msgs[0].Text, "Hello Grace Browser")
}

// Without JavaScript the form still works: a plain post, a redirect, and
// a confirmation page.
func TestBrowserContactWithoutJavaScript(t *testing.T) {
	t.Parallel()
	a := testenv.NewApp(t, app.Options{Workers: true})
	base := testenv.Serve(t, a)
	ctx := browser(t)
	email := testenv.Unique("nojs") + "@example.com"

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled,
				emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}),
		chromedp.Navigate(base+"/contact"),
		chromedp.SendKeys(chromedp.CSS("#contact-name"), "Plain Poster"),
		chromedp.SendKeys(chromedp.CSS("#contact-email"), "not-an-address"),
		chromedp.SendKeys(chromedp.CSS("#contact-message"), "Hello, we would like a quote."),
		chromedp.Click(chromedp.CSS(`#contact-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#contact-email-error")),
	))
	require.Contains(t, text(t, ctx, "#contact-email-error"), "does not look like an email")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#contact-email"), email),
		chromedp.Click(chromedp.CSS(`#contact-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[role="status"]`)),
	))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.Equal(t, base+"/contact/thanks", loc)
	require.Len(t, testenv.MailTo(t, email, 20*time.Second), 1)
}

// The error pages are styled and accessible too.
func TestBrowserNotFound(t *testing.T) {
	t.Parallel()
	a := testenv.NewApp(t, app.Options{})
	base := testenv.Serve(t, a)
	ctx := browser(t)

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(base+"/no/such/page")))
	require.Equal(t, "Page not found", text(t, ctx, "h1"))
	require.Contains(t, text(t, ctx, ".request-id"), "Request id: ")
	checkA11y(t, ctx)
}

// On a phone-sized screen nothing overflows sideways.
func TestBrowserNarrowScreen(t *testing.T) {
	t.Parallel()
	a := testenv.NewApp(t, app.Options{})
	base := testenv.Serve(t, a)
	ctx := browser(t)

	for _, path := range []string{"/", "/contact"} {
		require.NoError(t, chromedp.Do(ctx,
			chromedp.EmulateViewport(360, 740),
			chromedp.Navigate(base+path),
		))
		overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
			`document.documentElement.scrollWidth > document.documentElement.clientWidth`))
		require.NoError(t, err)
		require.False(t, overflow, fmt.Sprintf("%s scrolls sideways at 360 px", path))
		checkA11y(t, ctx)
	}
}

// A staff member signs in, works in the portal, signs out; Back then
// shows no private page, because private pages are never stored.
func TestBrowserSignInAndOut(t *testing.T) {
	t.Parallel()
	a := testenv.NewApp(t, app.Options{Conn: testenv.Pool(t)})
	base := testenv.Serve(t, a)
	u := testenv.CreateUser(t, a, auth.RoleAdmin)
	ctx := browser(t)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/admin/users"),
		chromedp.WaitVisible(chromedp.CSS("#signin-email")),
	))
	checkA11y(t, ctx)

	require.NoError(t, chromedp.Do(ctx,
		signInWith(u.Email, "not the password"),
		chromedp.WaitVisible(chromedp.CSS("#signin-error")),
	))
	require.Equal(t, "The email or password is not right.", text(t, ctx, "#signin-error"))

	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#signin-password"), testenv.TestPassword),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(".admin-main h1")),
	))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.Equal(t, base+"/admin/users", loc, "back where they were heading")
	require.Equal(t, "Users", text(t, ctx, ".admin-main h1"))
	checkA11y(t, ctx)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`nav a[href="/admin/audit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#audit-results")),
	))
	require.Contains(t, text(t, ctx, "#audit-results"), "auth.sign_in")
	checkA11y(t, ctx)

	for _, page := range []string{"/admin/account", "/admin/users/new", "/admin/users/" + strconv.FormatInt(u.ID, 10)} {
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(base+page)))
		checkA11y(t, ctx)
	}

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`.admin-user button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#signin-email")),
	))
	require.Equal(t, "You are signed out.", text(t, ctx, `[role="status"]`))

	require.NoError(t, chromedp.Do(ctx,
		chromedp.NavigateBack(),
		chromedp.WaitVisible(chromedp.CSS("#signin-email")),
	))
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
	require.NoError(t, err)
	require.NotContains(t, html, "auth.sign_in", "Back shows no private content")
	require.NotContains(t, html, "admin-main")
}

// Staff work a lead: the dashboard, the list filtered through htmx (the
// URL follows), the lead's page, a status change and a note.
func TestBrowserLeadPipeline(t *testing.T) {
	t.Parallel()
	a := testenv.NewApp(t, app.Options{Conn: testenv.Pool(t)})
	base := testenv.Serve(t, a)
	u := testenv.CreateUser(t, a, auth.RoleAdmin)
	tag := testenv.Unique("browserco")
	l, err := a.Store.LeadCreate(context.Background(), store.Actor{ID: u.ID, Email: u.Email}, store.ContactRequest{
		Name: "Browser Lead", Email: tag + "@example.com", Company: tag, Message: "Please call back.",
	}, nil)
	require.NoError(t, err)
	ctx := browser(t)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/signin"),
		signInWith(u.Email, testenv.TestPassword),
		chromedp.WaitVisible(chromedp.CSS("#pipeline-title")),
	))
	checkA11y(t, ctx)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/admin/leads?q="+tag),
		chromedp.WaitVisible(chromedp.CSS("#lead-results table")),
	))
	checkA11y(t, ctx)
	require.Contains(t, text(t, ctx, "#lead-results"), "Browser Lead")

	// Choosing a status filters in place, and the URL follows.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#lead-status"), "WON"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#lead-status").dispatchEvent(new Event("change", {bubbles: true}))`),
		chromedp.WaitVisible(chromedp.CSS("#lead-results .empty")),
	))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.Contains(t, loc, "status=WON")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/admin/leads/"+strconv.FormatInt(l.ID, 10)),
		chromedp.WaitVisible(chromedp.CSS("#lead-status-set")),
	))
	checkA11y(t, ctx)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#lead-status-set"), "QUALIFIED"),
		chromedp.Click(chromedp.CSS(`#lead-status-set ~ button, form[action$="/status"] button`)),
		chromedp.WaitVisible(chromedp.CSS(".facts .status-QUALIFIED")),
		chromedp.SendKeys(chromedp.CSS("#lead-note"), "Qualified on the phone."),
		chromedp.Click(chromedp.CSS(`form[action$="/notes"] button`)),
		chromedp.WaitVisible(chromedp.CSS(".note-body")),
	))
	require.Contains(t, text(t, ctx, ".timeline"), "changed the status from NEW to QUALIFIED")
	require.Equal(t, "Qualified on the phone.", text(t, ctx, ".note-body"))

	// A bulk change: choosing its status must not reload the list (and
	// lose the selection); after it, the list keeps its filter.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/admin/leads?q="+tag),
		chromedp.WaitVisible(chromedp.CSS(`#lead-bulk input[type="checkbox"]`)),
		chromedp.Click(chromedp.CSS(`#lead-bulk input[type="checkbox"]`)),
		chromedp.SetValue(chromedp.CSS("#bulk-status"), "WON"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#bulk-status").dispatchEvent(new Event("change", {bubbles: true}))`),
		chromedp.Sleep(300*time.Millisecond),
		chromedp.Click(chromedp.CSS(`#lead-bulk button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.admin-main [role="status"]`)),
	))
	require.Equal(t, "1 lead(s) updated.", text(t, ctx, `.admin-main [role="status"]`))
	loc, err = chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.Contains(t, loc, "q="+tag)
	require.Contains(t, text(t, ctx, "#lead-results"), "WON")
}

// A customer orders from the catalogue and watches the order go from
// received to invoiced to emailed on its status page, live.
func TestBrowserOrder(t *testing.T) {
	t.Parallel()
	// The server works no jobs: the order waits until a worker (another
	// app, as another process would be) starts, after the page is open.
	// Both use a database of their own, where no other test's worker
	// runs, and a cache of their own.
	dbURL, pool := testenv.Database(t)
	cachePrefix := testenv.Unique("browser-order") + ":"
	a := testenv.NewApp(t, app.Options{Conn: pool, CachePrefix: cachePrefix}, "KEEL_DATABASE_URL="+dbURL)
	base := testenv.Serve(t, a)
	p, err := a.Store.ProductCreate(context.Background(), store.Actor{}, store.ProductInput{
		SKU: "B-" + testenv.Unique("")[1:], Name: "Browser Product", PriceMinor: 25000, Currency: "EUR", Active: true,
	})
	require.NoError(t, err)
	email := testenv.Unique("shopper") + "@example.com"
	ctx := browser(t)

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(base+"/catalogue")))
	require.Contains(t, text(t, ctx, "main"), "Browser Product")
	checkA11y(t, ctx)

	qty := "#order-qty-" + strconv.FormatInt(p.ID, 10)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/order"),
		chromedp.WaitVisible(chromedp.CSS(qty)),
	))
	checkA11y(t, ctx)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(qty), "2"),
		chromedp.SendKeys(chromedp.CSS("#order-name"), "Bea Browser"),
		chromedp.SendKeys(chromedp.CSS("#order-email"), email),
		chromedp.Click(chromedp.CSS(`#order-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#order-status")),
	))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.Regexp(t, `/orders/[A-Z2-7]{52}$`, loc)
	require.Contains(t, text(t, ctx, "#order-status"), "Preparing your invoice")
	checkA11y(t, ctx)

	// A worker starts and works the order; the open page follows it
	// over Server-Sent Events, without a reload.
	require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`window.keelNoReload = true`)))
	worker := testenv.NewApp(t, app.Options{Workers: true, CachePrefix: cachePrefix}, "KEEL_DATABASE_URL="+dbURL)
	testenv.Serve(t, worker)
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(".order-done"))))
	same, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.keelNoReload === true`))
	require.NoError(t, err)
	require.True(t, same, "the page was updated in place, not reloaded")
	status := text(t, ctx, "#order-status")
	require.Contains(t, status, "Confirmation sent to "+email)
	require.Contains(t, status, "Download invoice")
	checkA11y(t, ctx)
	require.Len(t, testenv.MailTo(t, email, 10*time.Second), 1)
}
