// Package app assembles Keel: it opens the pools, builds the store, the
// job clients and the HTTP server from a Config, and runs them until
// their context ends. main calls it; tests run it on port 0.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"
	"github.com/riverqueue/river"
	"riverqueue.com/riverui"

	"keel/auth"
	"keel/blob"
	"keel/cache"
	"keel/config"
	"keel/db"
	"keel/handlers"
	"keel/invoice"
	"keel/jobs"
	"keel/live"
	"keel/mail"
	"keel/markdown"
	"keel/metrics"
	"keel/ratelimit"
	"keel/store"
)

// JobsUIPrefix is where River's UI is mounted in the portal.
const JobsUIPrefix = "/admin/jobs"

// App is a running Keel: its services and its HTTP handler.
type App struct {
	Config config.Config
	Logger *slog.Logger
	Pool   *pgxpool.Pool
	Redis  *redis.Client
	Store  *store.Store
	// Replica is the store on the read replica, or nil; Reads chooses
	// between it and the primary for reports.
	Replica  *store.Store
	Reads    *store.Reads
	Cache    *cache.Cache
	Blob     *blob.Store
	Hub      *live.Hub
	Markdown *markdown.Renderer
	Fanout   *live.Fanout
	Queue    *jobs.Queue
	Metrics  *metrics.Metrics
	Sessions *auth.Sessions
	Echo     *echo.Echo
	Handlers *handlers.Handlers

	replicaPool *pgxpool.Pool
	// stopping is closed when shutdown begins, so long-lived streams end
	// and let it finish.
	stopping chan struct{}
	mailer   *mail.Sender
	inserter *river.Client[pgx.Tx]
	stopHub  context.CancelFunc
	signaler *live.Signaler
	worker   *river.Client[pgx.Tx] // nil unless this process works jobs
	jobsUI   *riverui.Handler
}

// Options change how New assembles the app.
type Options struct {
	// Workers makes this process work River jobs.
	Workers bool
	// Conn replaces the pool as the store's connection. Tests pass a
	// transaction they roll back.
	Conn store.Conn
	// Offline leaves out the live hub, for commands that serve no one
	// (migrate, seed, user, worker).
	Offline bool
	// CachePrefix goes before the cache's Redis keys. Tests running on
	// their own transaction set it, as their data is theirs alone.
	CachePrefix string
}

// New connects to PostgreSQL and Redis and assembles Keel. PostgreSQL
// must answer: without it Keel cannot do anything useful, and failing
// here gives one clear line instead of a server that answers 503.
// Redis may be down; the pages that need it degrade.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger, o Options) (*App, error) {
	a := &App{Config: cfg, Logger: logger, Metrics: metrics.New(), stopping: make(chan struct{})}

	pool, err := openPool(ctx, cfg.DatabaseURL, cfg.DatabaseMaxConns)
	if err != nil {
		return nil, err
	}
	a.Pool = pool
	if cfg.DatabaseReplicaURL != "" {
		if a.replicaPool, err = openPool(ctx, cfg.DatabaseReplicaURL, cfg.DatabaseMaxConns); err != nil {
			pool.Close()
			return nil, fmt.Errorf("replica: %w", err)
		}
	}

	a.Redis, err = openRedis(ctx, cfg.RedisURL, logger)
	if err != nil {
		pool.Close()
		return nil, err
	}

	if err := a.assemble(o); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

func (a *App) assemble(o Options) error {
	var err error
	a.inserter, err = jobs.NewInserter(a.Pool, a.Logger)
	if err != nil {
		return err
	}

	conn := o.Conn
	if conn == nil {
		conn = a.Pool
	}
	a.Cache = cache.New(a.Redis, cache.Options{
		Timeout:     a.Config.CacheTimeout,
		NotFound:    store.ErrNotFound,
		NotFoundTTL: 30 * time.Second,
		Logger:      a.Logger,
		Registerer:  a.Metrics.Registry,
		Prefix:      o.CachePrefix,
	})
	a.Queue = jobs.NewQueue(a.inserter)
	a.signaler = live.NewSignaler(a.Redis, a.Logger)
	// Files are also reachable through the site's own route to them.
	a.Markdown = markdown.New(a.Config.MediaBase(), strings.TrimSuffix(a.Config.BaseURL, "/")+"/files/", "/files/")
	a.Store = store.New(conn, a.Queue).WithCache(a.Cache).WithSignal(a.signaler.Signal).WithMarkdown(a.Markdown)
	a.Blob = blob.New(blob.Config{
		Endpoint:  a.Config.S3Endpoint,
		Region:    a.Config.S3Region,
		Bucket:    a.Config.S3Bucket,
		AccessKey: a.Config.S3AccessKey,
		SecretKey: a.Config.S3SecretKey,
	})
	// The hub reads committed events on the pool, whatever connection
	// the store was given.
	a.Hub = live.NewHub(a.Redis, store.New(a.Pool, nil), live.Options{
		Logger:    a.Logger,
		Delivered: func(n int) { a.Metrics.LiveDelivered.Add(float64(n)) },
		Dropped:   a.Metrics.LiveDropped.Inc,
	})
	orderStreams := a.Metrics.Streams.WithLabelValues("order")
	a.Fanout = live.NewFanout(a.Hub, live.FanoutOptions{Open: func(d int) { orderStreams.Add(float64(d)) }})
	if !o.Offline {
		hubCtx, stopHub := context.WithCancel(context.Background())
		a.stopHub = stopHub
		go a.Hub.Run(hubCtx)
		go a.Cache.Watch(hubCtx)
		go a.Fanout.Run(hubCtx)
	}

	a.mailer, err = mail.NewSender(mail.Config{
		Addr:     a.Config.SMTPAddr,
		Username: a.Config.SMTPUsername,
		Password: a.Config.SMTPPassword,
		TLS:      a.Config.SMTPTLS,
		Timeout:  a.Config.SMTPTimeout,
		From:     a.Config.MailFrom,
		Domain:   hostOf(a.Config.BaseURL),
	})
	if err != nil {
		return err
	}

	if o.Workers {
		deps := jobs.Deps{Store: a.Store, Mailer: a.mailer, Orders: a.orderDeps(), Blobs: a.Blob}
		opts := jobs.Options{Logger: a.Logger, Workers: a.Config.WorkerCount, RescueAfter: a.Config.JobRescueAfter}
		if a.worker, err = jobs.NewClient(a.Pool, deps, opts); err != nil {
			return err
		}
	}

	// River's own UI, behind the portal's sign-in and permissions; it
	// reads and changes jobs through the inserting client.
	a.jobsUI, err = riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(a.inserter, nil),
		Logger:    a.Logger,
		Prefix:    JobsUIPrefix,
	})
	if err != nil {
		return fmt.Errorf("river ui: %w", err)
	}

	a.Metrics.WatchDatabase(a.Pool, "primary")
	if a.replicaPool != nil {
		a.Replica = store.New(a.replicaPool, nil)
		a.Metrics.WatchDatabase(a.replicaPool, "replica")
	}
	a.Reads = store.NewReads(a.Store, a.Replica, a.Config.ReplicaMaxLag, a.Logger)
	a.Reads.Fallback = func(reason string) { a.Metrics.ReplicaFallbacks.WithLabelValues(reason).Inc() }
	a.Reads.Lag = func(d time.Duration) { a.Metrics.ReplicaLag.Set(d.Seconds()) }
	a.Metrics.WatchRedis(a.Redis)
	a.Metrics.WatchJobs(a.Pool, jobs.Queues, a.Logger)

	hasher, err := auth.NewHasher(a.Config.Argon2Memory, a.Config.Argon2Iterations)
	if err != nil {
		return err
	}
	a.Sessions = auth.NewSessions(a.Redis, a.Store, auth.Config{
		Production:      a.Config.Production(),
		IdleTimeout:     a.Config.SessionIdleTimeout,
		Lifetime:        a.Config.SessionLifetime,
		RefreshLifetime: a.Config.RefreshLifetime,
		RefreshGrace:    a.Config.RefreshGrace,
	}, a.Logger)

	limiter := ratelimit.New(a.Redis, 500*time.Millisecond)
	a.Echo = a.newEcho(limiter, hasher)
	return nil
}

// Close releases the pools. Call it after Serve or Work returned.
func (a *App) Close() {
	if a.stopHub != nil {
		a.stopHub()
	}
	if a.signaler != nil {
		a.signaler.Wait()
	}
	if a.Redis != nil {
		_ = a.Redis.Close()
	}
	if a.Pool != nil {
		a.Pool.Close()
	}
	if a.replicaPool != nil {
		a.replicaPool.Close()
	}
}

func openPool(ctx context.Context, dsn string, maxConns int32) (*pgxpool.Pool, error) {
	pc, err := db.PoolConfig(dsn, maxConns)
	if err != nil {
		return nil, fmt.Errorf("KEEL_DATABASE_URL: %w", err)
	}

	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL pool: %w", err)
	}

	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("PostgreSQL at %s:%d is unreachable: %w",
			pc.ConnConfig.Host, pc.ConnConfig.Port, rootCause(err))
	}
	return pool, nil
}

func openRedis(ctx context.Context, rawURL string, logger *slog.Logger) (*redis.Client, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("KEEL_REDIS_URL: %w", err)
	}
	// Short bounds: Redis is a cache and a limiter here, and a request
	// waiting on a dead Redis should fall back quickly.
	opts.DialTimeout = time.Second
	opts.ReadTimeout = 500 * time.Millisecond
	opts.WriteTimeout = 500 * time.Millisecond
	opts.PoolTimeout = time.Second
	opts.MaxRetries = 1
	opts.DialerRetries = 1
	// Let each call's context bound it: the cache gives Redis a tenth of
	// a second, the session layer more.
	opts.ContextTimeoutEnabled = true

	silenceRedis.Do(func() { redis.SetLogger(quietLogger{}) })
	rdb := redis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		logger.Warn("Redis is unreachable; rate limits and caching degrade until it answers",
			"addr", opts.Addr, "error", err)
	}
	return rdb, nil
}

// rootCause drops pgx's layers of context, which repeat the address,
// down to the reason ("connection refused").
func rootCause(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return "keel.localhost"
	}
	return strings.TrimPrefix(u.Hostname(), "www.")
}

// silenceRedis turns off go-redis's own logging, which prints to stderr
// outside slog. Keel logs Redis failures where they matter, with the
// request they affected.
var silenceRedis sync.Once

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// orderDeps are the order jobs' dependencies. Links use the named
// routes of the HTTP layer, resolved when a job runs.
func (a *App) orderDeps() jobs.OrderDeps {
	base := strings.TrimSuffix(a.Config.BaseURL, "/")
	return jobs.OrderDeps{
		Blobs:      a.Blob,
		Mailer:     a.mailer,
		StaffEmail: a.Config.StaffEmail,
		Seller: invoice.Seller{
			Name:    "Keel Services",
			Address: []string{"1 Harbour Street", "Keel Quay"},
			Email:   a.Config.MailFrom,
		},
		StatusURL: func(token string) string { return base + a.Echo.Reverse("order.show", token) },
		AdminURL:  func(id int64) string { return base + a.Echo.Reverse("admin.order.show", id) },
	}
}
