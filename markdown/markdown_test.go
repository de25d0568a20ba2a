package markdown_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"keel/markdown"
)

func TestRender(t *testing.T) {
	t.Parallel()
	r := markdown.New("https://cdn.example/")
	html, keys, err := r.Render("# Title\n\nSome *text* and a [link](https://example.com).\n\n" +
		"| a | b |\n|---|---|\n| 1 | 2 |\n\n![Harbour](https://cdn.example/media/ab/harbour.jpg)\n\n" +
		"[the brochure](https://cdn.example/media/cd/brochure.pdf) and again ![x](https://cdn.example/media/ab/harbour.jpg)")
	require.NoError(t, err)
	require.Contains(t, html, "<h1")
	require.Contains(t, html, "<em>text</em>")
	require.Contains(t, html, `<a href="https://example.com" rel="nofollow noreferrer">link</a>`)
	require.Contains(t, html, "<table>")
	require.Contains(t, html, `<img src="https://cdn.example/media/ab/harbour.jpg" alt="Harbour">`)
	require.Equal(t, []string{"media/ab/harbour.jpg", "media/cd/brochure.pdf"}, keys)
}

// Whatever an editor writes, no script reaches the page.
func TestRenderIsSafe(t *testing.T) {
	t.Parallel()
	r := markdown.New("https://cdn.example/")
	for name, source := range map[string]string{
		"ScriptTag":     "Hello <script>alert(1)</script> world",
		"ScriptBlock":   "<script>\nalert(1)\n</script>",
		"JavaScriptURL": "[click](javascript:alert(1))",
		"EntityURL":     "[click](jav&#x61;script:alert(1))",
		"DataURL":       "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
		"ImageHandler":  `<img src="x" onerror="alert(1)">`,
		"Iframe":        `<iframe src="https://evil.example"></iframe>`,
		"EventInLink":   `<a href="https://example.com" onclick="alert(1)">x</a>`,
		"ImageJS":       "![x](javascript:alert(1))",
		"Style":         `<style>body{display:none}</style>`,
		"SVG":           `<svg onload="alert(1)"></svg>`,
	} {
		t.Run(name, func(t *testing.T) {
			html, _, err := r.Render(source)
			require.NoError(t, err)
			lower := strings.ToLower(html)
			for _, bad := range []string{"<script", "javascript:", "onerror", "onclick", "onload", "<iframe", "<style", "<svg", "data:text"} {
				require.NotContains(t, lower, bad)
			}
		})
	}
}

func TestMediaKey(t *testing.T) {
	t.Parallel()
	r := markdown.New("https://cdn.example")
	key, ok := r.MediaKey("https://cdn.example/media/a%20b/x.png")
	require.True(t, ok)
	require.Equal(t, "media/a b/x.png", key)
	require.Equal(t, "https://cdn.example/media/a%20b/x.png", r.MediaURL(key))
	for _, other := range []string{"https://elsewhere.example/media/x.png", "https://cdn.example/", "https://cdn.example/../etc"} {
		_, ok := r.MediaKey(other)
		require.False(t, ok, other)
	}
}

// The site's own route to the files leads to the same media, however an
// editor writes the address.
func TestMediaKeyThroughTheSite(t *testing.T) {
	t.Parallel()
	r := markdown.New("https://cdn.example", "https://keel.example/files/", "/files/")
	for _, address := range []string{
		"https://cdn.example/media/k/x.png",
		"https://keel.example/files/media/k/x.png",
		"/files/media/k/x.png",
		"/files/media/k/x.png#top",
		"https://cdn.example/media/k/x.png?size=large",
	} {
		key, ok := r.MediaKey(address)
		require.True(t, ok, address)
		require.Equal(t, "media/k/x.png", key, address)
	}
	_, keys, err := r.Render("![a](/files/media/k/x.png) [b](https://keel.example/files/media/k/y.pdf#page=2)")
	require.NoError(t, err)
	require.Equal(t, []string{"media/k/x.png", "media/k/y.pdf"}, keys)
	_, ok := r.MediaKey("/elsewhere/media/k/x.png")
	require.False(t, ok)
}
