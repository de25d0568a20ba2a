// Command keel is Keel's one binary: the web server, the job worker and
// the tools that prepare their database and bucket.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"keel/app"
	"keel/auth"
	"keel/blob"
	"keel/config"
	"keel/db"
	"keel/logging"
	"keel/store"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage: keel <command>

commands:
  serve     serve HTTP (and work jobs unless KEEL_WORKERS=false)
  worker    work background jobs only
  migrate   bring the database schema up to date (Keel's and River's)
  bucket    create the object storage bucket and set its CORS rule
  seed [--leads N]
            load demo data and demo users (safe to run again; refused in
            production); --leads adds N generated leads (not idempotent)
  user create --email EMAIL --role ROLE [--name NAME] [--password-stdin]
            create a staff user; without --password-stdin a password is
            generated and printed once
  version   print the version

Configuration is read from KEEL_* environment variables; see README.md.`

func main() {
	if err := runMain(); err != nil {
		// One line, whatever the error: the first thing an operator sees.
		fmt.Fprintf(os.Stderr, "keel: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		os.Exit(1)
	}
}

// runMain runs the command line with SIGINT and SIGTERM cancelling it.
func runMain() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
}

// errUsage is returned for a missing or unknown command.
var errUsage = errors.New("unknown command; run keel help")

func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	case "version":
		fmt.Fprintln(stdout, "keel", version)
		return nil
	}

	cfg, err := config.Load(environ)
	if err != nil {
		return err
	}
	format := cfg.LogFormat
	if format == "" && cfg.Env != config.EnvDevelopment {
		format = "json"
	}
	logger := logging.New(stderr, format, cfg.LogLevel).With("app_version", version)

	switch args[0] {
	case "serve":
		return serve(ctx, cfg, logger)
	case "worker":
		return work(ctx, cfg, logger)
	case "migrate":
		return withApp(ctx, cfg, logger, app.Options{Offline: true}, func(a *app.App) error {
			return db.Migrate(ctx, a.Pool, logger)
		})
	case "seed":
		return seed(ctx, cfg, logger, args[1:], stdout)
	case "user":
		return userCommand(ctx, cfg, logger, args[1:], os.Stdin, stdout)
	case "bucket":
		return ensureBucket(ctx, cfg)
	}
	fmt.Fprintln(stderr, usage)
	return errUsage
}

func serve(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("KEEL_ADDR: %w", err)
	}
	return withApp(ctx, cfg, logger, app.Options{Workers: cfg.Workers}, func(a *app.App) error {
		return a.Serve(ctx, ln)
	})
}

func work(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	return withApp(ctx, cfg, logger, app.Options{Workers: true, Offline: true}, func(a *app.App) error {
		return a.Work(ctx)
	})
}

func withApp(ctx context.Context, cfg config.Config, logger *slog.Logger, o app.Options, fn func(*app.App) error) error {
	a, err := app.New(ctx, cfg, logger, o)
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a)
}

func seed(ctx context.Context, cfg config.Config, logger *slog.Logger, args []string, stdout io.Writer) error {
	if cfg.Production() {
		return errors.New("seed: demo data and demo passwords are refused in production")
	}
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	leads := fs.Int("leads", 0, "also load this many generated leads")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, usage)
		return nil
	} else if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if *leads < 0 || *leads > 10_000_000 {
		return errors.New("seed: --leads must be between 0 and 10000000")
	}
	hasher, err := auth.NewHasher(cfg.Argon2Memory, cfg.Argon2Iterations)
	if err != nil {
		return err
	}
	return withApp(ctx, cfg, logger, app.Options{Offline: true}, func(a *app.App) error {
		if err := a.Store.Seed(ctx, hasher.Hash); err != nil {
			return err
		}
		if *leads > 0 {
			start := time.Now()
			err := a.Store.SeedLeads(ctx, *leads, func(done int) {
				if done%100_000 == 0 || done == *leads {
					fmt.Fprintf(stdout, "  %d leads loaded (%s)\n", done, time.Since(start).Round(time.Second))
				}
			})
			if err != nil {
				return err
			}
		}
		fmt.Fprintln(stdout, "Demo sign-ins (one per role):")
		for _, d := range store.DemoLogins {
			fmt.Fprintf(stdout, "  %-11s %-27s %s\n", d.Role, d.Email, d.Password)
		}
		return nil
	})
}

func ensureBucket(ctx context.Context, cfg config.Config) error {
	s := blob.New(blob.Config{
		Endpoint:  cfg.S3Endpoint,
		Region:    cfg.S3Region,
		Bucket:    cfg.S3Bucket,
		AccessKey: cfg.S3AccessKey,
		SecretKey: cfg.S3SecretKey,
	})
	return s.EnsureBucket(ctx, cfg.BaseURL)
}
