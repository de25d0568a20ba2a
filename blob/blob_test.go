package blob_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"keel/app"
	"keel/testenv"
)

// The bucket's CORS rule, set by Keel's own setup, lets the site's pages
// upload and no other origin.
func TestBucketCORSAllowsOnlyTheSite(t *testing.T) {
	t.Parallel()
	bucket := strings.ReplaceAll(testenv.Unique("cors"), "-", "")
	site := "http://127.0.0.1:8080"
	a := testenv.NewApp(t, app.Options{}, "KEEL_BASE_URL="+site, "KEEL_S3_BUCKET="+bucket)
	ctx := context.Background()
	require.NoError(t, a.Blob.EnsureBucket(ctx, site))
	require.NoError(t, a.Blob.EnsureBucket(ctx, site), "setting up twice is harmless")

	up, err := a.Blob.UploadURL(ctx, "media/cors/a.png", "image/png", 10, time.Minute)
	require.NoError(t, err)

	preflight := func(origin string) *http.Response {
		req, err := http.NewRequest(http.MethodOptions, up.URL, nil)
		require.NoError(t, err)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", http.MethodPut)
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp
	}
	resp := preflight(site)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, site, resp.Header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, resp.Header.Get("Access-Control-Allow-Methods"), http.MethodPut)

	resp = preflight("http://127.0.0.2:8080")
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "another origin may not upload")
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
}
