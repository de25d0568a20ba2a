package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTable(t *testing.T) {
	t.Parallel()
	out := `goos: linux
BenchmarkPages-2   	       1	25149870544 ns/op	         0.4726 304-ratio	     13064 fortunes-req/s	     62412 hello-req/s	     16079 post-req/s
BenchmarkOrderPost/WorkerProcess-2 	       1	300 ns/op	         7.1 order-p99-ms	         1.4 trivial-p99-ms
ok  	keel/handlers	17.638s
`
	results, err := parse(strings.NewReader(out))
	require.NoError(t, err)
	require.InDelta(t, 62412, results["BenchmarkPages"]["hello-req/s"], 0)
	got := table(results)
	require.Contains(t, got, "| Fortunes page: 12 rows via sqlc, sorted, templ, full middleware | 13064 fortunes-req/s | 62412 hello-req/s | 0.209 | ≥ 0.5 |")
	require.Contains(t, got, "| 7.10 order-p99-ms | 1.40 trivial-p99-ms | 5.07 |")
	require.NotContains(t, got, "admin", "rows of metrics that did not run are left out")
}
