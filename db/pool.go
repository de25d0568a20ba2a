package db

import (
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// PoolConfig returns the settings of a pool of at most maxConns
// connections to dsn, as Keel opens its pools.
func PoolConfig(dsn string, maxConns int32) (*pgxpool.Config, error) {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	pc.MaxConns = maxConns
	pc.ConnConfig.ConnectTimeout = 5 * time.Second
	// The list queries take optional filters ("$1 IS NULL OR ..."):
	// planned for the values at hand, the absent ones fold away and the
	// matching index is used. A generic plan could not.
	pc.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	return pc, nil
}
