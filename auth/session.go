package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"keel/store"
)

// ErrUnavailable means the session store (Redis) cannot be reached:
// nobody can be signed in or out until it returns.
var ErrUnavailable = errors.New("session store unavailable")

// Session keys.
const (
	keyUser   = "uid"
	keyDevice = "dev"
	ctxUser   = "auth.user"
	ctxDevice = "auth.device"
)

// Config tunes sessions and refresh tokens.
type Config struct {
	// Production makes every cookie Secure and __Host- prefixed.
	Production bool
	// IdleTimeout ends a session after this long without a request;
	// Lifetime ends it this long after it began.
	IdleTimeout time.Duration
	Lifetime    time.Duration
	// RefreshLifetime is how long a refresh token works; RefreshGrace is
	// how long a rotated one is still honoured.
	RefreshLifetime time.Duration
	RefreshGrace    time.Duration
}

// Users is what Sessions needs from the store.
type Users interface {
	UserGetByID(ctx context.Context, id int64) (store.User, error)
	Audit(ctx context.Context, e store.AuditEntry) error
}

// Sessions signs staff in and out and identifies them on each request.
// An scs session in Redis plays the short-lived access token; when it
// has expired, the refresh token cookie renews it and is rotated.
type Sessions struct {
	sm      *scs.SessionManager
	devices *Devices
	users   Users
	logger  *slog.Logger
	// The refresh token cookie's name, Secure flag and lifetime.
	refresh string
	secure  bool
	maxAge  int
}

// NewSessions returns Sessions kept in rdb.
func NewSessions(rdb *redis.Client, users Users, cfg Config, logger *slog.Logger) *Sessions {
	sm := scs.New()
	sm.Store = goredisstore.NewWithPrefix(rdb, sessionPrefix)
	sm.IdleTimeout = cfg.IdleTimeout
	sm.Lifetime = cfg.Lifetime
	sm.Cookie = scs.SessionCookie{
		Name:     cookieName("keel_session", cfg.Production),
		Path:     "/",
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
		Secure:   cfg.Production,
	}

	return &Sessions{
		sm:      sm,
		devices: &Devices{rdb: rdb, lifetime: cfg.RefreshLifetime, grace: cfg.RefreshGrace},
		users:   users,
		logger:  logger,
		secure:  cfg.Production,
		refresh: cookieName("keel_refresh", cfg.Production),
		maxAge:  int(cfg.RefreshLifetime.Seconds()),
	}
}

// cookieName adds the __Host- prefix in production: the browser then
// refuses the cookie unless it is Secure, has Path=/ and no Domain, so
// no other host (a sibling subdomain, say) can plant or overwrite it.
func cookieName(name string, production bool) string {
	if production {
		return "__Host-" + name
	}
	return name
}

// CookieNames returns the session and refresh cookie names.
func (s *Sessions) CookieNames() (session, refresh string) {
	return s.sm.Cookie.Name, s.refresh
}

// Devices gives access to the user's signed-in devices.
func (s *Sessions) Devices() *Devices { return s.devices }

// Middleware loads the session, renews it from the refresh token when
// it has expired, and puts the signed-in user, if any, in the context.
// Responses are private: never stored by a cache or the browser.
func (s *Sessions) Middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Cache-Control", "no-store")
		h.Add("Vary", "Cookie")

		var token string
		if ck, err := c.Cookie(s.sm.Cookie.Name); err == nil {
			token = ck.Value
		}
		ctx, err := s.sm.Load(c.Request().Context(), token)
		if err != nil {
			return fmt.Errorf("%w: load session: %w", ErrUnavailable, err)
		}
		c.SetRequest(c.Request().WithContext(ctx))
		c.Response().Before(func() { s.commit(c) })

		if err := s.identify(c); err != nil {
			return err
		}
		return next(c)
	}
}

// commit saves a changed session and writes its cookie, just before the
// response's headers go out.
func (s *Sessions) commit(c echo.Context) {
	ctx := c.Request().Context()
	switch s.sm.Status(ctx) {
	case scs.Modified:
		token, expiry, err := s.sm.Commit(ctx)
		if err != nil {
			s.logger.ErrorContext(ctx, "save session", "error", err)
			return
		}
		s.sm.WriteSessionCookie(ctx, c.Response(), token, expiry)
	case scs.Destroyed:
		s.sm.WriteSessionCookie(ctx, c.Response(), "", time.Time{})
	}
}

// identify finds who is signed in: the session's user while its device
// is still signed in, else whoever the refresh token names.
func (s *Sessions) identify(c echo.Context) error {
	ctx := c.Request().Context()
	req := c.Request()

	uid := s.sm.GetInt64(ctx, keyUser)
	dev := s.sm.GetString(ctx, keyDevice)
	if uid != 0 {
		alive, err := s.devices.Seen(ctx, dev, c.RealIP(), req.UserAgent())
		if err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if !alive {
			uid, dev = 0, ""
			if err := s.sm.Destroy(ctx); err != nil {
				return fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
		}
	}
	if uid == 0 {
		var err error
		if uid, dev, err = s.renew(c); err != nil {
			return err
		}
	}
	if uid == 0 {
		return nil
	}

	u, err := s.users.UserGetByID(ctx, uid)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return s.signOut(c)
	case err != nil:
		return err
	case !u.Active():
		// Disabling revokes every device; this covers a request that
		// raced with it.
		return s.signOut(c)
	}
	c.Set(ctxUser, u)
	c.Set(ctxDevice, dev)
	return nil
}

// renew starts a new session from the refresh token cookie, rotating
// the token. It returns the user and device, or zero when there is no
// usable token.
func (s *Sessions) renew(c echo.Context) (int64, string, error) {
	var token string
	if ck, err := c.Cookie(s.refresh); err == nil {
		token = ck.Value
	}
	if token == "" {
		return 0, "", nil
	}
	ctx := c.Request().Context()

	r, err := s.devices.Rotate(ctx, token)
	if err != nil {
		return 0, "", fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	switch r.Outcome {
	case Unknown:
		s.clearRefresh(c)
		return 0, "", nil
	case Reused:
		s.clearRefresh(c)
		s.logger.WarnContext(ctx, "refresh token reused; user signed out everywhere", "user_id", r.UserID)
		err := s.users.Audit(ctx, store.AuditEntry{
			ActorID:    r.UserID,
			Action:     "auth.refresh_reuse",
			TargetType: "user",
			TargetID:   strconv.FormatInt(r.UserID, 10),
			ClientIP:   c.RealIP(),
			Detail:     map[string]any{"device": r.DeviceID, "revoked": "all devices"},
		})
		return 0, "", err
	case Rotated:
		s.setRefresh(c, r.Token)
	case Grace:
		// Another tab rotated this token a moment ago and the browser
		// already holds its successor; this tab just needs a session.
	}

	if err := s.startSession(ctx, r.UserID, r.DeviceID); err != nil {
		return 0, "", err
	}
	return r.UserID, r.DeviceID, nil
}

// startSession gives the request a fresh session token for the user on
// a device. Renewing the token is what defeats session fixation: a
// token known before cannot be the one that ends up signed in.
func (s *Sessions) startSession(ctx context.Context, uid int64, dev string) error {
	if err := s.sm.RenewToken(ctx); err != nil {
		return fmt.Errorf("%w: renew session: %w", ErrUnavailable, err)
	}
	s.sm.Put(ctx, keyUser, uid)
	s.sm.Put(ctx, keyDevice, dev)
	if err := s.devices.AddSession(ctx, dev, s.sm.Token(ctx)); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// Clock returns the shared clock (Redis time, ms). Read it before
// checking a password, and pass the reading to SignIn.
func (s *Sessions) Clock(ctx context.Context) (int64, error) {
	t, err := s.devices.Now(ctx)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return t, nil
}

// SignIn signs u in on this browser: a new device, a new session token
// and a refresh token cookie. checkedAt is the Clock reading taken
// before u's credentials were checked; if u was signed out everywhere
// since, SignIn returns ErrRevokedSince and signs nobody in.
func (s *Sessions) SignIn(c echo.Context, u store.User, checkedAt int64) error {
	ctx := c.Request().Context()
	dev, token, err := s.devices.Start(ctx, u.ID, checkedAt, c.RealIP(), c.Request().UserAgent())
	if errors.Is(err, ErrRevokedSince) {
		return err
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if err := s.startSession(ctx, u.ID, dev); err != nil {
		return err
	}
	s.setRefresh(c, token)
	c.Set(ctxUser, u)
	c.Set(ctxDevice, dev)
	return nil
}

// SignOut signs this browser's device out.
func (s *Sessions) SignOut(c echo.Context) error {
	dev, _ := c.Get(ctxDevice).(string)
	if err := s.devices.Revoke(c.Request().Context(), dev); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return s.signOut(c)
}

// signOut forgets the session and refresh token on this browser.
func (s *Sessions) signOut(c echo.Context) error {
	s.clearRefresh(c)
	c.Set(ctxUser, nil)
	c.Set(ctxDevice, nil)
	if err := s.sm.Destroy(c.Request().Context()); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// RevokeUser signs a user out of every device, on every server copy.
func (s *Sessions) RevokeUser(ctx context.Context, userID int64) error {
	if err := s.devices.RevokeUser(ctx, userID); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// RevokeDevice signs one of a user's devices out. A device of another
// user is left alone and reported as not found.
func (s *Sessions) RevokeDevice(ctx context.Context, userID int64, dev string) error {
	list, err := s.devices.List(ctx, userID)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	for _, d := range list {
		if d.ID == dev {
			return s.devices.Revoke(ctx, dev)
		}
	}
	return store.ErrNotFound
}

func (s *Sessions) setRefresh(c echo.Context, token string) {
	c.SetCookie(s.refreshCookie(token, s.maxAge))
}

func (s *Sessions) clearRefresh(c echo.Context) {
	c.SetCookie(s.refreshCookie("", -1))
}

// refreshCookie is the refresh token cookie: never readable by scripts,
// never sent with requests from other sites, Secure in production.
func (s *Sessions) refreshCookie(value string, maxAge int) *http.Cookie {
	//nolint:gosec // G124: Secure follows the environment; a test proves it is on in production.
	return &http.Cookie{
		Name:     s.refresh,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
		Secure:   s.secure,
	}
}

// Flash keeps a one-time message for the next page this browser sees.
func (s *Sessions) Flash(c echo.Context, msg string) {
	s.sm.Put(c.Request().Context(), "flash", msg)
}

// PopFlash returns and forgets the pending one-time message.
func (s *Sessions) PopFlash(c echo.Context) string {
	return s.sm.PopString(c.Request().Context(), "flash")
}

// CurrentUser returns the signed-in user, if any.
func CurrentUser(c echo.Context) (store.User, bool) {
	u, ok := c.Get(ctxUser).(store.User)
	return u, ok
}

// CurrentDevice returns the id of the signed-in device, if any.
func CurrentDevice(c echo.Context) string {
	d, _ := c.Get(ctxDevice).(string)
	return d
}
