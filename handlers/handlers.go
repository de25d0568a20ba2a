// Package handlers is Keel's HTTP layer: the route table, the handlers
// behind it and the central error handler. Handlers parse the request,
// call the store, and render a view; they never touch SQL.
package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/labstack/echo/v4"

	"keel/auth"
	"keel/blob"
	"keel/jobs"
	"keel/live"
	"keel/markdown"
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
	Logger *slog.Logger
	Store  *store.Store
	// Reads chooses the store reports and exports read from: the
	// replica while it keeps up.
	Reads    *store.Reads
	Limiter  *ratelimit.Limiter
	Metrics  *metrics.Metrics
	Sessions *auth.Sessions
	Hasher   *auth.Hasher
	// Ready lists what /readyz checks.
	Ready []Check
	// BaseURL is the site's public origin, used in emails.
	BaseURL string
	// RequestTimeout bounds a request's work; the app applies it to
	// most routes, and sharedGET to shared pages it renders.
	RequestTimeout time.Duration
	// ContactRule and OrderRule limit contact requests and orders per
	// client IP; the sign-in rules limit attempts per client IP and per
	// account.
	ContactRule       ratelimit.Rule
	OrderRule         ratelimit.Rule
	SignInIPRule      ratelimit.Rule
	SignInAccountRule ratelimit.Rule
	// ResetLinkLifetime is how long an emailed password link works.
	ResetLinkLifetime time.Duration

	Blob *blob.Store
	// Hub delivers live events to this server's streams; StreamLimit
	// caps the streams one user, or one order's page, may hold open on
	// it.
	// Markdown renders posts and knows the media library's address;
	// MediaMaxBytes is the largest upload.
	Markdown      *markdown.Renderer
	MediaMaxBytes int64
	Hub           *live.Hub
	Fanout        *live.Fanout
	StreamLimit   int
	Queue         *jobs.Queue
	// TaxRateBP is the VAT on orders, in basis points.
	TaxRateBP int32
	// OrderEmailLimit is how many orders one address may receive an
	// hour.
	OrderEmailLimit int
	// JobsUI is River's UI, mounted at /admin/jobs: jobs:read to look,
	// jobs:write to retry, cancel or delete jobs and pause queues.
	JobsUI http.Handler
	// Stopping closes when the server begins to shut down: live streams
	// end and tell their clients when to come back.
	Stopping <-chan struct{}
}

// Handlers serves Keel's pages.
type Handlers struct {
	Deps
	echo *echo.Echo
	// guards records the permission of every portal route, by method and
	// path, as the routes are registered.
	guards map[string]auth.Permission
	// shared holds the routes whose pages are the same for everyone;
	// pages keeps them rendered (pagecache.go).
	shared map[string]bool
	pages  *lru.Cache[string, *sharedPage]
	// paths maps each route's name to its path, read once all routes are
	// registered: Echo's Reverse looks through every route on each call,
	// and a page asks for a dozen URLs.
	paths map[string]string
}

// Kinds of shared page, for sharedGET.
const paged, single = true, false

// Register adds every route to e and makes h the error handler. Routes
// are named; views get URLs by name, never by hand.
func Register(e *echo.Echo, d Deps) *Handlers {
	h := &Handlers{Deps: d, echo: e, guards: map[string]auth.Permission{},
		shared: map[string]bool{}, pages: newSharedPages()}
	e.HTTPErrorHandler = h.handleError

	e.GET("/healthz", h.healthz).Name = "healthz"
	e.GET("/readyz", h.readyz).Name = "readyz"

	// The public site works without Redis sessions.
	e.GET("/", h.homeShow).Name = "home"
	e.GET("/contact", h.contactNew).Name = "contact.new"
	e.POST("/contact", h.contactCreate).Name = "contact.create"
	e.GET("/contact/thanks", h.contactThanks).Name = "contact.thanks"
	e.GET("/catalogue", h.catalogueIndex).Name = "catalogue.index"
	e.GET("/catalogue/:sku", h.catalogueShow).Name = "catalogue.show"
	e.GET("/order", h.orderNew).Name = "order.new"
	e.POST("/orders", h.orderCreate).Name = "order.create"
	e.GET("/orders/:token", h.orderShow).Name = "order.show"
	e.GET("/orders/:token/events", h.orderEvents).Name = "order.events"
	e.GET("/orders/:token/invoice", h.orderInvoice).Name = "order.invoice"
	h.sharedGET(e, "/blog", paged, h.blogIndex, "blog.index")
	h.sharedGET(e, "/blog/feed.xml", single, h.blogFeed, "blog.feed")
	h.sharedGET(e, "/blog/tag/:tag", paged, h.blogTag, "blog.tag")
	h.sharedGET(e, "/blog/:slug", single, h.blogPost, "blog.post")
	h.sharedGET(e, "/sitemap.xml", single, h.sitemap, "sitemap")
	e.GET("/files/*", h.mediaFile).Name = "media.file"
	e.GET("/fortunes", h.fortunes).Name = "fortunes"
	e.GET("/password/reset/:token", h.passwordResetEdit).Name = "password_reset.edit"
	e.POST("/password/reset/:token", h.passwordResetUpdate).Name = "password_reset.update"

	s := e.Group("", d.Sessions.Middleware)
	s.GET("/signin", h.signInNew).Name = "signin.new"
	s.POST("/signin", h.signInCreate).Name = "signin.create"
	s.POST("/signout", h.signOut).Name = "signout"

	// The portal. Every route names the permission it needs.
	a := h.portal(e.Group("/admin", d.Sessions.Middleware), "/admin")
	a.GET("", auth.SignedIn, h.dashboardShow, "admin.dashboard")
	a.GET("/account", auth.SignedIn, h.accountShow, "account.show")
	a.GET("/events", auth.SignedIn, h.staffEvents, "staff.events")
	a.GET("/notifications", auth.SignedIn, h.notificationIndex, "notification.index")
	a.POST("/notifications/read", auth.SignedIn, h.notificationReadAll, "notification.read_all")
	a.POST("/notifications/:id/read", auth.SignedIn, h.notificationRead, "notification.read")
	a.POST("/account/password", auth.SignedIn, h.accountPasswordUpdate, "account.password")
	a.POST("/account/devices/:device/revoke", auth.SignedIn, h.accountDeviceRevoke, "account.device_revoke")
	a.POST("/account/signout-everywhere", auth.SignedIn, h.accountSignOutEverywhere, "account.everywhere")
	a.GET("/users", "users:read", h.userIndex, "user.index")
	a.GET("/users/new", "users:write", h.userNew, "user.new")
	a.POST("/users", "users:write", h.userCreate, "user.create")
	a.GET("/users/:id", "users:read", h.userShow, "user.show")
	a.POST("/users/:id/role", "users:write", h.userRoleUpdate, "user.role")
	a.POST("/users/:id/status", "users:write", h.userStatusUpdate, "user.status")
	a.POST("/users/:id/password-link", "users:write", h.userPasswordLink, "user.password_link")
	a.POST("/users/:id/devices/:device/revoke", "users:write", h.userDeviceRevoke, "user.device_revoke")
	a.POST("/users/:id/signout-everywhere", "users:write", h.userSignOutEverywhere, "user.everywhere")
	a.GET("/audit", "audit:read", h.auditIndex, "audit.index")
	a.GET("/leads", "leads:read", h.leadIndex, "lead.index")
	a.GET("/leads/new", "leads:write", h.leadNew, "lead.new")
	a.POST("/leads", "leads:write", h.leadCreate, "lead.create")
	a.POST("/leads/export.csv", "leads:export", h.leadExport, "lead.export")
	a.POST("/leads/bulk", "leads:write", h.leadBulkUpdate, "lead.bulk")
	a.GET("/leads/:id", "leads:read", h.leadShow, "lead.show")
	a.POST("/leads/:id/status", "leads:write", h.leadStatusUpdate, "lead.status")
	a.POST("/leads/:id/owner", "leads:write", h.leadOwnerUpdate, "lead.owner")
	a.POST("/leads/:id/notes", "leads:write", h.leadNoteCreate, "lead.note")
	a.POST("/leads/:id/merge", "leads:write", h.leadMerge, "lead.merge")
	a.GET("/products", "catalog:read", h.productIndex, "product.index")
	a.GET("/products/new", "catalog:write", h.productNew, "product.new")
	a.POST("/products", "catalog:write", h.productCreate, "product.create")
	a.GET("/products/:id", "catalog:read", h.productShow, "product.show")
	a.POST("/products/:id", "catalog:write", h.productUpdate, "product.update")
	a.GET("/orders", "orders:read", h.adminOrderIndex, "admin.order.index")
	a.GET("/orders/:id", "orders:read", h.adminOrderShow, "admin.order.show")
	a.GET("/orders/:id/invoice", "orders:read", h.adminOrderInvoice, "admin.order.invoice")
	a.POST("/orders/:id/resend", "orders:write", h.adminOrderResend, "admin.order.resend")
	a.POST("/orders/:id/regenerate", "orders:write", h.adminOrderRegenerate, "admin.order.regenerate")
	a.GET("/posts", "blog:write", h.postIndex, "post.index")
	a.GET("/posts/new", "blog:write", h.postNew, "post.new")
	a.POST("/posts", "blog:write", h.postCreate, "post.create")
	a.POST("/posts/preview", "blog:write", h.postPreview, "post.preview")
	a.GET("/posts/:id", "blog:write", h.postEdit, "post.edit")
	a.POST("/posts/:id", "blog:write", h.postUpdate, "post.update")
	a.POST("/posts/:id/publish", "blog:write", h.postPublish, "post.publish")
	a.POST("/posts/:id/schedule", "blog:write", h.postSchedule, "post.schedule")
	a.POST("/posts/:id/unpublish", "blog:write", h.postUnpublish, "post.unpublish")
	a.POST("/posts/:id/delete", "blog:delete", h.postDelete, "post.delete")
	a.POST("/posts/:id/revisions/:revision/restore", "blog:write", h.postRestore, "post.restore")
	a.GET("/media", "media:write", h.mediaIndex, "media.index")
	a.POST("/media/uploads", "media:write", h.mediaUploadCreate, "media.upload")
	a.POST("/media/:id/confirm", "media:write", h.mediaConfirm, "media.confirm")
	a.POST("/media/:id/delete", "media:write", h.mediaDelete, "media.delete")
	if d.JobsUI != nil {
		a.mount("/jobs", "jobs:read", "jobs:write", d.JobsUI, "jobs.index")
	}

	h.paths = map[string]string{}
	for _, r := range e.Routes() {
		if _, seen := h.paths[r.Name]; r.Name != "" && !seen {
			h.paths[r.Name] = r.Path
		}
	}
	return h
}

// Permission returns the permission a portal route was registered with.
func (h *Handlers) Permission(method, path string) (auth.Permission, bool) {
	p, ok := h.guards[method+" "+path]
	return p, ok
}

// portalGroup registers routes that need a signed-in user holding a
// permission, and records that permission.
type portalGroup struct {
	h      *Handlers
	g      *echo.Group
	prefix string
}

func (h *Handlers) portal(g *echo.Group, prefix string) portalGroup {
	return portalGroup{h: h, g: g, prefix: prefix}
}

func (p portalGroup) GET(path string, perm auth.Permission, fn echo.HandlerFunc, name string) {
	p.add(http.MethodGet, path, perm, fn, name)
}

func (p portalGroup) POST(path string, perm auth.Permission, fn echo.HandlerFunc, name string) {
	p.add(http.MethodPost, path, perm, fn, name)
}

func (p portalGroup) add(method, path string, perm auth.Permission, fn echo.HandlerFunc, name string) {
	p.g.Add(method, path, fn, p.h.require(perm)).Name = name
	p.h.guards[method+" "+p.prefix+path] = perm
}

// mount serves handler under path: reading (GET) needs read; writing
// through its API (any other method) needs write and a request from the
// site's own pages, since such a handler's API checks no CSRF token.
func (p portalGroup) mount(path string, read, write auth.Permission, handler http.Handler, name string) {
	serve := echo.WrapHandler(handler)
	p.g.GET(path, serve, p.h.require(read)) // redirects to path + "/"
	p.h.guards[http.MethodGet+" "+p.prefix+path] = read
	p.g.GET(path+"/", serve, p.h.require(read)).Name = name
	p.h.guards[http.MethodGet+" "+p.prefix+path+"/"] = read
	p.g.GET(path+"/*", serve, p.h.require(read))
	p.h.guards[http.MethodGet+" "+p.prefix+path+"/*"] = read
	p.g.GET(path+"/api/*", serve, p.h.require(read))
	p.h.guards[http.MethodGet+" "+p.prefix+path+"/api/*"] = read
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		p.g.Add(method, path+"/api/*", serve, p.h.require(write), p.h.sameOrigin)
		p.h.guards[method+" "+p.prefix+path+"/api/*"] = write
	}
}

// sameOrigin refuses a request that a browser says came from another
// site, or whose Origin is not Keel's own.
func (h *Handlers) sameOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		site := req.Header.Get("Sec-Fetch-Site")
		origin := req.Header.Get("Origin")
		if (site != "" && site != "same-origin") || origin != strings.TrimSuffix(h.BaseURL, "/") {
			return &Error{Status: http.StatusForbidden, Code: "cross_site",
				Message: "This request came from another site."}
		}
		return next(c)
	}
}

// require lets a request through only when someone is signed in and
// their role holds perm.
func (h *Handlers) require(perm auth.Permission) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			u, ok := auth.CurrentUser(c)
			if !ok {
				return h.signInFirst(c)
			}
			if !auth.Role(u.Role).Can(perm) {
				return &Error{Status: http.StatusForbidden, Code: "forbidden",
					Message: "Your role does not allow this."}
			}
			return next(c)
		}
	}
}

// signInFirst sends someone who is not signed in to the sign-in page,
// remembering where they were going.
func (h *Handlers) signInFirst(c echo.Context) error {
	target := c.Request().URL.RequestURI()
	if isHTMX(c) {
		target = localPath(c.Request().Header.Get("HX-Current-URL"))
	}
	signIn := h.url("signin.new") + "?next=" + queryEscape(target)

	switch {
	case isHTMX(c):
		c.Response().Header().Set("HX-Redirect", signIn)
		return c.NoContent(http.StatusUnauthorized)
	case c.Request().Method == http.MethodGet:
		return c.Redirect(http.StatusSeeOther, signIn)
	}
	return &Error{Status: http.StatusUnauthorized, Code: "unauthenticated",
		Message: "Your session has ended. Please sign in again."}
}

// url returns the path of a named route, with params in place of its
// parameters in order, as Echo's Reverse would write it.
func (h *Handlers) url(name string, params ...any) string {
	path, ok := h.paths[name]
	if !ok {
		return h.echo.Reverse(name, params...)
	}
	if !strings.ContainsAny(path, ":*") {
		return path
	}
	var b strings.Builder
	for len(path) > 0 {
		i := strings.IndexAny(path, ":*")
		if i < 0 {
			b.WriteString(path)
			break
		}
		b.WriteString(path[:i])
		end := i + 1
		if path[i] == ':' {
			end = i + strings.IndexByte(path[i:]+"/", '/')
		}
		if len(params) > 0 {
			fmt.Fprint(&b, params[0])
			params = params[1:]
		} else {
			b.WriteString(path[i:end])
		}
		path = path[end:]
	}
	return b.String()
}

// page returns the frame every public page shares. current names the
// route whose navigation entry is marked as the current page.
func (h *Handlers) page(c echo.Context, title, description, current string) views.Page {
	entries := []struct{ label, route string }{
		{"Home", "home"},
		{"Catalogue", "catalogue.index"},
		{"Blog", "blog.index"},
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
		SignInURL:   h.url("signin.new"),
		CSRF:        csrfToken(c),
	}
}

// adminPage returns the frame every portal page shares, with the
// navigation the viewer's role allows.
func (h *Handlers) adminPage(c echo.Context, title, current string) views.AdminPage {
	u, _ := auth.CurrentUser(c)
	role := auth.Role(u.Role)

	entries := []struct {
		label, route string
		perm         auth.Permission
	}{
		{"Dashboard", "admin.dashboard", auth.SignedIn},
		{"Leads", "lead.index", "leads:read"},
		{"Orders", "admin.order.index", "orders:read"},
		{"Catalogue", "product.index", "catalog:read"},
		{"Posts", "post.index", "blog:write"},
		{"Media", "media.index", "media:write"},
		{"Users", "user.index", "users:read"},
		{"Audit log", "audit.index", "audit:read"},
		{"Jobs", "jobs.index", "jobs:read"},
		{"Your account", "account.show", auth.SignedIn},
	}
	var nav []views.NavLink
	for _, e := range entries {
		if role.Can(e.perm) {
			nav = append(nav, views.NavLink{Label: e.label, URL: h.url(e.route), Current: e.route == current})
		}
	}

	can := func(p string) bool { return role.Can(auth.Permission(p)) }
	return views.AdminPage{
		Title:      title,
		Viewer:     views.NewViewer(u.Name, u.Email, u.Role, can),
		Nav:        nav,
		CSRF:       csrfToken(c),
		Flash:      h.Sessions.PopFlash(c),
		AccountURL: h.url("account.show"),
		SignOutURL: h.url("signout"),
		HomeURL:    h.url("admin.dashboard"),

		NotificationsURL: h.url("notification.index"),
		EventsURL:        h.url("staff.events"),
		Unread:           h.unread(c, u),
	}
}

// unread counts the person's unread notifications for the page's badge.
// The badge is a convenience: if the count cannot be read, it is left
// out and the live stream fills it in.
func (h *Handlers) unread(c echo.Context, u store.User) int64 {
	ctx := c.Request().Context()
	n, err := h.Store.NotificationUnread(ctx, notificationViewer(u))
	if err != nil {
		h.Logger.WarnContext(ctx, "count unread notifications", "error", err)
	}
	return n
}

// isHTMX reports whether the request came from htmx, which wants a
// fragment rather than a whole page.
func isHTMX(c echo.Context) bool {
	return c.Request().Header.Get("HX-Request") == "true" &&
		c.Request().Header.Get("HX-Boosted") != "true"
}
