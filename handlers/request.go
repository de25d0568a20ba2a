package handlers

import (
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"keel/auth"
	"keel/store"
)

// csrfToken returns the token forms must carry for this request.
func csrfToken(c echo.Context) string {
	t, _ := c.Get("csrf").(string)
	return t
}

// actor describes the signed-in user for the audit log.
func actor(c echo.Context) store.Actor {
	u, _ := auth.CurrentUser(c)
	return store.Actor{ID: u.ID, Email: u.Email, IP: c.RealIP()}
}

// localPath returns the path and query of a URL when it is a path on
// this site, and "" otherwise: redirect targets taken from requests
// must never lead elsewhere.
func localPath(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	p := u.RequestURI()
	if u.Path == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.Contains(p, "\\") {
		return ""
	}
	return p
}

func queryEscape(s string) string { return url.QueryEscape(s) }

// postValue reads a field of the request body. Unlike c.FormValue it
// ignores the query string, so form data never comes from (or ends up
// logged with) the URL.
func postValue(c echo.Context, key string) string {
	return c.Request().PostFormValue(key)
}
