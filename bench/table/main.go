// Command table turns the output of Keel's benchmarks (go test -bench)
// into one Markdown table, in which every figure stands beside the
// baseline measured in the same run, with the ratio. With -readme it
// also puts the table in README.md, between the bench markers.
//
//	go test -run '^$' -bench . -benchtime=1x ./... | go run ./bench/table -readme README.md
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// row is one line of the table: a benchmark's metric, and the metric of
// the same run it is measured against (none for the baseline itself).
type row struct {
	bench, label     string
	result, baseline string
	target           string
}

var rows = []row{
	{"BenchmarkPages", "net/http hello world, wrk 32 connections (the baseline)", "hello-req/s", "", ""},
	{"BenchmarkPages", "Fortunes page: 12 rows via sqlc, sorted, templ, full middleware", "fortunes-req/s", "hello-req/s", "≥ 0.5"},
	{"BenchmarkPages", "ceiling: the same Fortunes work in bare net/http, no Echo or middleware", "bare-fortunes-req/s", "hello-req/s", ""},
	{"BenchmarkPages", "Keel's Fortunes page (vs that ceiling)", "fortunes-req/s", "bare-fortunes-req/s", ""},
	{"BenchmarkPages", "cached public blog post, taking gzip as browsers do", "post-gzip-req/s", "hello-req/s", "≥ 0.8"},
	{"BenchmarkPages", "ceiling: that post's exact response sent from memory by bare net/http", "copy-req/s", "hello-req/s", ""},
	{"BenchmarkPages", "Keel's cached post (vs that ceiling)", "post-gzip-req/s", "copy-req/s", ""},
	{"BenchmarkPages", "cached public blog post, uncompressed (6.3 KB; 1.3 KB gzipped)", "post-req/s", "hello-req/s", ""},
	{"BenchmarkPages", "the same post revalidated (304)", "304-req/s", "hello-req/s", ""},
	{"BenchmarkPages", "signed-in admin page (dashboard)", "admin-req/s", "hello-req/s", ""},
	{"BenchmarkOrderPost/WorkerProcess", "order POST p99 at 10/s, worker apart (vs a trivial POST)", "order-p99-ms", "trivial-p99-ms", ""},
	{"BenchmarkOrderPost/WorkersInServe", "order POST p99 at 10/s, workers in serve (vs a trivial POST)", "order-p99-ms", "trivial-p99-ms", ""},
	{"BenchmarkLeadListPage", "lead list at 1M leads, p50 (vs /healthz)", "p50-ms", "healthz-p50-ms", ""},
	{"BenchmarkStreamsHeld", "SSE streams held: memory each at 1,000 (vs plain net/http streams)", "KiB/stream-1000", "KiB/stream-ordinary-1000", ""},
	{"BenchmarkStreamsHeld", "SSE event fan-out p99 to 1,000 (vs plain streams)", "fanout-p99-ms-1000", "fanout-p99-ms-ordinary-1000", ""},
	{"BenchmarkStreamsHeld", "SSE event fan-out p99 to 10,000 (vs 1,000)", "fanout-p99-ms-10000", "fanout-p99-ms-1000", ""},
	{"BenchmarkDashboardCache", "dashboard numbers from the cache, p50 (vs PostgreSQL)", "cache-p50-ms", "db-p50-ms", ""},
	{"BenchmarkRedisDownUnderLoad", "public pages with Redis stopped, p99 (vs Redis up)", "down-p99-ms", "up-p99-ms", ""},
	{"BenchmarkSessionLayer", "signed-in page with the session layer (vs without)", "session-req/s", "plain-req/s", ""},
	{"BenchmarkSignInTiming", "sign-in, unknown email (vs wrong password)", "unknown-ms/op", "wrong-ms/op", ""},
	{"BenchmarkLeadEmailStatusLookup", "(email, status) lookup at 1M leads (vs no index)", "indexed-ms", "seqscan-ms", ""},
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+\d+\s+(.*)$`)

// parse reads benchmark lines: each metric by benchmark and unit.
func parse(r io.Reader) (map[string]map[string]float64, error) {
	out := map[string]map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		fields := strings.Fields(m[3])
		metrics := map[string]float64{}
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			metrics[fields[i+1]] = v
		}
		out[m[1]] = metrics
	}
	return out, sc.Err()
}

func format(v float64, unit string) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f %s", v, unit)
	case v >= 1:
		return fmt.Sprintf("%.2f %s", v, unit)
	}
	return fmt.Sprintf("%.3f %s", v, unit)
}

// table renders the rows whose benchmarks ran.
func table(results map[string]map[string]float64) string {
	var b strings.Builder
	b.WriteString("| benchmark | result | baseline, same run | ratio | target |\n| --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		m, ok := results[r.bench]
		if !ok {
			continue
		}
		v, ok := m[r.result]
		if !ok {
			continue
		}
		base, ratio := "", ""
		if bv, ok := m[r.baseline]; ok && r.baseline != "" {
			base = format(bv, r.baseline)
			if bv != 0 {
				ratio = fmt.Sprintf("%.3g", v/bv)
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.label, format(v, r.result), base, ratio, r.target)
	}
	return b.String()
}

const startMark, endMark = "<!-- bench:start -->", "<!-- bench:end -->"

// intoReadme puts text between the bench markers of the file at path.
func intoReadme(path, text string) error {
	old, err := os.ReadFile(path) //nolint:gosec // G304: the file make bench names, README.md.
	if err != nil {
		return err
	}
	s := string(old)
	i, j := strings.Index(s, startMark), strings.Index(s, endMark)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %s ... %s", path, startMark, endMark)
	}
	s = s[:i+len(startMark)] + "\n" + text + s[j:]
	return os.WriteFile(path, []byte(s), 0o644) //nolint:gosec // G306: the README is meant to be read by all.
}

func main() {
	readme := flag.String("readme", "", "also write the table into this file, between the bench markers")
	flag.Parse()
	results, err := parse(os.Stdin)
	if err != nil {
		log.Fatal(err)
	}
	if len(results) == 0 {
		log.Fatal("no benchmark results on standard input")
	}
	text := table(results)
	fmt.Print(text)
	if *readme != "" {
		if err := intoReadme(*readme, text); err != nil {
			log.Fatal(err)
		}
	}
}
