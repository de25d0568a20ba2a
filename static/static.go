// Package static serves Keel's CSS, scripts and images from files
// embedded in the binary, under URLs that carry a hash of their content:
// a changed file gets a new URL, so every URL can be cached for a year.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed css js img
var files embed.FS

// Prefix is where static files are served.
const Prefix = "/static/"

// hashed maps a file name ("css/app.css") to its public URL
// ("/static/css/app.3f2a1b9c04d7.css"); plain maps such a URL's path
// below Prefix back to the file. Both are built once from the embedded
// files, which never change while the binary runs.
var hashed, plain = index()

func index() (map[string]string, map[string]string) {
	h := map[string]string{}
	p := map[string]string{}
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ext := path.Ext(name)
		versioned := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:6]) + ext
		h[name] = Prefix + versioned
		p[versioned] = name
		return nil
	})
	if err != nil {
		panic("static: index embedded files: " + err.Error())
	}
	return h, p
}

// URL returns the cacheable URL of an embedded file. It panics on a name
// that is not embedded: that is a typo in a template, caught by any test
// that renders the page.
func URL(name string) string {
	u, ok := hashed[name]
	if !ok {
		panic("static: no embedded file " + name)
	}
	return u
}

// Served reports whether a request path names an embedded file under
// its hashed URL.
func Served(urlPath string) bool {
	_, ok := plain[strings.TrimPrefix(urlPath, Prefix)]
	return ok && strings.HasPrefix(urlPath, Prefix)
}

// Handler serves the embedded files under Prefix. Hashed URLs are
// immutable and cached for a year; anything else is not found.
func Handler() http.Handler {
	server := http.FileServerFS(files)
	return http.StripPrefix(Prefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := plain[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + name
		// Embedded files carry no modification time; the hash in the URL
		// is the validator, so If-Modified-Since has nothing to compare.
		r2.Header.Del("If-Modified-Since")
		server.ServeHTTP(w, r2)
	}))
}
