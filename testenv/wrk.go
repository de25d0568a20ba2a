package testenv

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// WrkResult is what one run of the wrk load tool measured.
type WrkResult struct {
	Requests int
	Rate     float64 // requests a second
	P50, P99 time.Duration
}

// Wrk loads target with wrk for d over conns kept-alive connections,
// each request carrying headers ("Name: value"), and returns what it
// measured. Any answer other than 2xx or 3xx, or any socket error, fails
// the benchmark: a fast error is not a result.
func Wrk(t testing.TB, target string, d time.Duration, conns int, headers ...string) WrkResult {
	t.Helper()
	path, err := exec.LookPath("wrk")
	require.NoError(t, err, "wrk is needed; scripts/tools.sh --bench installs it")
	args := []string{"--latency", "-t", "1", "-c", strconv.Itoa(conns), "-d", d.String(), "--timeout", "5s"}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	//nolint:gosec // G204: the benchmark names its own loopback target.
	out, err := exec.CommandContext(ctx, path, append(args, target)...).CombinedOutput()
	require.NoError(t, err, "wrk: %s", out)
	res, err := parseWrk(string(out))
	require.NoError(t, err, "wrk: %s", out)
	return res
}

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in `)
	wrkRate     = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkPercent  = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$`)
)

func parseWrk(out string) (WrkResult, error) {
	if strings.Contains(out, "Non-2xx or 3xx responses") || strings.Contains(out, "Socket errors") {
		return WrkResult{}, fmt.Errorf("failed requests")
	}
	var r WrkResult
	m := wrkRequests.FindStringSubmatch(out)
	rate := wrkRate.FindStringSubmatch(out)
	if m == nil || rate == nil {
		return r, fmt.Errorf("no totals in the output")
	}
	r.Requests, _ = strconv.Atoi(m[1])
	r.Rate, _ = strconv.ParseFloat(rate[1], 64)
	for _, p := range wrkPercent.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(p[2], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[p[3]]
		d := time.Duration(v * float64(unit))
		if p[1] == "50" {
			r.P50 = d
		} else {
			r.P99 = d
		}
	}
	if r.Requests == 0 || r.P50 == 0 || r.P99 == 0 {
		return r, fmt.Errorf("no requests measured")
	}
	return r, nil
}
