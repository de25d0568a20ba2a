// Package handlers is Keel's HTTP layer: the route table, the handlers
// behind it and the central error handler. Handlers parse the request,
// call the store, and render a view; they never touch SQL.
package handlers

import (
	"context"
	"log/slog"

	"github.com/labstack/echo/v4"

	"keel/metrics"
	"keel/ratelimit"
	"keel/store"
	"keel/views"
)

// Check is one dependency /readyz probes.
type Check struct {
	Name string
	Ping func(ctx context.Context) error
}

// Deps are the handlers' dependencies.
type Deps struct {
	Logger  *slog.Logger
	Store   *store.Store
	Limiter *ratelimit.Limiter
	Metrics *metrics.Metrics
	// Ready lists what /readyz checks.
	Ready []Check
	// BaseURL is the site's public origin, used in emails.
	BaseURL string
	// ContactRule limits contact requests per client IP.
	ContactRule ratelimit.Rule
}

// Handlers serves Keel's pages.
type Handlers struct {
	Deps
	echo *echo.Echo
}

// Register adds every route to e and makes h the error handler.
// Routes are named; views get URLs by name, never by hand.
func Register(e *echo.Echo, d Deps) *Handlers {
	h := &Handlers{Deps: d, echo: e}
	e.HTTPErrorHandler = h.handleError

	e.GET("/healthz", h.healthz).Name = "healthz"
	e.GET("/readyz", h.readyz).Name = "readyz"

	e.GET("/", h.homeShow).Name = "home"
	e.GET("/contact", h.contactNew).Name = "contact.new"
	e.POST("/contact", h.contactCreate).Name = "contact.create"
	e.GET("/contact/thanks", h.contactThanks).Name = "contact.thanks"

	return h
}

// url returns the path of a named route.
func (h *Handlers) url(name string, params ...any) string {
	return h.echo.Reverse(name, params...)
}

// page returns the frame every full page shares. current names the
// route whose navigation entry is marked as the current page.
func (h *Handlers) page(title, description, current string) views.Page {
	entries := []struct{ label, route string }{
		{"Home", "home"},
		{"Contact", "contact.new"},
	}
	nav := make([]views.NavLink, len(entries))
	for i, e := range entries {
		nav[i] = views.NavLink{Label: e.label, URL: h.url(e.route), Current: e.route == current}
	}
	return views.Page{
		Title:       title,
		Description: description,
		Nav:         nav,
		HomeURL:     h.url("home"),
	}
}

// isHTMX reports whether the request came from htmx, which wants a
// fragment rather than a whole page.
func isHTMX(c echo.Context) bool {
	return c.Request().Header.Get("HX-Request") == "true" &&
		c.Request().Header.Get("HX-Boosted") != "true"
}
