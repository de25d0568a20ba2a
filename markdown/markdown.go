// Package markdown turns what editors write into HTML that is safe to
// serve. goldmark renders CommonMark with GitHub's tables, strikethrough
// and autolinks and never passes raw HTML through; bluemonday then keeps
// only the elements and attributes of ordinary writing, so script, event
// handlers, iframes and javascript: links cannot reach a page even if
// the renderer had a bug.
package markdown

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// Renderer renders posts. MediaBase is the public address of the media
// library ("https://cdn.example/media/"); links and images under it, or
// under another address that leads there, are reported as the media a
// post uses.
type Renderer struct {
	MediaBase string
	bases     []string
	md        goldmark.Markdown
	policy    *bluemonday.Policy
}

// New returns a Renderer for media published under mediaBase; also
// lists other addresses that lead to the same files (the site's own
// route to them, absolute or as a path).
func New(mediaBase string, also ...string) *Renderer {
	policy := bluemonday.UGCPolicy()
	policy.RequireNoReferrerOnLinks(true)
	policy.AddTargetBlankToFullyQualifiedLinks(false)
	policy.AllowURLSchemes("http", "https", "mailto")
	mediaBase = strings.TrimSuffix(mediaBase, "/") + "/"
	bases := []string{mediaBase}
	for _, b := range also {
		if b = strings.TrimSuffix(b, "/") + "/"; b != mediaBase {
			bases = append(bases, b)
		}
	}
	return &Renderer{
		MediaBase: mediaBase,
		bases:     bases,
		md:        goldmark.New(goldmark.WithExtensions(extension.GFM)),
		policy:    policy,
	}
}

// Render returns the sanitised HTML of source and the keys of the media
// it shows or links to.
func (r *Renderer) Render(source string) (string, []string, error) {
	src := []byte(source)
	doc := r.md.Parser().Parse(text.NewReader(src))

	var keys []string
	seen := map[string]bool{}
	err := ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		var dest []byte
		switch n := n.(type) {
		case *ast.Image:
			dest = n.Destination
		case *ast.Link:
			dest = n.Destination
		}
		if key, ok := r.MediaKey(string(dest)); ok && !seen[key] {
			seen[key] = true
			keys = append(keys, key)
		}
		return ast.WalkContinue, nil
	})
	if err != nil {
		return "", nil, fmt.Errorf("walk markdown: %w", err)
	}

	var buf bytes.Buffer
	if err := r.md.Renderer().Render(&buf, src, doc); err != nil {
		return "", nil, fmt.Errorf("render markdown: %w", err)
	}
	return r.policy.Sanitize(buf.String()), keys, nil
}

// MediaKey returns the media key an address points to, if it points
// into the media library.
func (r *Renderer) MediaKey(address string) (string, bool) {
	address, _, _ = strings.Cut(address, "#")
	address, _, _ = strings.Cut(address, "?")
	var rest string
	for _, base := range r.bases {
		if after, ok := strings.CutPrefix(address, base); ok {
			rest = after
			break
		}
	}
	if rest == "" {
		return "", false
	}
	key, err := url.PathUnescape(rest)
	if err != nil || strings.Contains(key, "..") {
		return "", false
	}
	return key, true
}

// MediaURL is the public address of a media key.
func (r *Renderer) MediaURL(key string) string {
	return r.MediaBase + (&url.URL{Path: key}).EscapedPath()
}
