package handlers_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"keel/auth"
	"keel/testenv"
)

// River's UI is in the portal: jobs:read to look, jobs:write to change,
// and changes only from the site's own pages.
func TestJobsUI(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	ctx := context.Background()
	pool := testenv.Pool(t)
	// A job given up on, in a queue no worker serves.
	var id int64
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO river_job (state, args, kind, max_attempts, attempt, queue, finalized_at)
		VALUES ('discarded', '{}', 'keel_ui_test', 1, 1, 'keel_ui_test', now()) RETURNING id`).Scan(&id))
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DELETE FROM river_job WHERE id = $1", id) })
	state := func() string {
		var s string
		require.NoError(t, pool.QueryRow(ctx, "SELECT state FROM river_job WHERE id = $1", id).Scan(&s))
		return s
	}

	superadmin, _ := signedIn(t, a, auth.RoleSuperadmin)
	admin, _ := signedIn(t, a, auth.RoleAdmin)
	editor, _ := signedIn(t, a, auth.RoleEditor)

	page := admin.Get("/admin/jobs/")
	require.Equal(t, http.StatusOK, page.Code)
	require.Contains(t, page.Body.String(), "<title>River</title>")
	list := admin.Get("/admin/jobs/api/jobs/" + strconv.FormatInt(id, 10))
	require.Equal(t, http.StatusOK, list.Code, list.Body.String())
	require.Contains(t, list.Body.String(), "keel_ui_test")
	require.Equal(t, http.StatusForbidden, editor.Get("/admin/jobs/api/jobs").Code)
	link := doc(t, admin.Get("/admin")).Find(`nav a:contains("Jobs")`)
	require.Equal(t, "/admin/jobs/", link.AttrOr("href", ""))

	retry := func(c *testenv.Client, headers ...string) int {
		req, err := http.NewRequest(http.MethodPost, "/admin/jobs/api/jobs/retry",
			strings.NewReader(`{"ids":["`+strconv.FormatInt(id, 10)+`"]}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		return c.Do(req).Code
	}
	origin := strings.TrimSuffix(a.Config.BaseURL, "/")
	require.Equal(t, http.StatusForbidden, retry(admin, "Origin", origin, "Sec-Fetch-Site", "same-origin"), "jobs:read only")
	require.Equal(t, http.StatusForbidden, retry(superadmin), "no Origin")
	require.Equal(t, http.StatusForbidden, retry(superadmin, "Origin", "https://elsewhere.example"))
	require.Equal(t, http.StatusForbidden, retry(superadmin, "Origin", origin, "Sec-Fetch-Site", "cross-site"))
	require.Equal(t, "discarded", state(), "nothing was changed")

	require.Equal(t, http.StatusOK, retry(superadmin, "Origin", origin, "Sec-Fetch-Site", "same-origin"))
	require.Equal(t, "available", state())
}
