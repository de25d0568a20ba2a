// Package testenv connects tests to the real services `make test`
// starts (scripts/services.sh test): PostgreSQL, Redis, the S3 server
// and the SMTP catcher. A service that does not answer fails the test
// with a hint; nothing is skipped.
package testenv

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"keel/config"
	"keel/db"
	"keel/logging"
)

// defaults point at the test profile of scripts/services.sh, shifted by
// KEEL_PORT_OFFSET as the script shifts it; variables set in the
// environment win.
var defaults = map[string]string{
	"KEEL_ENV":          config.EnvTest,
	"KEEL_DATABASE_URL": fmt.Sprintf("postgres://keel@127.0.0.1:%d/keel?sslmode=disable", port(25432)),
	"KEEL_REDIS_URL":    fmt.Sprintf("redis://127.0.0.1:%d/0", port(26379)),
	"KEEL_S3_ENDPOINT":  fmt.Sprintf("http://127.0.0.1:%d", port(29000)),
	"KEEL_SMTP_ADDR":    fmt.Sprintf("127.0.0.1:%d", port(21025)),
	"KEEL_MAILPIT_URL":  fmt.Sprintf("http://127.0.0.1:%d", port(28025)),
	// The test profile's streaming replica, for the tests of replica
	// reads; other tests read the primary.
	"KEEL_TEST_REPLICA_URL": fmt.Sprintf("postgres://keel@127.0.0.1:%d/keel?sslmode=disable", port(25433)),
	"KEEL_LOG_LEVEL":        "warn",
	"KEEL_WORKER_COUNT":     "4",
	// Servers under test all see 127.0.0.1; tests of the limit set
	// their own and use their own client addresses.
	"KEEL_CONTACT_LIMIT": "1000",
	// Cheap password hashes keep sign-in tests fast; production's cost
	// is the default.
	"KEEL_ARGON2_MEMORY_KB":  "1024",
	"KEEL_ARGON2_ITERATIONS": "1",
}

func port(base int) int {
	off, _ := strconv.Atoi(os.Getenv("KEEL_PORT_OFFSET"))
	return base + off
}

const hint = "start the test services with `scripts/services.sh start test` (make test does)"

// Environ returns the environment tests run Keel with, as KEY=value
// pairs: the test profile's defaults overlaid with the process's own.
func Environ(overrides ...string) []string {
	env := map[string]string{}
	for k, v := range defaults {
		env[k] = v
	}
	for _, kv := range append(os.Environ(), overrides...) {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "KEEL_") {
			env[k] = v
		}
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// Getenv returns one variable of Environ.
func Getenv(key string) string {
	for _, kv := range Environ() {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			return v
		}
	}
	return ""
}

// Config returns Keel's configuration for tests, with overrides given
// as KEY=value.
func Config(t testing.TB, overrides ...string) config.Config {
	t.Helper()
	cfg, err := config.Load(Environ(overrides...))
	if err != nil {
		t.Fatalf("test configuration: %v", err)
	}
	return cfg
}

// Logger returns a logger that writes through the test's output, so
// lines show only for failing tests.
func Logger(t testing.TB) *slog.Logger {
	w := io.Discard
	if tt, ok := t.(interface{ Output() io.Writer }); ok {
		w = tt.Output()
	}
	return logging.New(w, "text", "warn")
}

var (
	poolOnce sync.Once
	pool     *pgxpool.Pool
	poolErr  error
)

// Pool returns a pool on the test database, migrated once per test
// binary. Migrations take an advisory lock, so packages testing in
// parallel take turns.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	poolOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cfg := Config(t)
		pool, poolErr = pgxpool.New(ctx, cfg.DatabaseURL)
		if poolErr == nil {
			poolErr = pool.Ping(ctx)
		}
		if poolErr == nil {
			poolErr = db.Migrate(ctx, pool, slog.New(slog.DiscardHandler))
		}
	})
	if poolErr != nil {
		t.Fatalf("PostgreSQL for tests: %v; %s", poolErr, hint)
	}
	return pool
}

// Database creates a migrated database of the test's own, for tests
// whose job workers must not take other tests' jobs (or leave theirs to
// other workers), and drops it when the test ends. It returns the
// database's URL and a pool on it.
func Database(t testing.TB) (string, *pgxpool.Pool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := strings.ReplaceAll(Unique("keel_t"), "-", "_")
	admin := Pool(t)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(Config(t).DatabaseURL)
	if err != nil {
		t.Fatalf("database URL: %v", err)
	}
	u.Path = "/" + name
	pool, err := pgxpool.New(ctx, u.String())
	if err != nil {
		t.Fatalf("connect to %s: %v", name, err)
	}
	t.Cleanup(pool.Close)
	if err := db.Migrate(ctx, pool, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("migrate %s: %v", name, err)
	}
	return u.String(), pool
}

// SocketURL returns dbURL rewritten to reach the same server and
// database through the server's Unix socket, as a program on the same
// machine would in production. The server says where its socket is.
func SocketURL(t testing.TB, dbURL string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect to %s: %v", dbURL, err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var dirs, port string
	if err := conn.QueryRow(ctx, "SELECT current_setting('unix_socket_directories'), current_setting('port')").Scan(&dirs, &port); err != nil {
		t.Fatalf("ask for the socket: %v", err)
	}
	dir, _, _ := strings.Cut(dirs, ",")
	if dir = strings.TrimSpace(dir); !strings.HasPrefix(dir, "/") {
		t.Fatalf("PostgreSQL has no socket folder (unix_socket_directories = %q)", dirs)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("database URL: %v", err)
	}
	u.Host = ""
	u.RawQuery = url.Values{"host": {dir}, "port": {port}}.Encode()
	return u.String()
}

// Tx returns a transaction on the test database that is rolled back
// when the test ends, so tests see only their own rows and run in
// parallel.
func Tx(t testing.TB) pgx.Tx {
	t.Helper()
	tx, err := Pool(t).Begin(context.Background())
	if err != nil {
		t.Fatalf("begin test transaction: %v", err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return tx
}

// Redis returns a client on the test Redis.
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(Getenv("KEEL_REDIS_URL"))
	if err != nil {
		t.Fatalf("KEEL_REDIS_URL: %v", err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis for tests: %v; %s", err, hint)
	}
	return rdb
}

// Unique returns a string no other test in this run uses, for email
// addresses and rate-limit keys.
func Unique(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), seq.Add(1))
}

// seq starts from the clock so that two runs against the same services
// never produce the same Unique values.
var seq = func() *atomic.Int64 {
	var n atomic.Int64
	n.Store(time.Now().UnixNano() % 1e9)
	return &n
}()

// BenchDatabaseURL returns the database `make bench` prepares with a
// million leads, or fails the benchmark with a hint.
func BenchDatabaseURL(b *testing.B) string {
	b.Helper()
	u := os.Getenv("KEEL_BENCH_DATABASE_URL")
	if u == "" {
		b.Fatal("KEEL_BENCH_DATABASE_URL is not set; run the benchmarks with make bench")
	}
	return u
}
