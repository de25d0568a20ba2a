// Package db holds Keel's schema migrations, embedded in the binary, and
// the typed queries sqlc generates from db/queries. Code outside the
// store package does not use it.
package db
