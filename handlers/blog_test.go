package handlers_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"keel/auth"
	"keel/store"
	"keel/testenv"
)

// An editor writes a post: bad input is refused with messages where
// they belong, the preview is sanitised, and the post is public only
// once published, at its address, with old addresses redirecting, its
// tag page, the feed and the sitemap.
func TestPostEditorAndPublicBlog(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	editor, _ := signedIn(t, a, auth.RoleEditor)
	slug := testenv.Unique("hello-blog")

	rec := editor.Post("/admin/posts", url.Values{"title": {""}, "slug": {"Bad Slug"}, "tags": {"Not A Tag"}, "body": {"x"}})
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	d := doc(t, rec)
	for _, id := range []string{"post-title", "post-slug", "post-tags"} {
		require.NotEmpty(t, d.Find("#"+id+"-error").Text(), id)
	}

	preview := editor.Post("/admin/posts/preview", url.Values{"body": {"**bold** <script>alert(1)</script> [x](javascript:alert(1))"}})
	require.Equal(t, http.StatusOK, preview.Code)
	require.Contains(t, preview.Body.String(), "<strong>bold</strong>")
	require.NotContains(t, preview.Body.String(), "<script")
	require.NotContains(t, preview.Body.String(), "javascript:")

	rec = editor.Post("/admin/posts", url.Values{
		"title": {"Hello, blog"}, "slug": {slug}, "excerpt": {"A first post."}, "tags": {"News, harbour-life"},
		"body": {"# Hello\n\nThe harbour at dawn."},
	})
	require.Equal(t, http.StatusSeeOther, rec.Code)
	edit := rec.Header().Get("Location")
	require.Equal(t, http.StatusNotFound, get(t, a, "/blog/"+slug).Code, "a draft is not public")

	require.Equal(t, http.StatusSeeOther, editor.Post(edit+"/publish", nil).Code)
	page := get(t, a, "/blog/"+slug)
	require.Equal(t, http.StatusOK, page.Code)
	d = doc(t, page)
	require.Equal(t, "Hello, blog", d.Find("article h1").First().Text())
	require.Contains(t, d.Find(".prose").Text(), "The harbour at dawn.")
	require.Equal(t, "article", d.Find(`meta[property="og:type"]`).AttrOr("content", ""))
	require.Contains(t, doc(t, get(t, a, "/blog/tag/harbour-life")).Text(), "Hello, blog")
	require.Contains(t, doc(t, get(t, a, "/blog")).Text(), "Hello, blog")
	feed := get(t, a, "/blog/feed.xml")
	require.Equal(t, http.StatusOK, feed.Code)
	require.Contains(t, feed.Header().Get("Content-Type"), "application/rss+xml")
	require.Contains(t, feed.Body.String(), "<title>Hello, blog</title>")
	require.Contains(t, get(t, a, "/sitemap.xml").Body.String(), "/blog/"+slug+"</loc>")

	renamed := slug + "-renamed"
	rec = editor.Post(edit, url.Values{"title": {"Hello again"}, "slug": {renamed}, "body": {"Changed."}})
	require.Equal(t, http.StatusSeeOther, rec.Code)
	old := get(t, a, "/blog/"+slug)
	require.Equal(t, http.StatusMovedPermanently, old.Code)
	require.Equal(t, "/blog/"+renamed, old.Header().Get("Location"))
	require.Contains(t, doc(t, get(t, a, "/blog/"+renamed)).Find(".prose").Text(), "Changed.")

	require.Equal(t, http.StatusNotFound, get(t, a, "/blog?page=0").Code)
	require.Equal(t, http.StatusNotFound, get(t, a, "/blog/tag/Not_A_Tag").Code)

	support, _ := signedIn(t, a, auth.RoleSupport)
	require.Equal(t, http.StatusForbidden, support.Get("/admin/posts").Code)
	require.Equal(t, http.StatusSeeOther, editor.Post(edit+"/delete", nil).Code)
	require.Equal(t, http.StatusNotFound, get(t, a, "/blog/"+renamed).Code)
}

// Public blog pages carry validators: a browser's copy is confirmed
// with 304 until a change to the blog, which the next request shows at
// once, through the cache.
func TestBlogValidatorsAndCache(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	editor, u := signedIn(t, a, auth.RoleEditor)
	ctx := context.Background()
	slug := testenv.Unique("cached")
	p, err := a.Store.PostCreate(ctx, store.Actor{ID: u.ID}, store.PostInput{Title: "Cached", Slug: slug, BodyMD: "Version one."})
	require.NoError(t, err)
	_, err = a.Store.PostPublish(ctx, store.Actor{ID: u.ID}, p.ID)
	require.NoError(t, err)

	first := get(t, a, "/blog/"+slug)
	etag := first.Header().Get("ETag")
	require.NotEmpty(t, etag)
	require.NotEmpty(t, first.Header().Get("Last-Modified"))
	require.Equal(t, http.StatusNotModified, get(t, a, "/blog/"+slug, "If-None-Match", etag).Code)
	require.Equal(t, http.StatusNotModified, get(t, a, "/blog/"+slug, "If-Modified-Since", first.Header().Get("Last-Modified")).Code)

	rec := editor.Post("/admin/posts/"+itoa(p.ID), url.Values{"title": {"Cached"}, "slug": {slug}, "body": {"Version two."}})
	require.Equal(t, http.StatusSeeOther, rec.Code)
	second := get(t, a, "/blog/"+slug, "If-None-Match", etag)
	require.Equal(t, http.StatusOK, second.Code, "the change shows at once")
	require.Contains(t, doc(t, second).Find(".prose").Text(), "Version two.")
	require.NotEqual(t, etag, second.Header().Get("ETag"))
	require.Equal(t, "public, no-cache", second.Header().Get("Cache-Control"), "nothing in the page is the visitor's own")
	require.Equal(t, http.StatusNotModified,
		get(t, a, "/blog/"+slug, "If-None-Match", `W/"other", `+second.Header().Get("ETag")).Code, "one of several ETags")
}

// Public blog pages are the same for every visitor: no cookie, no CSRF
// token, shareable by caches. Each is rendered once per blog version and
// then sent as kept, compressed for browsers that take gzip.
func TestBlogPagesAreShared(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	_, u := signedIn(t, a, auth.RoleEditor)
	ctx := context.Background()
	slug := testenv.Unique("shared")
	p, err := a.Store.PostCreate(ctx, store.Actor{ID: u.ID}, store.PostInput{
		Title: "Shared", Slug: slug, BodyMD: strings.Repeat("The harbour opens at seven. ", 100),
	})
	require.NoError(t, err)
	_, err = a.Store.PostPublish(ctx, store.Actor{ID: u.ID}, p.ID)
	require.NoError(t, err)
	pages := func(result string) float64 {
		return testenv.Counter(t, a.Metrics.Registry, "keel_shared_pages_total", "result", result)
	}
	path := "/blog/" + slug

	plain := get(t, a, path)
	require.Equal(t, http.StatusOK, plain.Code)
	require.Empty(t, plain.Header().Values("Set-Cookie"), "no cookie for a page without forms")
	require.NotContains(t, plain.Body.String(), "hx-headers")
	require.Equal(t, "public, no-cache", plain.Header().Get("Cache-Control"))
	require.Equal(t, "Accept-Encoding", plain.Header().Get("Vary"))
	require.Equal(t, strconv.Itoa(plain.Body.Len()), plain.Header().Get("Content-Length"))
	require.InDelta(t, 1, pages("miss"), 0)

	for _, enc := range []string{"gzip", "br, gzip;q=0.5", "*"} {
		zipped := get(t, a, path, "Accept-Encoding", enc)
		require.Equal(t, "gzip", zipped.Header().Get("Content-Encoding"), enc)
		require.Less(t, zipped.Body.Len(), plain.Body.Len(), enc)
		zr, err := gzip.NewReader(zipped.Body)
		require.NoError(t, err)
		body, err := io.ReadAll(zr)
		require.NoError(t, err)
		require.Equal(t, plain.Body.String(), string(body), enc)
	}
	for _, enc := range []string{"", "br", "gzip;q=0", "gzip;q=0, *", "gzip;Q=0", "gzip;level=1;q=0"} {
		rec := get(t, a, path, "Accept-Encoding", enc)
		require.Empty(t, rec.Header().Get("Content-Encoding"), enc)
		require.Equal(t, plain.Body.String(), rec.Body.String(), enc)
	}
	require.InDelta(t, 1, pages("miss"), 0, "rendered once")
	require.InDelta(t, 9, pages("hit"), 0)

	// Validators compare weakly.
	etag := plain.Header().Get("ETag")
	require.Equal(t, http.StatusNotModified, get(t, a, path, "If-None-Match", strings.TrimPrefix(etag, "W/")).Code)

	// A query the page does not know is served, not kept; nor is a page
	// number, which only lists have.
	for _, q := range []string{"?utm_source=feed", "?page=2", "?page=3"} {
		require.Equal(t, plain.Body.String(), get(t, a, path+q).Body.String(), q)
	}
	require.InDelta(t, 3, pages("bypass"), 0)
	require.InDelta(t, 1, pages("miss"), 0)
	require.Equal(t, http.StatusOK, get(t, a, "/blog?page=1").Code)
	require.InDelta(t, 2, pages("miss"), 0, "a list's page number is kept")
}

// Addresses made up by visitors answer 404 without storing anything in
// the cache, so they cannot fill it.
func TestBlogMadeUpAddressesAreNotCached(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	_, u := signedIn(t, a, auth.RoleEditor)
	ctx := context.Background()
	p, err := a.Store.PostCreate(ctx, store.Actor{ID: u.ID}, store.PostInput{
		Title: "Tagged", Slug: testenv.Unique("tagged"), BodyMD: "x", Tags: []string{"harbour"},
	})
	require.NoError(t, err)
	_, err = a.Store.PostPublish(ctx, store.Actor{ID: u.ID}, p.ID)
	require.NoError(t, err)
	loads := func() float64 {
		return testenv.Counter(t, a.Metrics.Registry, "keel_cache_loads_total", "family", "blog")
	}
	for _, path := range []string{"/blog", "/blog/tag/harbour"} {
		require.Equal(t, http.StatusOK, get(t, a, path).Code, path)
	}
	before := loads()
	for i := range 5 {
		for _, path := range []string{
			"/blog/tag/" + testenv.Unique("made-up"),
			"/blog?page=" + strconv.Itoa(50+i),
			"/blog/tag/harbour?page=" + strconv.Itoa(2+i),
			"/blog/tag/" + strings.Repeat("b", 41),
			"/blog/" + strings.Repeat("a", 101),
			"/blog/Not_A_Slug",
		} {
			require.Equal(t, http.StatusNotFound, get(t, a, path).Code, path)
		}
	}
	require.InDelta(t, before, loads(), 0, "nothing was loaded to be cached")

	// A page that turns out not to exist keeps none of the validators
	// set for it, and "*" does not make it exist.
	made := "/blog/tag/" + testenv.Unique("made-up")
	rec := get(t, a, made)
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Empty(t, rec.Header().Get("ETag"))
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	require.Equal(t, http.StatusNotFound, get(t, a, made, "If-None-Match", "*").Code)
}

// Scheduling takes a time to come, in UTC.
func TestPostScheduleForm(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t)
	editor, u := signedIn(t, a, auth.RoleEditor)
	p, err := a.Store.PostCreate(context.Background(), store.Actor{ID: u.ID}, store.PostInput{Title: "Timed", Slug: testenv.Unique("timed")})
	require.NoError(t, err)
	target := "/admin/posts/" + itoa(p.ID) + "/schedule"

	for _, bad := range []string{"", "tomorrow", time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04"), "9999-12-31T23:59"} {
		rec := editor.Post(target, url.Values{"publish_at": {bad}})
		require.Equal(t, http.StatusUnprocessableEntity, rec.Code, bad)
		require.NotEmpty(t, doc(t, rec).Find("#post-publish-at-error").Text())
	}
	at := time.Now().UTC().Add(2 * time.Hour).Truncate(time.Second)
	require.Equal(t, http.StatusSeeOther, editor.Post(target, url.Values{"publish_at": {at.Format("2006-01-02T15:04:05")}}).Code)
	require.Equal(t, 1, countRows(t, tx, `SELECT count(*) FROM river_job
		WHERE kind = 'publish_post' AND state = 'scheduled' AND (args->>'post_id')::bigint = $1`, p.ID))
}

// mediaApp is an app with the test bucket in place.
func mediaApp(t *testing.T) (*testenv.Client, func(string) int) {
	t.Helper()
	a, tx := newApp(t, "KEEL_MEDIA_LIMIT=64KB")
	require.NoError(t, a.Blob.EnsureBucket(context.Background(), a.Config.BaseURL))
	c, _ := signedIn(t, a, auth.RoleEditor)
	return c, func(q string) int { return countRows(t, tx, q) }
}

type uploadGrant struct {
	ID         int64             `json:"id"`
	URL        string            `json:"url"`
	Method     string            `json:"method"`
	Headers    map[string]string `json:"headers"`
	ConfirmURL string            `json:"confirm_url"`
}

// askUpload asks to upload a file and returns the answer.
func askUpload(t *testing.T, c *testenv.Client, name, contentType string, size int) (int, uploadGrant, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"filename": name, "content_type": contentType, "size": size})
	req, _ := http.NewRequest(http.MethodPost, "/admin/media/uploads", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-CSRF-Token", c.CSRF())
	rec := c.Do(req)
	var g uploadGrant
	_ = json.Unmarshal(rec.Body.Bytes(), &g)
	return rec.Code, g, rec.Body.String()
}

// putObject sends a file to object storage as a browser would.
func putObject(t *testing.T, g uploadGrant, contentType string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(g.Method, g.URL, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range g.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func confirm(t *testing.T, c *testenv.Client, g uploadGrant) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, g.ConfirmURL, nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-CSRF-Token", c.CSRF())
	rec := c.Do(req)
	return rec.Code, rec.Body.String()
}

var png = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 120)...)

// The whole upload against the real S3-compatible server: signed for
// one type, length and key; checked after; shown under its address.
func TestMediaUpload(t *testing.T) {
	t.Parallel()
	c, count := mediaApp(t)

	code, g, body := askUpload(t, c, "../../harbour photo.png", "image/png", len(png))
	require.Equal(t, http.StatusCreated, code, body)
	require.NotContains(t, g.URL, "..", "the server chose the key")
	require.Contains(t, g.URL, "harbour-photo.png")
	require.Equal(t, http.StatusOK, putObject(t, g, "image/png", png))
	code, body = confirm(t, c, g)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"status":"ready"`)

	page := doc(t, c.Get("/admin/media"))
	address := page.Find(".media-url").First().AttrOr("value", "")
	require.Contains(t, address, "/files/media/")
	require.Contains(t, page.Text(), "harbour photo.png")
	code, _ = confirm(t, c, g)
	require.Equal(t, http.StatusOK, code, "confirming twice is harmless")
	require.Equal(t, 1, count("SELECT count(*) FROM media WHERE status = 'ready' AND filename = 'harbour photo.png'"))
}

// Every way a browser could get a file in that Keel did not agree to is
// refused, with a clear message, and nothing is kept.
func TestMediaUploadRefusals(t *testing.T) {
	t.Parallel()
	c, count := mediaApp(t)

	t.Run("TypeNotAllowed", func(t *testing.T) {
		code, _, body := askUpload(t, c, "page.html", "text/html", 100)
		require.Equal(t, http.StatusUnprocessableEntity, code)
		require.Contains(t, body, "cannot be uploaded")
	})
	t.Run("TooLarge", func(t *testing.T) {
		code, _, body := askUpload(t, c, "huge.png", "image/png", 65*1024)
		require.Equal(t, http.StatusUnprocessableEntity, code)
		require.Contains(t, body, "too large")
	})
	t.Run("Empty", func(t *testing.T) {
		code, _, _ := askUpload(t, c, "empty.png", "image/png", 0)
		require.Equal(t, http.StatusUnprocessableEntity, code)
	})
	t.Run("NoName", func(t *testing.T) {
		code, _, _ := askUpload(t, c, "", "image/png", 10)
		require.Equal(t, http.StatusUnprocessableEntity, code)
	})
	t.Run("OtherTypeThanSigned", func(t *testing.T) {
		_, g, _ := askUpload(t, c, "a.png", "image/png", len(png))
		require.Equal(t, http.StatusForbidden, putObject(t, g, "text/html", png))
	})
	t.Run("OtherLengthThanSigned", func(t *testing.T) {
		_, g, _ := askUpload(t, c, "b.png", "image/png", len(png))
		require.Equal(t, http.StatusForbidden, putObject(t, g, "image/png", append(png, 0)))
	})
	t.Run("KeyPickedByClient", func(t *testing.T) {
		_, g, _ := askUpload(t, c, "c.png", "image/png", len(png))
		u, err := url.Parse(g.URL)
		require.NoError(t, err)
		for _, other := range []string{"/uploads/mine-", "/media/"} {
			v := *u
			v.Path = strings.Replace(u.Path, "/uploads/", other, 1)
			g.URL = v.String()
			require.Equal(t, http.StatusForbidden, putObject(t, g, "image/png", png), other)
		}
	})
	t.Run("SignedLinkUsedAgainAfterTheCheck", func(t *testing.T) {
		_, g, _ := askUpload(t, c, "f.png", "image/png", len(png))
		require.Equal(t, http.StatusOK, putObject(t, g, "image/png", png))
		code, body := confirm(t, c, g)
		require.Equal(t, http.StatusOK, code, body)
		var ready struct{ URL string }
		require.NoError(t, json.Unmarshal([]byte(body), &ready))

		fake := append([]byte("<html><script>"), bytes.Repeat([]byte(" "), len(png)-14)...)
		require.Equal(t, http.StatusOK, putObject(t, g, "image/png", fake), "storage takes it, in the upload area")
		address, err := url.Parse(ready.URL)
		require.NoError(t, err)
		served := c.Get(address.Path)
		require.Equal(t, http.StatusFound, served.Code)
		resp, err := http.Get(served.Header().Get("Location"))
		require.NoError(t, err)
		got, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, png, got, "what is served is what was checked")
	})
	t.Run("NameEndsAsTheTypeSays", func(t *testing.T) {
		code, g, _ := askUpload(t, c, "page.html", "image/png", len(png))
		require.Equal(t, http.StatusCreated, code)
		u, err := url.Parse(g.URL)
		require.NoError(t, err)
		require.True(t, strings.HasSuffix(u.Path, "/page.png"), u.Path)
	})
	t.Run("ConfirmWithoutUpload", func(t *testing.T) {
		_, g, _ := askUpload(t, c, "d.png", "image/png", len(png))
		code, body := confirm(t, c, g)
		require.Equal(t, http.StatusUnprocessableEntity, code)
		require.Contains(t, body, "did not arrive")
		require.Zero(t, count("SELECT count(*) FROM media WHERE filename = 'd.png'"), "nothing is recorded")
	})
	t.Run("NotTheDeclaredType", func(t *testing.T) {
		fake := bytes.Repeat([]byte("<html>"), 20)
		_, g, _ := askUpload(t, c, "e.png", "image/png", len(fake))
		require.Equal(t, http.StatusOK, putObject(t, g, "image/png", fake))
		code, body := confirm(t, c, g)
		require.Equal(t, http.StatusUnprocessableEntity, code)
		require.Contains(t, body, "does not match its type, image/png")
		require.Zero(t, count("SELECT count(*) FROM media WHERE filename = 'e.png'"))
		require.Equal(t, http.StatusNotFound, confirmStatus(t, c, g), "the refused upload is gone")
	})
}

func confirmStatus(t *testing.T, c *testenv.Client, g uploadGrant) int {
	code, _ := confirm(t, c, g)
	return code
}

// A signed upload stops working when it expires.
func TestMediaUploadExpires(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	ctx := context.Background()
	require.NoError(t, a.Blob.EnsureBucket(ctx, a.Config.BaseURL))
	up, err := a.Blob.UploadURL(ctx, "media/"+testenv.Unique("expiry")+"/x.png", "image/png", int64(len(png)), time.Second)
	require.NoError(t, err)
	time.Sleep(2 * time.Second)
	require.Equal(t, http.StatusForbidden, putObject(t, uploadGrant{URL: up.URL, Method: up.Method, Headers: up.Headers}, "image/png", png))
}

// Files are served from their address; only media keys are.
func TestMediaFiles(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	rec := get(t, a, "/files/media/abc/x.png")
	require.Equal(t, http.StatusFound, rec.Code)
	require.Contains(t, rec.Header().Get("Location"), "X-Amz-Signature")
	require.Equal(t, http.StatusNotFound, get(t, a, "/files/invoices/2026/x.pdf").Code)
	require.Equal(t, http.StatusNotFound, get(t, a, "/files/media/../invoices/x.pdf").Code)
	require.Equal(t, http.StatusNotFound, get(t, a, "/files/media/x%00y.png").Code)
	require.Empty(t, rec.Header().Values("Set-Cookie"), "files set no cookies")
}

// What the editor's form refuses, it refuses beside the field, keeping
// what was typed; a long post fits.
func TestPostFormRefusals(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	editor, _ := signedIn(t, a, auth.RoleEditor)
	taken := testenv.Unique("taken")
	require.Equal(t, http.StatusSeeOther, editor.Post("/admin/posts", url.Values{
		"title": {"First"}, "slug": {taken}, "body": {"x"},
	}).Code)

	rec := editor.Post("/admin/posts", url.Values{"title": {"Second"}, "slug": {taken}, "body": {"Kept text."}})
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code, "another post's current address")
	d := doc(t, rec)
	require.Contains(t, d.Find("#post-slug-error").Text(), "Another post")
	require.Contains(t, d.Find("#post-body").Text(), "Kept text.")

	rec = editor.Post("/admin/posts", url.Values{"title": {"Nul"}, "body": {"a\x00b"}})
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	require.Contains(t, doc(t, rec).Find("#post-body-error").Text(), "control characters")

	long := strings.Repeat("Ünïcode words in a long post. ", 3300) // 99,000 characters, 112 KB
	require.Equal(t, http.StatusSeeOther, editor.Post("/admin/posts", url.Values{
		"title": {"Long"}, "slug": {testenv.Unique("long")}, "body": {long},
	}).Code)
	rec = editor.Post("/admin/posts", url.Values{"title": {"Too long"}, "body": {long + long}})
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	require.Contains(t, doc(t, rec).Find("#post-body-error").Text(), "100,000")
}

// A save from a copy someone else has saved over since is refused with
// the editor's text kept; saving again from there is a deliberate
// choice and goes through.
func TestPostConcurrentEdits(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	first, _ := signedIn(t, a, auth.RoleEditor)
	second, _ := signedIn(t, a, auth.RoleEditor)
	slug := testenv.Unique("shared")
	rec := first.Post("/admin/posts", url.Values{"title": {"Shared"}, "slug": {slug}, "body": {"Start."}})
	require.Equal(t, http.StatusSeeOther, rec.Code)
	edit := rec.Header().Get("Location")

	saved := func(c *testenv.Client) string {
		v, ok := doc(t, c.Get(edit)).Find(`#post-form input[name="revision"]`).Attr("value")
		require.True(t, ok)
		return v
	}
	firstCopy, secondCopy := saved(first), saved(second)
	require.Equal(t, http.StatusSeeOther, second.Post(edit, url.Values{
		"title": {"Shared"}, "slug": {slug}, "body": {"Second's words."}, "revision": {secondCopy},
	}).Code)

	rec = first.Post(edit, url.Values{"title": {"Shared"}, "slug": {slug}, "body": {"First's words."}, "revision": {firstCopy}})
	require.Equal(t, http.StatusConflict, rec.Code)
	d := doc(t, rec)
	require.Contains(t, d.Find(".alert-error").Text(), "Someone else saved this post")
	require.Contains(t, d.Find("#post-body").Text(), "First's words.")
	id, err := strconv.ParseInt(path.Base(edit), 10, 64)
	require.NoError(t, err)
	p, err := a.Store.PostGetByID(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, "Second's words.", p.BodyMD, "nothing was overwritten")

	again, _ := d.Find(`#post-form input[name="revision"]`).Attr("value")
	require.Equal(t, http.StatusSeeOther, first.Post(edit, url.Values{
		"title": {"Shared"}, "slug": {slug}, "body": {"First's words."}, "revision": {again},
	}).Code)
}
