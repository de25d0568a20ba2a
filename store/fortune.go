package store

import (
	"context"
	"fmt"

	"keel/db"
)

// Fortune is one row of the Fortunes benchmark page.
type Fortune struct {
	ID      int32
	Message string
}

// Fortunes returns every fortune, straight from PostgreSQL: the page
// exists to measure the whole stack, so it is never cached.
func (s *Store) Fortunes(ctx context.Context) ([]Fortune, error) {
	rows, err := s.q.FortuneList(ctx)
	if err != nil {
		return nil, classify(fmt.Errorf("list fortunes: %w", err))
	}
	return mapRows(rows, func(r db.Fortune) Fortune { return Fortune{ID: r.ID, Message: r.Message} }), nil
}
