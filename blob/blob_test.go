package blob_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"keel/app"
	"keel/blob"
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

// A copy is made only of the object that was checked, and carries the
// headers Keel chooses, not the uploader's.
func TestPromoteOnlyTheCheckedObject(t *testing.T) {
	t.Parallel()
	a := testenv.NewApp(t, app.Options{})
	ctx := context.Background()
	require.NoError(t, a.Blob.EnsureBucket(ctx, a.Config.BaseURL))
	dir := testenv.Unique("promote")
	from, to := "uploads/"+dir+"/a.png", "media/"+dir+"/a.png"

	require.NoError(t, a.Blob.Put(ctx, from, "image/png", []byte("first")))
	checked, err := a.Blob.Head(ctx, from)
	require.NoError(t, err)
	require.NotEmpty(t, checked.ETag)
	start, err := a.Blob.ReadStart(ctx, from, checked.ETag, 3)
	require.NoError(t, err)
	require.Equal(t, "fir", string(start))

	require.NoError(t, a.Blob.Put(ctx, from, "image/png", []byte("second")))
	_, err = a.Blob.ReadStart(ctx, from, checked.ETag, 3)
	require.ErrorIs(t, err, blob.ErrChanged)
	require.ErrorIs(t, a.Blob.Promote(ctx, from, checked.ETag, to, "image/png"), blob.ErrChanged)
	_, err = a.Blob.Head(ctx, to)
	require.ErrorIs(t, err, blob.ErrNoObject, "nothing was copied")

	now, err := a.Blob.Head(ctx, from)
	require.NoError(t, err)
	require.NoError(t, a.Blob.Promote(ctx, from, now.ETag, to, "image/png"))
	copied, err := a.Blob.Head(ctx, to)
	require.NoError(t, err)
	require.Equal(t, int64(len("second")), copied.Size)
	require.Equal(t, "image/png", copied.ContentType)

	// Left-overs in the upload area go once they are old enough.
	n, err := a.Blob.DeleteOlder(ctx, "uploads/"+dir+"/", time.Now().Add(-time.Hour))
	require.NoError(t, err)
	require.Zero(t, n, "a fresh upload stays")
	n, err = a.Blob.DeleteOlder(ctx, "uploads/"+dir+"/", time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = a.Blob.Head(ctx, from)
	require.ErrorIs(t, err, blob.ErrNoObject)
}
