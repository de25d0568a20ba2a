// Command hello is the baseline of Keel's benchmarks: the smallest
// useful net/http server, answering every request with a short text.
// Keel's pages are measured against it in the same run, on the same
// machine, with the same load tool.
//
// It can also serve two ceilings: what a bare net/http server does with
// the same work as a Keel page, without Echo and Keel's middleware.
// With -db it serves /fortunes from the same query and the same view as
// Keel's; with -copy it fetches one Keel response at start and serves
// /copy as exactly those bytes and headers.
package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"keel/db"
	"keel/views"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "address to listen on")
	dbURL := flag.String("db", "", "PostgreSQL URL: also serve /fortunes")
	copyURL := flag.String("copy", "", "a Keel page: also serve /copy as that response")
	flag.Parse()

	hello := []byte("Hello, World!")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(hello)
	})
	if *dbURL != "" {
		// Set up as Keel sets up its own pools.
		pc, err := db.PoolConfig(*dbURL, 20)
		if err != nil {
			log.Fatal(err)
		}
		pool, err := pgxpool.NewWithConfig(context.Background(), pc)
		if err != nil {
			log.Fatal(err)
		}
		mux.HandleFunc("GET /fortunes", fortunes(db.New(pool)))
	}
	if *copyURL != "" {
		h, err := copyOf(*copyURL)
		if err != nil {
			log.Fatal(err)
		}
		mux.HandleFunc("GET /copy", h)
	}
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// fortunes is Keel's Fortunes page without Keel: the rows from the
// same sqlc query, with the same added row and order, rendered by the
// same templ view.
func fortunes(q *db.Queries) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rows, err := q.FortuneList(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		list := make([]views.Fortune, 0, len(rows)+1)
		for _, f := range rows {
			list = append(list, views.Fortune{ID: f.ID, Message: f.Message})
		}
		var buf bytes.Buffer
		if err := views.FortunesPage(views.WithRequestFortune(list)).Render(r.Context(), &buf); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
		_, _ = w.Write(buf.Bytes())
	}
}

// copyOf fetches target once, as a browser asking for gzip would, and
// returns a handler that sends the same headers and body every time.
// Date is left to net/http, as it is for Keel.
func copyOf(target string) (http.HandlerFunc, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept-Encoding", "gzip")
	// A transport that leaves the encoding alone: the copy is of the
	// bytes on the wire.
	resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	header := resp.Header.Clone()
	header.Del("Date")
	return func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		for k, v := range header {
			h[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body)
	}, nil
}
