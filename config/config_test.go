package config_test

import (
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"keel/config"
)

func TestLoadDefaults(t *testing.T) {
	t.Parallel()

	cfg, err := config.Load(nil)
	require.NoError(t, err)
	require.Equal(t, config.EnvDevelopment, cfg.Env)
	require.Equal(t, "127.0.0.1:8080", cfg.Addr)
	require.Equal(t, 15*time.Second, cfg.RequestTimeout)
	require.True(t, cfg.Workers)
	require.Empty(t, cfg.TrustedPrefixes())
}

// A server on the same machine may be reached through its Unix socket,
// named as libpq names it: a folder in the host parameter.
func TestLoadDatabaseSocket(t *testing.T) {
	t.Parallel()
	url := "postgres://keel@/keel?host=/run/postgresql&port=5432"
	cfg, err := config.Load([]string{"KEEL_DATABASE_URL=" + url, "KEEL_DATABASE_REPLICA_URL=" + url})
	require.NoError(t, err)
	require.Equal(t, url, cfg.DatabaseURL)
}

func TestLoadOverrides(t *testing.T) {
	t.Parallel()

	cfg, err := config.Load([]string{
		"KEEL_ADDR=0.0.0.0:9000",
		"KEEL_WORKERS=false",
		"KEEL_TRUSTED_PROXIES=10.0.0.0/8, 192.0.2.7",
	})
	require.NoError(t, err)
	require.Equal(t, "0.0.0.0:9000", cfg.Addr)
	require.False(t, cfg.Workers)
	require.Len(t, cfg.TrustedPrefixes(), 2)
	require.Equal(t, "192.0.2.7/32", cfg.TrustedPrefixes()[1].String())
}

// A bad value stops Keel with one line that names the variable.
func TestLoadRejects(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		env  string
		want string
	}{
		{"UnknownEnv", "KEEL_ENV=staging", "KEEL_ENV: "},
		{"AddrWithoutPort", "KEEL_ADDR=localhost", "KEEL_ADDR: "},
		{"BaseURLNotHTTP", "KEEL_BASE_URL=ftp://x", "KEEL_BASE_URL: "},
		{"DatabaseURLScheme", "KEEL_DATABASE_URL=mysql://u:secret@h/db", "KEEL_DATABASE_URL: "},
		{"DatabaseURLNoHost", "KEEL_DATABASE_URL=postgres://keel@/keel", "KEEL_DATABASE_URL: "},
		{"DatabaseSocketRelative", "KEEL_DATABASE_URL=postgres://keel@/keel?host=run/pg", "KEEL_DATABASE_URL: "},
		{"DatabaseSocketAndHost", "KEEL_DATABASE_URL=postgres://keel@/keel?host=/tmp&host=127.0.0.2", "KEEL_DATABASE_URL: "},
		{"DatabaseSocketList", "KEEL_DATABASE_URL=postgres://keel@/keel?host=/tmp,127.0.0.2", "KEEL_DATABASE_URL: "},
		{"DatabaseOneSlash", "KEEL_DATABASE_URL=postgres:/keel?host=/tmp", "KEEL_DATABASE_URL: "},
		{"RedisURLNoScheme", "KEEL_REDIS_URL=localhost:6379", "KEEL_REDIS_URL: "},
		{"MaxConnsNotNumber", "KEEL_DATABASE_MAX_CONNS=many", "KEEL_DATABASE_MAX_CONNS: \"many\" is not a valid number"},
		{"MaxConnsZero", "KEEL_DATABASE_MAX_CONNS=0", "KEEL_DATABASE_MAX_CONNS: 0 is outside"},
		{"TimeoutNoUnit", "KEEL_REQUEST_TIMEOUT=15", "KEEL_REQUEST_TIMEOUT: missing unit"},
		{"WorkersNotBool", "KEEL_WORKERS=maybe", "KEEL_WORKERS: "},
		{"BodyLimit", "KEEL_BODY_LIMIT=lots", "KEEL_BODY_LIMIT: "},
		{"TrustedProxy", "KEEL_TRUSTED_PROXIES=10.0.0.0/99", "KEEL_TRUSTED_PROXIES: "},
		{"MailFrom", "KEEL_MAIL_FROM=nobody", "KEEL_MAIL_FROM: "},
		{"SMTPTLS", "KEEL_SMTP_TLS=ssl", "KEEL_SMTP_TLS: "},
		{"ContactPeriodNegative", "KEEL_CONTACT_PERIOD=-1h", "KEEL_CONTACT_PERIOD: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load([]string{tt.env})
			require.Error(t, err)
			require.True(t, strings.HasPrefix(err.Error(), tt.want), "error %q should start with %q", err, tt.want)
			require.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestLoadRedactsPasswords(t *testing.T) {
	t.Parallel()

	_, err := config.Load([]string{"KEEL_DATABASE_URL=mysql://u:hunter2@h/db"})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")
}

// Production refuses local secrets and plain http.
func TestLoadProductionIsStrict(t *testing.T) {
	t.Parallel()

	_, err := config.Load([]string{"KEEL_ENV=production", "KEEL_BASE_URL=https://keel.example"})
	require.ErrorContains(t, err, "KEEL_S3_SECRET_KEY")

	_, err = config.Load([]string{
		"KEEL_ENV=production",
		"KEEL_S3_SECRET_KEY=real",
		"KEEL_BASE_URL=http://keel.example",
	})
	require.ErrorContains(t, err, "KEEL_BASE_URL")
}

var update = flag.Bool("update", false, "rewrite the README's configuration table from Config")

// The README's configuration table is made from Config's tags, so the
// two cannot drift apart: go test ./config -run README -update rewrites
// it.
func TestREADMEListsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)

	var rows []string
	typ := reflect.TypeFor[config.Config]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		def := "(empty)"
		if d := f.Tag.Get("envDefault"); d != "" {
			def = "`" + d + "`"
		}
		rows = append(rows, fmt.Sprintf("| `%s` | %s | %s |", key, def, f.Tag.Get("help")))
	}
	table := strings.Join(rows, "\n") + "\n"

	text := string(readme)
	start := strings.Index(text, "| `KEEL_")
	require.NotEqual(t, -1, start, "README.md has no configuration table")
	end := start
	for strings.HasPrefix(text[end:], "| `KEEL_") {
		end += strings.Index(text[end:], "\n") + 1
	}
	if *update {
		require.NoError(t, os.WriteFile("../README.md", []byte(text[:start]+table+text[end:]), 0o644))
		return
	}
	require.Equal(t, table, text[start:end], "README.md's configuration table is stale: go test ./config -run README -update")
}
