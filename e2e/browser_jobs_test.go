package e2e

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"keel/app"
	"keel/auth"
	"keel/testenv"
)

// River's UI runs inside the portal, under Keel's sign-in and its
// content security policy.
func TestBrowserJobsUI(t *testing.T) {
	t.Parallel()
	a := testenv.NewApp(t, app.Options{Workers: true})
	base := testenv.Serve(t, a)
	u := testenv.CreateUser(t, a, auth.RoleAdmin)

	b := browser(t)
	require.NoError(t, chromedp.Do(b,
		chromedp.Navigate(base+"/admin/jobs/"),
		chromedp.WaitVisible(chromedp.CSS("#signin-email")),
		signInWith(u.Email, testenv.TestPassword),
		chromedp.WaitReady(chromedp.CSS("#root")),
	))
	// Back where they were going, River's app draws its job list.
	require.NoError(t, chromedp.Do(b,
		chromedp.Poll[chromedp.Void](`location.pathname.startsWith("/admin/jobs/") &&
			document.body.innerText.includes("Completed") && document.body.innerText.includes("Discarded")`),
	))
}
