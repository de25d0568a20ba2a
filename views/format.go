// Package views holds Keel's templ components and the typed view models
// they take; *_templ.go files are generated from the .templ files.
package views

import (
	"strings"
	"time"
)

// stamp formats a time for tables: UTC, to the minute.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// browserName gives a short, readable name for a User-Agent string.
func browserName(ua string) string {
	switch {
	case ua == "":
		return "Unknown browser"
	case strings.Contains(ua, "Edg/"):
		return "Edge"
	case strings.Contains(ua, "Firefox/"):
		return "Firefox"
	case strings.Contains(ua, "Chrome/"), strings.Contains(ua, "Chromium/"):
		return "Chrome"
	case strings.Contains(ua, "Safari/"):
		return "Safari"
	}
	if len(ua) > 40 {
		return ua[:40] + "…"
	}
	return ua
}
