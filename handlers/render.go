package handlers

import (
	"bytes"
	"strconv"
	"sync"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
)

// pageBuffers holds the buffers pages are rendered into. A buffer that
// grew past maxPooledBuffer (a long export page, say) is left to the
// garbage collector rather than kept for every later request.
var pageBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBuffer = 256 << 10

// render writes a templ component with the given status, for this
// visitor only unless the handler said otherwise. The page is
// rendered whole before anything is sent: an error half-way through
// becomes an error page rather than half a page under a 200, and the
// response goes out with its length in one write instead of in chunks.
func render(c echo.Context, status int, t templ.Component) error {
	buf := pageBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledBuffer {
			pageBuffers.Put(buf)
		}
	}()
	if err := t.Render(c.Request().Context(), buf); err != nil {
		return err
	}
	h := c.Response().Header()
	if h.Get("Cache-Control") == "" {
		// Pages drawn here carry the visitor's CSRF token or session;
		// pages that are the same for everyone go through renderShared.
		h.Set("Cache-Control", "private, no-cache")
	}
	h.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	h.Set(echo.HeaderContentLength, strconv.Itoa(buf.Len()))
	c.Response().WriteHeader(status)
	_, err := c.Response().Write(buf.Bytes())
	return err
}
