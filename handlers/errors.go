package handlers

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"keel/auth"
	"keel/logging"
	"keel/store"
	"keel/views"
)

// Error is an error whose message is safe to show to the person who
// made the request. Code is stable, for scripts that read JSON errors.
type Error struct {
	Status  int
	Code    string
	Message string
	// Err is the cause, for the log line only.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// publicError is what a person sees for a status: a stable code, a
// title and a sentence. Internal error text never reaches them.
type publicError struct {
	code, title, message string
}

var byStatus = map[int]publicError{
	http.StatusBadRequest:            {"bad_request", "Bad request", "The request could not be understood."},
	http.StatusUnauthorized:          {"unauthenticated", "Sign in required", "Please sign in to continue."},
	http.StatusForbidden:             {"forbidden", "Forbidden", "You do not have access to this page."},
	http.StatusNotFound:              {"not_found", "Page not found", "We could not find the page you asked for."},
	http.StatusMethodNotAllowed:      {"method_not_allowed", "Not allowed", "This address does not accept that kind of request."},
	http.StatusRequestEntityTooLarge: {"too_large", "Too large", "What you sent is larger than we accept."},
	http.StatusUnsupportedMediaType:  {"unsupported_type", "Unsupported", "We cannot read that kind of content."},
	http.StatusUnprocessableEntity:   {"invalid", "Check your input", "Some of what you sent needs correcting."},
	http.StatusTooManyRequests:       {"rate_limited", "Too many requests", "Please wait a little and try again."},
	http.StatusInternalServerError:   {"internal", "Something went wrong", "We could not complete your request. It has been logged and we will look into it."},
	http.StatusServiceUnavailable:    {"unavailable", "Temporarily unavailable", "Part of our service is briefly unavailable. Please try again in a minute."},
}

// statusClientClosed is logged for requests the client abandoned (the
// code nginx uses).
const statusClientClosed = 499

// statusOf maps an error to its HTTP status: one table for the whole
// application.
func statusOf(err error) int {
	var (
		appErr  *Error
		httpErr *echo.HTTPError
	)
	switch {
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads the answer.
		return statusClientClosed
	case errors.As(err, &appErr):
		return appErr.Status
	case errors.As(err, &httpErr):
		return httpErr.Code
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, auth.ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// handleError answers every error a handler returns: a styled page, an
// htmx toast, or JSON for scripts. Logging happens once, in the request
// log line, which carries the error.
func (h *Handlers) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	// The request's own context may already be cancelled (a timeout, or
	// middleware that has returned); the error page must still render.
	ctx := context.WithoutCancel(c.Request().Context())
	c.SetRequest(c.Request().WithContext(ctx))

	status := statusOf(err)
	pub, ok := byStatus[status]
	if !ok {
		pub = publicError{"error", http.StatusText(status), "The request could not be completed."}
	}
	var appErr *Error
	if errors.As(err, &appErr) && appErr.Message != "" {
		pub.code, pub.message = appErr.Code, appErr.Message
	}

	// Validators a handler set before it failed describe the page it
	// meant to send, not this one; an error is never to be kept.
	hd := c.Response().Header()
	hd.Del("ETag")
	hd.Del(echo.HeaderLastModified)
	hd.Set("Cache-Control", "no-store")
	if status == http.StatusServiceUnavailable {
		hd.Set("Retry-After", "30")
	}

	reqID := logging.RequestID(ctx)
	view := views.ErrorView{Status: status, Title: pub.title, Message: pub.message, RequestID: reqID}

	var rerr error
	switch {
	case c.Request().Method == http.MethodHead:
		rerr = c.NoContent(status)
	case wantsJSON(c):
		rerr = c.JSON(status, map[string]any{
			"error": map[string]string{"code": pub.code, "message": pub.message, "request_id": reqID},
		})
	case isHTMX(c):
		c.Response().Header().Set("HX-Retarget", "#toasts")
		c.Response().Header().Set("HX-Reswap", "beforeend")
		rerr = render(c, status, views.ErrorToast(view))
	default:
		rerr = render(c, status, views.ErrorPage(h.page(c, pub.title, "", ""), view))
	}
	if rerr != nil {
		h.Logger.ErrorContext(ctx, "render error response", "error", rerr)
	}
}

// wantsJSON reports whether the client asked for JSON rather than HTML.
func wantsJSON(c echo.Context) bool {
	accept := c.Request().Header.Get(echo.HeaderAccept)
	return strings.Contains(accept, echo.MIMEApplicationJSON) && !strings.Contains(accept, echo.MIMETextHTML)
}
