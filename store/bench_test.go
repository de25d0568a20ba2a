package store_test

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"keel/testenv"
)

var executionTime = regexp.MustCompile(`Execution Time: ([0-9.]+) ms`)

func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// BenchmarkLeadEmailStatusLookup times the (email, status) lookup at a
// million leads with the composite index and without it (dropped inside
// a transaction that is rolled back), as PostgreSQL's own EXPLAIN
// ANALYZE measures it, and reports both medians and their ratio.
func BenchmarkLeadEmailStatusLookup(b *testing.B) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testenv.BenchDatabaseURL(b))
	require.NoError(b, err)
	b.Cleanup(pool.Close)

	var total int64
	require.NoError(b, pool.QueryRow(ctx, "SELECT count(*) FROM leads").Scan(&total))
	// Look up emails that exist, spread over the table.
	rows, err := pool.Query(ctx, `SELECT email, status FROM leads TABLESAMPLE SYSTEM (1) LIMIT 15`)
	require.NoError(b, err)
	type probe struct{ email, status string }
	var probes []probe
	for rows.Next() {
		var p probe
		require.NoError(b, rows.Scan(&p.email, &p.status))
		probes = append(probes, p)
	}
	require.NoError(b, rows.Err())
	require.NotEmpty(b, probes)

	tx, err := pool.Begin(ctx)
	require.NoError(b, err)
	defer func() { _ = tx.Rollback(ctx) }()

	measure := func() float64 {
		var ms []float64
		for _, p := range probes {
			var plan string
			rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, FORMAT TEXT) SELECT * FROM leads WHERE email = $1 AND status = $2",
				p.email, p.status)
			require.NoError(b, err)
			for rows.Next() {
				var line string
				require.NoError(b, rows.Scan(&line))
				plan += line + "\n"
			}
			require.NoError(b, rows.Err())
			m := executionTime.FindStringSubmatch(plan)
			require.NotNil(b, m, plan)
			v, _ := strconv.ParseFloat(m[1], 64)
			ms = append(ms, v)
		}
		return median(ms)
	}

	b.ResetTimer()
	with := measure()
	_, err = tx.Exec(ctx, "DROP INDEX leads_email_status_idx")
	require.NoError(b, err)
	without := measure()
	b.StopTimer()

	b.ReportMetric(float64(total), "leads")
	b.ReportMetric(with, "indexed-ms")
	b.ReportMetric(without, "seqscan-ms")
	b.ReportMetric(without/with, "ratio")
}
