package e2e

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"keel/app"
	"keel/auth"
	"keel/testenv"
)

// An editor uploads an image straight to object storage with a progress
// bar, puts it in a post, and schedules the post; once the job has
// published it, the public page shows the post and its image.
func TestBrowserBlog(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	base := "http://" + addr
	// A bucket of its own: its CORS rule names this server's origin.
	bucket := strings.ReplaceAll(testenv.Unique("blog"), "-", "")
	a := testenv.NewApp(t, app.Options{Workers: true}, "KEEL_BASE_URL="+base, "KEEL_S3_BUCKET="+bucket)
	serveAt(t, a, addr)
	ctx := context.Background()
	require.NoError(t, a.Blob.EnsureBucket(ctx, base))
	u := testenv.CreateUser(t, a, auth.RoleEditor)

	img := image.NewRGBA(image.Rect(0, 0, 48, 32))
	for x := range 48 {
		for y := range 32 {
			img.Set(x, y, color.RGBA{R: uint8(x * 5), G: 90, B: 160, A: 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	// The library lists every upload, so this one has a name of its own.
	name := testenv.Unique("harbour") + ".png"
	file := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(file, buf.Bytes(), 0o600))

	b := browser(t)
	require.NoError(t, chromedp.Do(b,
		chromedp.Navigate(base+"/signin"),
		signInWith(u.Email, testenv.TestPassword),
		chromedp.WaitVisible(chromedp.CSS(".admin-main")),
		chromedp.Navigate(base+"/admin/media"),
		chromedp.WaitReady(chromedp.CSS("#media-file")),
	))
	checkA11y(t, b)
	require.NoError(t, chromedp.Do(b,
		chromedp.Evaluate[chromedp.Void](`window.progressSeen = 0; document.addEventListener("progress",
			e => { if (e.target.tagName === "PROGRESS") window.progressSeen++ }, true)`),
		chromedp.SetUploadFiles(chromedp.CSS("#media-file"), []string{file}),
		chromedp.WaitVisible(chromedp.CSS("#media-uploads .upload-done")),
	))
	value, err := chromedp.Run(b, chromedp.Evaluate[float64](`document.querySelector("#media-uploads progress").value`))
	require.NoError(t, err)
	require.Equal(t, 100.0, value, "the progress bar went to the end")

	// The page reloads with the file in the library.
	require.NoError(t, chromedp.Do(b,
		chromedp.WaitNotPresent(chromedp.CSS("#media-uploads li")),
		chromedp.WaitVisible(chromedp.CSS(".media-grid .media-url")),
	))
	address, err := chromedp.Run(b, chromedp.Evaluate[string](`[...document.querySelectorAll(".media-item")]
		.find(li => li.querySelector(".media-name").textContent === "`+name+`")
		.querySelector(".media-url").value`))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(address, base+"/files/media/"), address)
	require.True(t, strings.HasSuffix(address, "/"+name), address)

	slug := testenv.Unique("harbour-news")
	require.NoError(t, chromedp.Do(b,
		chromedp.Navigate(base+"/admin/posts/new"),
		chromedp.SendKeys(chromedp.CSS("#post-title"), "Harbour news"),
		chromedp.SendKeys(chromedp.CSS("#post-slug"), slug),
		chromedp.SendKeys(chromedp.CSS("#post-body"), "The harbour this morning:\n\n![The harbour]("+address+")"),
		chromedp.WaitVisible(chromedp.CSS("#post-preview img")),
	))
	checkA11y(t, b)
	at := time.Now().UTC().Add(4 * time.Second).Format("2006-01-02T15:04:05")
	require.NoError(t, chromedp.Do(b,
		chromedp.Click(chromedp.CSS(`#post-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#post-status")),
		chromedp.SetValue(chromedp.CSS("#post-publish-at"), at),
		chromedp.Click(chromedp.CSS(`.schedule button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#post-status[data-status="scheduled"]`)),
	))
	require.Equal(t, "scheduled", text(t, b, "#post-status"))
	resp, err := http.Get(base + "/blog/" + slug)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "not before its time")

	// The publish job runs at the time; the public page then shows the
	// post with its image, loaded from object storage.
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/blog/" + slug)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, time.Minute, 250*time.Millisecond, "the job published the post")
	require.NoError(t, chromedp.Do(b,
		chromedp.Navigate(base+"/blog/"+slug),
		chromedp.WaitVisible(chromedp.CSS(".prose img")),
		chromedp.Poll[chromedp.Void](`document.querySelector(".prose img").complete && document.querySelector(".prose img").naturalWidth === 48`),
	))
	require.Equal(t, "Harbour news", text(t, b, "article h1"))
	checkA11y(t, b)
}
