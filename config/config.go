// Package config reads Keel's settings from environment variables.
//
// Every setting has a default that works on a developer machine once
// `make dev` has started the local services. Load validates the whole
// set and reports the first bad variable by name, so a misconfigured
// process stops with one line that says what to fix.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Environments Keel knows. Production turns on the strict defaults.
const (
	EnvDevelopment = "development"
	EnvTest        = "test"
	EnvProduction  = "production"
)

// Config is the whole of Keel's configuration. The `env` tag names the
// variable, `envDefault` its local default and `help` the line shown in
// the README's table (a test keeps the two in step).
type Config struct {
	Env      string `env:"KEEL_ENV" envDefault:"development" help:"development, test or production; production refuses local secrets and plain http, and sends HSTS"`
	Addr     string `env:"KEEL_ADDR" envDefault:"127.0.0.1:8080" help:"address the HTTP server listens on"`
	BaseURL  string `env:"KEEL_BASE_URL" envDefault:"http://127.0.0.1:8080" help:"public origin of the site, used in links sent by email and in the bucket's CORS rule"`
	LogLevel string `env:"KEEL_LOG_LEVEL" envDefault:"info" help:"debug, info, warn or error"`
	// LogFormat is empty by default: text in development, JSON otherwise.
	LogFormat string `env:"KEEL_LOG_FORMAT" help:"text or json; empty means text in development, JSON otherwise"`

	DatabaseURL        string        `env:"KEEL_DATABASE_URL" envDefault:"postgres://keel@127.0.0.1:15432/keel?sslmode=disable" help:"PostgreSQL primary; on the same machine, its Unix socket: postgres://keel@/keel?host=/run/postgresql"`
	DatabaseReplicaURL string        `env:"KEEL_DATABASE_REPLICA_URL" help:"optional read replica; reports and exports read from it"`
	ReplicaMaxLag      time.Duration `env:"KEEL_REPLICA_MAX_LAG" envDefault:"5s" help:"past this replay lag, reads meant for the replica go to the primary"`
	DatabaseMaxConns   int32         `env:"KEEL_DATABASE_MAX_CONNS" envDefault:"20" help:"connections in each PostgreSQL pool"`
	RedisURL           string        `env:"KEEL_REDIS_URL" envDefault:"redis://127.0.0.1:16379/0" help:"Redis for rate limits, cache, sessions and fan-out"`

	S3Endpoint  string `env:"KEEL_S3_ENDPOINT" envDefault:"http://127.0.0.1:19000" help:"S3 API endpoint; empty means AWS"`
	S3Region    string `env:"KEEL_S3_REGION" envDefault:"us-east-1" help:"S3 region"`
	S3Bucket    string `env:"KEEL_S3_BUCKET" envDefault:"keel" help:"bucket for invoices and media"`
	S3AccessKey string `env:"KEEL_S3_ACCESS_KEY" envDefault:"keel-local" help:"S3 access key id"`
	S3SecretKey string `env:"KEEL_S3_SECRET_KEY" envDefault:"keel-local-secret" help:"S3 secret key"`

	SMTPAddr     string        `env:"KEEL_SMTP_ADDR" envDefault:"127.0.0.1:11025" help:"SMTP server host:port"`
	SMTPUsername string        `env:"KEEL_SMTP_USERNAME" help:"SMTP user; empty means no authentication"`
	SMTPPassword string        `env:"KEEL_SMTP_PASSWORD" help:"SMTP password"`
	SMTPTLS      string        `env:"KEEL_SMTP_TLS" envDefault:"none" help:"none, starttls or tls"`
	SMTPTimeout  time.Duration `env:"KEEL_SMTP_TIMEOUT" envDefault:"10s" help:"bound on one SMTP conversation"`
	MailFrom     string        `env:"KEEL_MAIL_FROM" envDefault:"Keel <hello@keel.localhost>" help:"sender of every email"`

	TaxRate    string `env:"KEEL_TAX_RATE" envDefault:"20" help:"VAT added to orders, in percent (up to two decimals)"`
	StaffEmail string `env:"KEEL_STAFF_EMAIL" envDefault:"staff@keel.localhost" help:"where new-order notices go"`

	Workers         bool          `env:"KEEL_WORKERS" envDefault:"true" help:"run River workers inside keel serve"`
	WorkerCount     int           `env:"KEEL_WORKER_COUNT" envDefault:"10" help:"jobs worked at once by one process"`
	JobRescueAfter  time.Duration `env:"KEEL_JOB_RESCUE_AFTER" envDefault:"5m" help:"a job whose worker died is worked again after this long"`
	ShutdownTimeout time.Duration `env:"KEEL_SHUTDOWN_TIMEOUT" envDefault:"20s" help:"bound on finishing requests and jobs at SIGTERM"`
	RequestTimeout  time.Duration `env:"KEEL_REQUEST_TIMEOUT" envDefault:"15s" help:"bound on one ordinary request"`
	BodyLimit       string        `env:"KEEL_BODY_LIMIT" envDefault:"512KB" help:"largest request body accepted (form posts; a post's body may be 100,000 characters)"`
	TrustedProxies  []string      `env:"KEEL_TRUSTED_PROXIES" envSeparator:"," help:"comma-separated CIDRs whose X-Forwarded-For and X-Request-ID are believed"`
	MetricsAllow    []string      `env:"KEEL_METRICS_ALLOW" envSeparator:"," envDefault:"127.0.0.0/8,::1" help:"comma-separated CIDRs allowed to read /metrics (the direct peer, not a forwarded address)"`

	SessionIdleTimeout time.Duration `env:"KEEL_SESSION_IDLE_TIMEOUT" envDefault:"15m" help:"a staff session ends after this long without a request"`
	SessionLifetime    time.Duration `env:"KEEL_SESSION_LIFETIME" envDefault:"12h" help:"a staff session ends this long after it began, whatever its use"`
	RefreshLifetime    time.Duration `env:"KEEL_REFRESH_LIFETIME" envDefault:"168h" help:"a refresh token renews sessions for this long after it is issued"`
	RefreshGrace       time.Duration `env:"KEEL_REFRESH_GRACE" envDefault:"10s" help:"an already-rotated refresh token is accepted this long (at most three times), for tabs refreshing together"`
	Argon2Memory       uint32        `env:"KEEL_ARGON2_MEMORY_KB" envDefault:"19456" help:"argon2id memory per password hash, in KiB"`
	Argon2Iterations   uint32        `env:"KEEL_ARGON2_ITERATIONS" envDefault:"2" help:"argon2id passes per password hash"`
	SignInAccountLimit int           `env:"KEEL_SIGNIN_ACCOUNT_LIMIT" envDefault:"10" help:"sign-in attempts one account may receive per 15 minutes"`
	SignInIPLimit      int           `env:"KEEL_SIGNIN_IP_LIMIT" envDefault:"30" help:"sign-in attempts one client IP may make per 15 minutes"`
	ResetLinkLifetime  time.Duration `env:"KEEL_RESET_LINK_LIFETIME" envDefault:"1h" help:"how long a password reset link works"`

	CacheTimeout time.Duration `env:"KEEL_CACHE_TIMEOUT" envDefault:"100ms" help:"bound on one cache call to Redis; past it the database answers"`

	ContactLimit  int           `env:"KEEL_CONTACT_LIMIT" envDefault:"5" help:"contact requests one client IP may send per period"`
	ContactPeriod time.Duration `env:"KEEL_CONTACT_PERIOD" envDefault:"1h" help:"period of the contact rate limit"`
	OrderLimit    int           `env:"KEEL_ORDER_LIMIT" envDefault:"20" help:"orders one client IP may place per hour"`
	// OrderEmailLimit is kept in PostgreSQL: it holds while Redis is
	// away, when the per-IP limit lets orders through.
	OrderEmailLimit int `env:"KEEL_ORDER_EMAIL_LIMIT" envDefault:"5" help:"orders one email address may receive per hour"`

	MediaBaseURL string `env:"KEEL_MEDIA_BASE_URL" help:"public address of uploaded media (a CDN in front of the bucket); empty: served through Keel at /files/"`
	MediaLimit   string `env:"KEEL_MEDIA_LIMIT" envDefault:"10MB" help:"largest file editors may upload"`

	LiveStreamLimit int `env:"KEEL_LIVE_STREAM_LIMIT" envDefault:"10" help:"live streams one staff member, or one order's page, may hold open on one server"`
}

// Load reads the configuration from getenv-style lookups in environ, a
// list of KEY=value strings as os.Environ returns, and validates it.
// The error names the offending variable and fits on one line.
func Load(environ []string) (Config, error) {
	var c Config

	opts := env.Options{Environment: toMap(environ)}
	if err := env.ParseWithOptions(&c, opts); err != nil {
		return Config{}, explain(err)
	}

	if err := c.validate(); err != nil {
		return Config{}, err
	}

	return c, nil
}

// TaxRateBP is the tax rate in basis points (20% is 2000). Load has
// checked that it parses.
func (c Config) TaxRateBP() int32 {
	bp, _ := parseTaxRate(c.TaxRate)
	return bp
}

// Production reports whether strict production defaults apply.
func (c Config) Production() bool { return c.Env == EnvProduction }

// TrustedPrefixes returns the parsed trusted proxy ranges. Load has
// already checked that every entry parses.
func (c Config) TrustedPrefixes() []netip.Prefix { return mustPrefixes(c.TrustedProxies) }

// MediaBase returns the public address uploaded media are under,
// ending in "/".
func (c Config) MediaBase() string {
	if c.MediaBaseURL == "" {
		return strings.TrimSuffix(c.BaseURL, "/") + "/files/"
	}
	return strings.TrimSuffix(c.MediaBaseURL, "/") + "/"
}

// MediaMaxBytes returns KEEL_MEDIA_LIMIT in bytes.
func (c Config) MediaMaxBytes() int64 {
	n, _ := ByteSize(c.MediaLimit) // checked at load
	return n
}

// MetricsPrefixes returns the ranges allowed to read /metrics.
func (c Config) MetricsPrefixes() []netip.Prefix { return mustPrefixes(c.MetricsAllow) }

func mustPrefixes(list []string) []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range list {
		p, _ := parsePrefix(s)
		ps = append(ps, p)
	}
	return ps
}

func (c Config) validate() error {
	checks := []struct {
		key string
		err error
	}{
		{"KEEL_ENV", oneOf(c.Env, EnvDevelopment, EnvTest, EnvProduction)},
		{"KEEL_ADDR", hostPort(c.Addr)},
		{"KEEL_BASE_URL", httpURL(c.BaseURL)},
		{"KEEL_LOG_LEVEL", oneOf(c.LogLevel, "debug", "info", "warn", "error")},
		{"KEEL_LOG_FORMAT", oneOf(c.LogFormat, "", "text", "json")},
		{"KEEL_DATABASE_URL", postgresURL(c.DatabaseURL)},
		{"KEEL_DATABASE_REPLICA_URL", optional(c.DatabaseReplicaURL, postgresURL)},
		{"KEEL_DATABASE_MAX_CONNS", between(int(c.DatabaseMaxConns), 1, 1000)},
		{"KEEL_REDIS_URL", schemeURL(c.RedisURL, "redis", "rediss")},
		{"KEEL_S3_ENDPOINT", optional(c.S3Endpoint, httpURL)},
		{"KEEL_S3_REGION", required(c.S3Region)},
		{"KEEL_S3_BUCKET", required(c.S3Bucket)},
		{"KEEL_SMTP_ADDR", hostPort(c.SMTPAddr)},
		{"KEEL_SMTP_TLS", oneOf(c.SMTPTLS, "none", "starttls", "tls")},
		{"KEEL_SMTP_TIMEOUT", positive(c.SMTPTimeout)},
		{"KEEL_MAIL_FROM", mailbox(c.MailFrom)},
		{"KEEL_TAX_RATE", taxRate(c.TaxRate)},
		{"KEEL_STAFF_EMAIL", mailbox(c.StaffEmail)},
		{"KEEL_WORKER_COUNT", between(c.WorkerCount, 1, 10000)},
		{"KEEL_JOB_RESCUE_AFTER", positive(c.JobRescueAfter)},
		{"KEEL_SHUTDOWN_TIMEOUT", positive(c.ShutdownTimeout)},
		{"KEEL_REQUEST_TIMEOUT", positive(c.RequestTimeout)},
		{"KEEL_BODY_LIMIT", byteSize(c.BodyLimit)},
		{"KEEL_TRUSTED_PROXIES", prefixes(c.TrustedProxies)},
		{"KEEL_METRICS_ALLOW", prefixes(c.MetricsAllow)},
		{"KEEL_SESSION_IDLE_TIMEOUT", positive(c.SessionIdleTimeout)},
		{"KEEL_SESSION_LIFETIME", atLeast(c.SessionLifetime, c.SessionIdleTimeout, "KEEL_SESSION_IDLE_TIMEOUT")},
		{"KEEL_REFRESH_LIFETIME", atLeast(c.RefreshLifetime, c.SessionIdleTimeout, "KEEL_SESSION_IDLE_TIMEOUT")},
		{"KEEL_REFRESH_GRACE", between(int(c.RefreshGrace.Seconds()), 1, 300)},
		{"KEEL_ARGON2_MEMORY_KB", between(int(c.Argon2Memory), 1024, 1<<21)},
		{"KEEL_ARGON2_ITERATIONS", between(int(c.Argon2Iterations), 1, 20)},
		{"KEEL_SIGNIN_ACCOUNT_LIMIT", between(c.SignInAccountLimit, 1, 1_000_000)},
		{"KEEL_SIGNIN_IP_LIMIT", between(c.SignInIPLimit, 1, 1_000_000)},
		{"KEEL_RESET_LINK_LIFETIME", positive(c.ResetLinkLifetime)},
		{"KEEL_CACHE_TIMEOUT", positive(c.CacheTimeout)},
		{"KEEL_REPLICA_MAX_LAG", positive(c.ReplicaMaxLag)},
		{"KEEL_CONTACT_LIMIT", between(c.ContactLimit, 1, 1_000_000)},
		{"KEEL_ORDER_LIMIT", between(c.OrderLimit, 1, 1_000_000)},
		{"KEEL_ORDER_EMAIL_LIMIT", between(c.OrderEmailLimit, 1, 1_000_000)},
		{"KEEL_LIVE_STREAM_LIMIT", between(c.LiveStreamLimit, 1, 1_000_000)},
		{"KEEL_MEDIA_LIMIT", byteSize(c.MediaLimit)},
		{"KEEL_MEDIA_BASE_URL", optional(c.MediaBaseURL, httpURL)},
		{"KEEL_CONTACT_PERIOD", positive(c.ContactPeriod)},
	}
	for _, ch := range checks {
		if ch.err != nil {
			return fmt.Errorf("%s: %w", ch.key, ch.err)
		}
	}

	if c.Production() {
		return c.validateProduction()
	}
	return nil
}

// validateProduction refuses the local defaults that must never reach
// a real deployment.
func (c Config) validateProduction() error {
	if c.S3SecretKey == "keel-local-secret" {
		return errors.New("KEEL_S3_SECRET_KEY: the local default is refused in production")
	}
	if !strings.HasPrefix(c.BaseURL, "https://") {
		return errors.New("KEEL_BASE_URL: production must be served over https")
	}
	return nil
}

// explain turns the env library's error, which names struct fields,
// into one line that names the environment variable.
func explain(err error) error {
	var agg env.AggregateError
	if errors.As(err, &agg) && len(agg.Errors) > 0 {
		err = agg.Errors[0]
	}

	var pe env.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", keyOf(pe.Name), unwrapParse(pe.Err))
	}
	return err
}

// keyOf returns the variable behind a Config field name.
func keyOf(field string) string {
	f, ok := reflect.TypeFor[Config]().FieldByName(field)
	if !ok {
		return field
	}
	key, _, _ := strings.Cut(f.Tag.Get("env"), ",")
	return key
}

func toMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok {
			m[k] = v
		}
	}
	return m
}
