package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"keel/auth"
	"keel/config"
	"keel/handlers"
	"keel/logging"
	"keel/ratelimit"
	"keel/static"
)

// contentSecurityPolicy allows scripts and styles from Keel's own origin
// only: no inline script, no eval, and no framing by other sites. Images
// may also come from the media library's address, and the browser may
// upload to object storage, where uploads go straight.
func contentSecurityPolicy(cfg config.Config) string {
	storage := "https://*.amazonaws.com"
	if cfg.S3Endpoint != "" {
		storage = origin(cfg.S3Endpoint)
	}
	media := origin(cfg.MediaBase())
	return "default-src 'self'; script-src 'self'; style-src 'self'; " +
		"img-src 'self' data: " + media + " " + storage + "; connect-src 'self' " + storage + "; " +
		"font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
}

// origin is the scheme and host of an address.
func origin(address string) string {
	u, err := url.Parse(address)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func (a *App) newEcho(limiter *ratelimit.Limiter, hasher *auth.Hasher) *echo.Echo {
	cfg := a.Config

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.IPExtractor = ipExtractor(cfg)
	trusted := cfg.TrustedPrefixes()

	e.Use(
		a.Metrics.Middleware(),
		requestID(trusted),
		requestLogger(a.Logger),
		middleware.RecoverWithConfig(middleware.RecoverConfig{DisableErrorHandler: true}),
		securityHeaders(cfg.Production(), contentSecurityPolicy(cfg)),
		plainPath,
		middleware.BodyLimit(cfg.BodyLimit),
		parseForm,
		csrf(cfg.Production(), a.shared),
		middleware.GzipWithConfig(middleware.GzipConfig{
			// A compressed event stream would sit in the compressor's
			// buffer instead of reaching the browser. Shared pages are
			// kept compressed and sent as they are.
			Skipper:   func(c echo.Context) bool { return isStream(c) || a.shared(c.Path()) },
			MinLength: 1024,
		}),
		middleware.ContextTimeoutWithConfig(middleware.ContextTimeoutConfig{
			// Exports and live streams last longer; their size and
			// lifetime are bounded instead. Shared pages set their own,
			// when they are rendered rather than sent as kept.
			Skipper: func(c echo.Context) bool {
				return isStream(c) || strings.HasSuffix(c.Path(), ".csv") || a.shared(c.Path())
			},
			Timeout: cfg.RequestTimeout,
		}),
	)

	// The gzip middleware compresses /metrics like any other page; the
	// handler's own compression would wrap it twice.
	metricsHandler := promhttp.HandlerFor(a.Metrics.Registry, promhttp.HandlerOpts{DisableCompression: true})
	e.GET("/metrics", echo.WrapHandler(metricsHandler), peerIn(cfg.MetricsPrefixes()))
	files := static.Handler()
	e.GET(static.Prefix+"*", func(c echo.Context) error {
		if !static.Served(c.Request().URL.Path) {
			return echo.ErrNotFound
		}
		files.ServeHTTP(c.Response(), c.Request())
		return nil
	})

	a.Handlers = handlers.Register(e, handlers.Deps{
		Logger:   a.Logger,
		Store:    a.Store,
		Reads:    a.Reads,
		Limiter:  limiter,
		Metrics:  a.Metrics,
		Sessions: a.Sessions,
		Hasher:   hasher,
		Ready: []handlers.Check{
			{Name: "postgres", Ping: a.Store.Ping},
			{Name: "redis", Ping: a.pingRedis},
		},
		BaseURL:        cfg.BaseURL,
		RequestTimeout: cfg.RequestTimeout,
		ContactRule: ratelimit.Rule{
			Name:   "contact",
			Count:  cfg.ContactLimit,
			Period: cfg.ContactPeriod,
		},
		OrderRule:         ratelimit.Rule{Name: "order", Count: cfg.OrderLimit, Period: time.Hour},
		SignInIPRule:      ratelimit.Rule{Name: "signin-ip", Count: cfg.SignInIPLimit, Period: 15 * time.Minute},
		SignInAccountRule: ratelimit.Rule{Name: "signin-account", Count: cfg.SignInAccountLimit, Period: 15 * time.Minute},
		ResetLinkLifetime: cfg.ResetLinkLifetime,
		Blob:              a.Blob,
		Hub:               a.Hub,
		Markdown:          a.Markdown,
		MediaMaxBytes:     cfg.MediaMaxBytes(),
		Fanout:            a.Fanout,
		StreamLimit:       cfg.LiveStreamLimit,
		Queue:             a.Queue,
		TaxRateBP:         cfg.TaxRateBP(),
		OrderEmailLimit:   cfg.OrderEmailLimit,
		JobsUI:            a.jobsUI,
		Stopping:          a.stopping,
	})
	return e
}

// ipExtractor decides which address is the client's. X-Forwarded-For is
// believed only from the configured proxies; Echo's default would also
// trust loopback and private ranges, letting any client on those
// networks claim another address.
func ipExtractor(cfg config.Config) echo.IPExtractor {
	proxies := cfg.TrustedPrefixes()
	if len(proxies) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{
		echo.TrustLoopback(false),
		echo.TrustLinkLocal(false),
		echo.TrustPrivateNet(false),
	}
	for _, p := range proxies {
		_, ipNet, _ := net.ParseCIDR(p.String())
		opts = append(opts, echo.TrustIPRange(ipNet))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

// requestID gives every request an id, in the X-Request-ID header of
// the response and in the context for log lines. An id set by a trusted
// proxy in front is kept when it looks like one; clients cannot choose
// theirs.
func requestID(trusted []netip.Prefix) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			id := c.Request().Header.Get(echo.HeaderXRequestID)
			if id == "" || !peerMatches(c.Request().RemoteAddr, trusted) || !requestIDPattern.MatchString(id) {
				id = newRequestID()
			}
			c.Response().Header().Set(echo.HeaderXRequestID, id)
			ctx := logging.WithRequestID(c.Request().Context(), id)
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	}
}

// newRequestID returns 24 random hex digits.
func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestLogger writes one line a request, carrying the error if any.
// Probes and static files log at debug level.
func requestLogger(logger *slog.Logger) echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		HandleError:  true,
		LogStatus:    true,
		LogMethod:    true,
		LogURI:       true,
		LogRoutePath: true,
		LogLatency:   true,
		LogRemoteIP:  true,
		LogError:     true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			level := slog.LevelInfo
			switch {
			case quiet(v.RoutePath) && v.Status >= 500:
				level = slog.LevelWarn
			case quiet(v.RoutePath):
				level = slog.LevelDebug
			case v.Status >= 500:
				level = slog.LevelError
			}
			uri := v.URI
			if strings.Contains(v.RoutePath, ":token") {
				// Secrets travel in these paths; log the route instead.
				uri = v.RoutePath
			}
			attrs := []slog.Attr{
				slog.String("method", v.Method),
				slog.String("uri", uri),
				slog.String("route", v.RoutePath),
				slog.Int("status", v.Status),
				slog.Duration("latency", v.Latency),
				slog.String("client_ip", v.RemoteIP),
			}
			if v.Error != nil {
				attrs = append(attrs, slog.String("error", v.Error.Error()))
			}
			logger.LogAttrs(c.Request().Context(), level, "request", attrs...)
			return nil
		},
	})
}

// shared reports whether a route serves a page that is the same for
// everyone. Routes are registered after the middleware is set up.
func (a *App) shared(route string) bool { return a.Handlers != nil && a.Handlers.Shared(route) }

// isStream reports whether a route serves Server-Sent Events.
func isStream(c echo.Context) bool { return strings.HasSuffix(c.Path(), "/events") }

func quiet(route string) bool {
	return route == "/healthz" || route == "/readyz" || route == "/metrics" ||
		strings.HasPrefix(route, static.Prefix)
}

// Handler is Keel's HTTP handler: the Echo router, with HEAD answered
// like GET. The request is cloned for the router, so net/http still
// knows it is a HEAD and sends no body.
func (a *App) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			r = r.Clone(r.Context())
			r.Method = http.MethodGet
		}
		a.Echo.ServeHTTP(w, r)
	})
}

// plainPath answers 404 to a path with control characters (a NUL, say)
// or bytes that are not UTF-8: no page has such an address, and they
// must not reach a database query as a token or a key.
func plainPath(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p := c.Request().URL.Path
		if !utf8.ValidString(p) || strings.ContainsFunc(p, unicode.IsControl) {
			return &handlers.Error{Status: http.StatusNotFound, Code: "not_found",
				Message: "There is no page at this address."}
		}
		return next(c)
	}
}

// parseForm reads a form body before anything looks at it, so that a
// body over the limit is answered 413, and a malformed one 400, rather
// than read as an empty form.
func parseForm(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Method != http.MethodPost {
			return next(c)
		}
		ct := r.Header.Get(echo.HeaderContentType)
		var err error
		switch {
		case strings.HasPrefix(ct, echo.MIMEApplicationForm):
			err = r.ParseForm()
		case strings.HasPrefix(ct, echo.MIMEMultipartForm):
			err = r.ParseMultipartForm(1 << 20)
		}
		if errors.Is(err, echo.ErrStatusRequestEntityTooLarge) {
			return echo.ErrStatusRequestEntityTooLarge
		}
		if err != nil {
			return &handlers.Error{Status: http.StatusBadRequest, Code: "bad_form",
				Message: "The form could not be read.", Err: err}
		}
		// A form is its body: values in the query string of a POST are
		// not form values, for handlers or for the CSRF token.
		r.Form = r.PostForm
		return next(c)
	}
}

// peerIn lets a request through only when its direct peer, not an
// address it claims in a header, is in one of the ranges.
func peerIn(ranges []netip.Prefix) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			// A request a proxy forwarded came from someone else: the
			// peer's address says nothing about them.
			if !peerMatches(c.Request().RemoteAddr, ranges) || c.Request().Header.Get("X-Forwarded-For") != "" {
				return echo.ErrNotFound
			}
			return next(c)
		}
	}
}

func peerMatches(remoteAddr string, ranges []netip.Prefix) bool {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, p := range ranges {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// csrf refuses state-changing requests that did not come from Keel's own
// pages. Browsers that send Sec-Fetch-Site are checked by it alone
// (same-origin passes, cross-site is refused); for others, the request
// must carry the token from the csrf cookie, in the _csrf form field or
// the X-CSRF-Token header that htmx adds from hx-headers.
func csrf(production bool, shared func(route string) bool) echo.MiddlewareFunc {
	name := "keel_csrf"
	if production {
		name = "__Host-keel_csrf"
	}
	//nolint:gosec // G101: no credential here, only the CSRF cookie's name.
	return middleware.CSRFWithConfig(middleware.CSRFConfig{
		// Files, probes and pages that are the same for everyone change
		// nothing and must not set cookies.
		// River UI's API sends no token; its writes are checked to come
		// from the site's own pages instead (handlers.sameOrigin).
		Skipper: func(c echo.Context) bool {
			return quiet(c.Path()) || strings.HasPrefix(c.Path(), "/files/") || shared(c.Path()) ||
				strings.HasPrefix(c.Path(), JobsUIPrefix+"/api/") || isStream(c)
		},
		TokenLookup:    "header:X-CSRF-Token,form:_csrf",
		CookieName:     name,
		CookiePath:     "/",
		CookieHTTPOnly: true,
		CookieSecure:   production,
		CookieSameSite: http.SameSiteLaxMode,
		CookieMaxAge:   12 * 3600,
		ErrorHandler: func(err error, c echo.Context) error {
			return &handlers.Error{
				Status:  http.StatusForbidden,
				Code:    "csrf_failed",
				Message: "This form has expired or came from another site. Reload the page and try again.",
				Err:     err,
			}
		},
	})
}

// securityHeaders sets the headers every response carries. HSTS is sent
// only in production, and only over https. The values are built once
// and given to each response as they are: they are the same for every
// response, and Header.Set would canonicalise each name every time.
func securityHeaders(production bool, csp string) echo.MiddlewareFunc {
	type header struct {
		name  string
		value []string
	}
	one := func(v string) []string { return []string{v}[:1:1] }
	headers := []header{
		{echo.HeaderXContentTypeOptions, one("nosniff")},
		{echo.HeaderXFrameOptions, one("DENY")},
		{echo.HeaderContentSecurityPolicy, one(csp)},
		{echo.HeaderReferrerPolicy, one("strict-origin-when-cross-origin")},
	}
	hsts := one("max-age=63072000; includeSubdomains")
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			for _, hd := range headers {
				h[hd.name] = hd.value
			}
			if production && c.Scheme() == "https" {
				h[echo.HeaderStrictTransportSecurity] = hsts
			}
			return next(c)
		}
	}
}

// newServer returns the HTTP server for h. There is no WriteTimeout:
// long-lived streams need per-write deadlines instead; ordinary
// requests are bounded by the request timeout middleware.
func newServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

func (a *App) pingRedis(ctx context.Context) error {
	return a.Redis.Ping(ctx).Err()
}
