package handlers

import (
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
)

// TestURLMatchesEchoReverse proves the route table writes every named
// route's URL as Echo's own Reverse does: with its parameters filled,
// with too few, and with none.
func TestURLMatchesEchoReverse(t *testing.T) {
	e := echo.New()
	h := Register(e, Deps{})
	e.GET("/extra/:a/x/:b/*", func(echo.Context) error { return nil }).Name = "test.extra"
	h.paths["test.extra"] = "/extra/:a/x/:b/*"

	// Echo names unnamed routes after their handler, so such a name can
	// stand for several paths; Reverse then picks any of them.
	paths := map[string]map[string]bool{}
	for _, r := range e.Routes() {
		if paths[r.Name] == nil {
			paths[r.Name] = map[string]bool{}
		}
		paths[r.Name][r.Path] = true
	}
	names := 0
	for _, r := range e.Routes() {
		if len(paths[r.Name]) > 1 {
			continue
		}
		names++
		params := strings.Count(r.Path, ":") + strings.Count(r.Path, "*")
		for _, args := range [][]any{
			nil,
			{"first"},
			[]any{int64(42), "two words", "3/4"}[:min(3, params)],
		} {
			require.Equal(t, e.Reverse(r.Name, args...), h.url(r.Name, args...), "%s %v", r.Path, args)
		}
	}
	require.Greater(t, names, 50)
	require.Equal(t, "/blog/a-post", h.url("blog.post", "a-post"))
	require.Equal(t, "/extra/1/x/2/rest", h.url("test.extra", 1, 2, "rest"))
}
