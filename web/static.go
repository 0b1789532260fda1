package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strings"
)

// The panels' static files: the stylesheet and htmx (vendored from the npm
// package htmx.org 2.0.11, with its licence beside it). They are served
// from the binary, never from a CDN.
//
//go:embed static
var staticFS embed.FS

// staticHashes maps a static file's name to the first hex digits of its
// SHA-256: its URL carries them, so a file can be cached for a year and a
// new release still reaches every browser at once.
var staticHashes = func() map[string]string {
	m := map[string]string{}
	entries, _ := fs.ReadDir(staticFS, "static")
	for _, e := range entries {
		b, _ := staticFS.ReadFile("static/" + e.Name())
		sum := sha256.Sum256(b)
		m[e.Name()] = hex.EncodeToString(sum[:6])
	}
	return m
}()

// staticURL is the URL of static file name: /static/NAME?v=HASH.
func staticURL(name string) string {
	return "/static/" + name + "?v=" + staticHashes[name]
}

// staticHandler serves the static files; a request that names the current
// hash may be cached for a year.
func staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		h, ok := staticHashes[name]
		if !ok {
			http.NotFound(rw, r)
			return
		}
		if r.URL.Query().Get("v") == h {
			rw.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			rw.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(rw, r)
	})
}
