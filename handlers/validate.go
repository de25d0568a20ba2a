package handlers

import (
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// badText reports whether s cannot be stored and shown as typed: it is
// not valid UTF-8, or holds control characters (a NUL, an escape) or
// invisible ones that disguise text (bidi overrides and isolates,
// zero-width spaces, a byte-order mark, line separators). Joiners that
// scripts and emoji need (U+200C, U+200D) are fine. multiline allows
// line breaks and tabs.
func badText(s string, multiline bool) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if multiline && (r == '\n' || r == '\r' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) || disguising(r) {
			return true
		}
	}
	return false
}

func disguising(r rune) bool {
	switch {
	case r == '\u200b', r == '\u2060', r == '\ufeff', // zero-width space, word joiner, BOM
		r == '\u200e', r == '\u200f', // direction marks
		r >= '\u202a' && r <= '\u202e', // bidi embeddings and overrides
		r >= '\u2066' && r <= '\u2069', // bidi isolates
		r == '\u2028', r == '\u2029':   // line and paragraph separators
		return true
	}
	return false
}

// domainLabel is one label of a host name: letters, digits and inner
// hyphens.
var domainLabel = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// plainAddress accepts a bare address such as name@example.com that
// mail servers deliver: ASCII, a domain name (not an IP address) with a
// top-level domain of letters. Display names belong in the name field.
func plainAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || badText(s, false) {
		return false
	}
	for _, r := range s {
		if r > unicode.MaxASCII || r == ' ' {
			return false
		}
	}

	local, domain, _ := strings.Cut(s, "@")
	if len(local) > 64 || strings.HasPrefix(domain, "[") {
		return false
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !domainLabel.MatchString(l) {
			return false
		}
	}
	tld := labels[len(labels)-1]
	return len(tld) >= 2 && strings.IndexFunc(tld, func(r rune) bool { return !unicode.IsLetter(r) }) < 0
}
