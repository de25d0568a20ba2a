package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"keel/testenv"
)

func runKeel(t *testing.T, args []string, environ []string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, environ, &out, &errOut)
	return out.String() + errOut.String(), err
}

func TestRunVersionAndHelp(t *testing.T) {
	t.Parallel()

	out, err := runKeel(t, []string{"version"}, nil)
	require.NoError(t, err)
	require.Equal(t, "keel dev\n", out)

	out, err = runKeel(t, []string{"help"}, nil)
	require.NoError(t, err)
	require.Contains(t, out, "serve")

	_, err = runKeel(t, []string{"frobnicate"}, nil)
	require.ErrorIs(t, err, errUsage)
	_, err = runKeel(t, nil, nil)
	require.ErrorIs(t, err, errUsage)
}

// A malformed setting stops every command before it does anything.
func TestRunRejectsBadConfig(t *testing.T) {
	t.Parallel()

	_, err := runKeel(t, []string{"serve"}, []string{"KEEL_SHUTDOWN_TIMEOUT=soon"})
	require.Error(t, err)
	require.True(t, strings.HasPrefix(err.Error(), "KEEL_SHUTDOWN_TIMEOUT: "), err.Error())
}

// PostgreSQL unreachable at start: one clear line, and serve returns.
func TestRunDatabaseUnreachable(t *testing.T) {
	t.Parallel()
	closed := testenv.NewProxy(t, "127.0.0.1:1")
	closed.Cut()

	env := testenv.Environ("KEEL_DATABASE_URL=postgres://keel@"+closed.Addr()+"/keel", "KEEL_ADDR=127.0.0.1:0")
	_, err := runKeel(t, []string{"serve"}, env)
	require.Error(t, err)
	require.Contains(t, err.Error(), "PostgreSQL at 127.0.0.1:")
	require.Contains(t, err.Error(), "is unreachable")
	require.Contains(t, err.Error(), "connection refused")
}
