package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"keel/config"
	"keel/handlers"
	"keel/logging"
	"keel/ratelimit"
	"keel/static"
)

// contentSecurityPolicy allows scripts and styles from Keel's own origin
// only: no inline script, no eval, and no framing by other sites.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; " +
	"base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

func (a *App) newEcho(limiter *ratelimit.Limiter) *echo.Echo {
	cfg := a.Config

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.IPExtractor = ipExtractor(cfg)

	e.Use(
		a.Metrics.Middleware(),
		requestID(),
		requestLogger(a.Logger),
		middleware.RecoverWithConfig(middleware.RecoverConfig{DisableErrorHandler: true}),
		securityHeaders(cfg.Production()),
		middleware.BodyLimit(cfg.BodyLimit),
		middleware.GzipWithConfig(middleware.GzipConfig{MinLength: 1024}),
		middleware.ContextTimeoutWithConfig(middleware.ContextTimeoutConfig{Timeout: cfg.RequestTimeout}),
	)

	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(a.Metrics.Registry, promhttp.HandlerOpts{})))
	e.GET(static.Prefix+"*", echo.WrapHandler(static.Handler()))

	handlers.Register(e, handlers.Deps{
		Logger:  a.Logger,
		Store:   a.Store,
		Limiter: limiter,
		Metrics: a.Metrics,
		Ready: []handlers.Check{
			{Name: "postgres", Ping: a.Store.Ping},
			{Name: "redis", Ping: a.pingRedis},
		},
		BaseURL: cfg.BaseURL,
		ContactRule: ratelimit.Rule{
			Name:   "contact",
			Count:  cfg.ContactLimit,
			Period: cfg.ContactPeriod,
		},
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
// the response and in the context for log lines. An id set by the proxy
// in front is kept when it looks like one.
func requestID() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			id := c.Request().Header.Get(echo.HeaderXRequestID)
			if !requestIDPattern.MatchString(id) {
				var b [12]byte
				_, _ = rand.Read(b[:])
				id = hex.EncodeToString(b[:])
			}
			c.Response().Header().Set(echo.HeaderXRequestID, id)
			ctx := logging.WithRequestID(c.Request().Context(), id)
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	}
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
			case v.Status >= 500:
				level = slog.LevelError
			case quiet(v.RoutePath):
				level = slog.LevelDebug
			}
			attrs := []slog.Attr{
				slog.String("method", v.Method),
				slog.String("uri", v.URI),
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

func quiet(route string) bool {
	return route == "/healthz" || route == "/readyz" || route == "/metrics" ||
		strings.HasPrefix(route, static.Prefix)
}

// securityHeaders sets the headers every response carries. HSTS is sent
// only in production, where Keel is served over https.
func securityHeaders(production bool) echo.MiddlewareFunc {
	hsts := 0
	if production {
		hsts = 63072000
	}
	return middleware.SecureWithConfig(middleware.SecureConfig{
		ContentTypeNosniff:    "nosniff",
		XFrameOptions:         "DENY",
		HSTSMaxAge:            hsts,
		ContentSecurityPolicy: contentSecurityPolicy,
		ReferrerPolicy:        "strict-origin-when-cross-origin",
	})
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
