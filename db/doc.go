// Package db holds Keel's schema migrations, embedded in the binary, and
// the typed queries sqlc generates from db/queries, and the settings of
// Keel's connection pools. Code outside the store package does not use
// the queries, but for the benchmarks' bare baseline (bench/hello).
package db
