package handlers

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// The public blog's pages look the same to every visitor: they carry no
// form, so no CSRF token and no cookie. Such a shared page is rendered
// once per blog version and kept in this process's memory, beside its
// gzip form, so that serving it again costs a lookup and one write. A
// write to the blog moves the version and so the key; pages of older
// versions are the least recently used and make room for new ones.
const (
	sharedPages       = 512
	maxSharedPageSize = 512 << 10
	// gzipFrom is the smallest body worth compressing, as for other pages.
	gzipFrom = 1024
)

// sharedPage is a page as it is sent: the body, its gzip form (nil when
// too small to be worth it), and the headers that belong to the page
// rather than to one response, ready to be given to each response.
type sharedPage struct {
	header   []pageHeader
	etag     string
	modified time.Time
	body     []byte
	gzipped  []byte
	// length and gzippedLength are the Content-Length values.
	length, gzippedLength []string
}

type pageHeader struct {
	name  string // canonical
	value []string
}

// one is a header value for many responses: with no room to grow, an
// Add to it copies rather than writes into the shared array.
func one(v string) []string { return []string{v}[:1:1] }

var (
	varyEncoding = one(echo.HeaderAcceptEncoding)
	publicCache  = one("public, no-cache")
	gzipEncoding = one("gzip")
)

func newSharedPages() *lru.Cache[string, *sharedPage] {
	l, err := lru.New[string, *sharedPage](sharedPages)
	if err != nil {
		panic(err) // only for a size below one
	}
	return l
}

// pageQuery is the only query string a list page is kept under: its
// page number, which the list answers 404 past its last page. Other
// shared pages are kept only without a query. Any other query is served
// but not kept, so that made-up parameters cannot push real pages out:
// what is kept is bounded by what the blog holds.
var pageQuery = regexp.MustCompile(`^page=[1-9][0-9]{0,4}$`)

// sharedKeyName is where shareable tells the handler the key to keep its
// page under.
const sharedKeyName = "keel.shared-page"

// sharedGET registers a GET route whose page is the same for everyone;
// a paged one lists posts a page at a time (?page=N). Such routes get no
// CSRF cookie and are compressed by sendShared rather than by the gzip
// middleware; Shared tells the middleware which they are. A page sent as
// kept does no work worth a deadline; one being rendered gets the
// request timeout the app gives other routes.
func (h *Handlers) sharedGET(e *echo.Echo, path string, paged bool, handler echo.HandlerFunc, name string) {
	h.shared[path] = true
	mw := []echo.MiddlewareFunc{h.shareable(paged)}
	if h.RequestTimeout > 0 {
		mw = append(mw, middleware.ContextTimeout(h.RequestTimeout))
	}
	e.GET(path, handler, mw...).Name = name
}

// Shared reports whether the route pattern serves a page that is the
// same for everyone.
func (h *Handlers) Shared(route string) bool { return h.shared[route] }

// shareable answers from the kept page when there is one, and otherwise
// tells the handler, through the context, the key to keep its page
// under. Without the blog's version (Redis away) nothing is kept.
func (h *Handlers) shareable(paged bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			q := r.URL.RawQuery
			if q != "" && (!paged || !pageQuery.MatchString(q)) {
				h.Metrics.SharedPage("bypass")
				return next(c)
			}
			version, ok := h.Store.BlogVersion(r.Context())
			if !ok {
				h.Metrics.SharedPage("bypass")
				return next(c)
			}
			key := strconv.FormatInt(version, 10) + " " + r.URL.Path + "?" + q
			if p, ok := h.pages.Get(key); ok {
				h.Metrics.SharedPage("hit")
				return sendShared(c, p)
			}
			h.Metrics.SharedPage("miss")
			c.Set(sharedKeyName, key)
			return next(c)
		}
	}
}

// renderShared renders a shared page, keeps it when shareable asked for
// it, and sends it.
func (h *Handlers) renderShared(c echo.Context, t templ.Component) error {
	var buf bytes.Buffer
	if err := t.Render(c.Request().Context(), &buf); err != nil {
		return err
	}
	return h.blobShared(c, echo.MIMETextHTMLCharsetUTF8, buf.Bytes())
}

// blobShared is renderShared for a body already written. The validators
// are those the handler set (blogFresh).
func (h *Handlers) blobShared(c echo.Context, contentType string, body []byte) error {
	hd := c.Response().Header()
	p := &sharedPage{
		header: []pageHeader{
			{echo.HeaderContentType, one(contentType)},
			{echo.HeaderVary, varyEncoding},
		},
		etag: hd.Get("ETag"),
		// A copy with no spare room: the page may be kept for long.
		body:   bytes.Clone(body),
		length: one(strconv.Itoa(len(body))),
	}
	if p.etag != "" {
		// Public: nothing in the page is the visitor's own, so shared
		// caches may keep it too; no-cache makes them ask first.
		p.header = append(p.header, pageHeader{"Etag", one(p.etag)}, pageHeader{"Cache-Control", publicCache})
	}
	if lm := hd.Get(echo.HeaderLastModified); lm != "" {
		p.modified, _ = http.ParseTime(lm)
		p.header = append(p.header, pageHeader{echo.HeaderLastModified, one(lm)})
	}
	if len(body) >= gzipFrom {
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.DefaultCompression)
		_, _ = zw.Write(body)
		if err := zw.Close(); err != nil {
			return err
		}
		p.gzipped = bytes.Clone(z.Bytes())
		p.gzippedLength = one(strconv.Itoa(len(p.gzipped)))
	}
	if key, ok := c.Get(sharedKeyName).(string); ok && len(body) <= maxSharedPageSize {
		h.pages.Add(key, p)
	}
	return sendShared(c, p)
}

// sendShared sends a shared page: 304 when the browser's copy is
// current, the gzip form when the browser takes it.
func sendShared(c echo.Context, p *sharedPage) error {
	hd := c.Response().Header()
	for _, h := range p.header {
		hd[h.name] = h.value
	}
	if p.etag != "" && fresh(c.Request(), p.etag, p.modified) {
		delete(hd, echo.HeaderContentType)
		return c.NoContent(http.StatusNotModified)
	}
	body, length := p.body, p.length
	if p.gzipped != nil && acceptsGzip(c.Request().Header.Get(echo.HeaderAcceptEncoding)) {
		body, length = p.gzipped, p.gzippedLength
		hd[echo.HeaderContentEncoding] = gzipEncoding
	}
	hd[echo.HeaderContentLength] = length
	c.Response().WriteHeader(http.StatusOK)
	_, err := c.Response().Write(body)
	return err
}

// fresh reports whether the browser's copy, named by the request's
// validators, is the current one: If-None-Match (which may list several
// tags, compared weakly as RFC 9110 asks) decides when present,
// If-Modified-Since otherwise. "*" is not taken: pages check validators
// before they know whether they exist.
func fresh(r *http.Request, etag string, modified time.Time) bool {
	if match := r.Header.Get("If-None-Match"); match != "" {
		want := strings.TrimPrefix(etag, "W/")
		for tag := range strings.SplitSeq(match, ",") {
			if strings.TrimPrefix(strings.TrimSpace(tag), "W/") == want {
				return true
			}
		}
		return false
	}
	since := r.Header.Get("If-Modified-Since")
	if since == "" || modified.IsZero() {
		return false
	}
	t, err := http.ParseTime(since)
	return err == nil && !modified.Truncate(time.Second).After(t)
}

// acceptsGzip reports whether an Accept-Encoding header admits gzip
// with a quality above zero, by name or, when gzip is not named, by "*".
func acceptsGzip(header string) bool {
	gzipQ, anyQ := -1.0, -1.0
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		q := 1.0
		for param := range strings.SplitSeq(params, ";") {
			name, value, _ := strings.Cut(param, "=")
			if strings.EqualFold(strings.TrimSpace(name), "q") {
				var err error
				if q, err = strconv.ParseFloat(strings.TrimSpace(value), 64); err != nil {
					q = 0
				}
			}
		}
		switch strings.ToLower(strings.TrimSpace(coding)) {
		case "gzip", "x-gzip":
			gzipQ = q
		case "*":
			anyQ = q
		}
	}
	return gzipQ > 0 || (gzipQ < 0 && anyQ > 0)
}
