package e2e

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"keel/testenv"
)

// keel runs the binary with the test environment plus env and returns
// its combined output and exit code.
func keel(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, keelBin, args...)
	cmd.Env = testenv.Environ(env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	require.NoError(t, err)
	return string(out), 0
}

func TestProcessRefusesBadConfig(t *testing.T) {
	t.Parallel()

	out, code := keel(t, []string{"KEEL_REDIS_URL=localhost:6379"}, "serve")
	require.Equal(t, 1, code)
	require.Equal(t, 1, strings.Count(out, "\n"), "one line: %q", out)
	require.True(t, strings.HasPrefix(out, "keel: KEEL_REDIS_URL: "), out)
}

func TestProcessDatabaseUnreachable(t *testing.T) {
	t.Parallel()
	closed := testenv.NewProxy(t, "127.0.0.1:1")
	closed.Cut()

	out, code := keel(t, []string{
		"KEEL_DATABASE_URL=postgres://keel@" + closed.Addr() + "/keel",
		"KEEL_ADDR=127.0.0.1:0",
	}, "serve")
	require.Equal(t, 1, code)
	require.Equal(t, 1, strings.Count(out, "\n"), "one line: %q", out)
	require.Regexp(t, `^keel: PostgreSQL at 127\.0\.0\.1:\d+ is unreachable: .*connection refused\n$`, out)
}

// SIGTERM: the process stops accepting, finishes, stops its workers and
// exits 0.
func TestProcessStopsOnSIGTERM(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)

	var logs bytes.Buffer
	cmd := exec.Command(keelBin, "serve")
	cmd.Env = testenv.Environ("KEEL_ADDR="+addr, "KEEL_LOG_LEVEL=info", "KEEL_LOG_FORMAT=json")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 50*time.Millisecond)

	resp, err := http.Get("http://" + addr + "/")
	require.NoError(t, err)
	_ = resp.Body.Close()
	reqID := resp.Header.Get("X-Request-Id")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("keel did not stop within 30 s of SIGTERM")
	}

	out := logs.String()
	require.Contains(t, out, `"msg":"shutting down"`)
	require.Contains(t, out, `"msg":"River client stopped"`)
	require.Contains(t, out, `"msg":"stopped"`)
	require.Equal(t, 1, strings.Count(out, `"request_id":"`+reqID+`"`), "one line for the request")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		require.True(t, strings.HasPrefix(line, "{"), "every log line is JSON: %q", line)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}
