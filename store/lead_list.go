package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"keel/db"
)

// Lead list sort orders, the only ones offered.
const (
	SortNewest = "newest"
	SortOldest = "oldest"
	SortName   = "name"
)

// LeadSorts lists the sort orders, the first being the default.
var LeadSorts = []string{SortNewest, SortOldest, SortName}

// LeadFilter selects leads for the list and the export. Zero fields do
// not filter. Values are checked by the caller; none is ever pasted into
// SQL.
type LeadFilter struct {
	Status     string
	OwnerID    int64
	Unassigned bool
	Since      time.Time // created at or after
	Until      time.Time // created before
	Search     string    // in name, email or company, any case
	Sort       string
	// After is the cursor of the last lead of the previous page, as
	// LeadCursor returns it.
	After string
	Limit int32
}

// LeadCursor returns the cursor after lead l in sort order sort.
func LeadCursor(l Lead, sort string) string {
	id := strconv.FormatInt(l.ID, 10)
	if sort == SortName {
		return id + ":" + strings.ToLower(l.Name)
	}
	return id + ":" + strconv.FormatInt(l.CreatedAt.UnixMicro(), 10)
}

// ErrBadCursor means a page cursor was not made by LeadCursor.
var ErrBadCursor = fmt.Errorf("bad page cursor")

// LeadList returns one page of leads matching f, in f.Sort order (newest
// first by default). Keyset paging keeps every page as fast as the
// first, however deep.
func (s *Store) LeadList(ctx context.Context, f LeadFilter) ([]Lead, error) {
	p := db.LeadListNewestParams{Unassigned: f.Unassigned, RowLimit: f.Limit}
	if f.Status != "" {
		p.Status = &f.Status
	}
	if f.OwnerID != 0 {
		p.OwnerID = &f.OwnerID
	}
	if !f.Since.IsZero() {
		p.Since = &f.Since
	}
	if !f.Until.IsZero() {
		p.Until = &f.Until
	}
	if f.Search != "" {
		pattern := likePattern(f.Search)
		p.Search = &pattern
	}

	var afterName string
	if f.After != "" {
		idPart, rest, ok := strings.Cut(f.After, ":")
		id, err := strconv.ParseInt(idPart, 10, 64)
		if !ok || err != nil {
			return nil, ErrBadCursor
		}
		p.AfterID = &id
		if f.Sort == SortName {
			if !utf8.ValidString(rest) || strings.ContainsRune(rest, 0) {
				return nil, ErrBadCursor
			}
			afterName = rest
		} else {
			us, err := strconv.ParseInt(rest, 10, 64)
			if err != nil {
				return nil, ErrBadCursor
			}
			at := time.UnixMicro(us)
			p.AfterAt = &at
		}
	}

	var rows []db.Lead
	var err error
	switch f.Sort {
	case SortOldest:
		rows, err = s.q.LeadListOldest(ctx, db.LeadListOldestParams(p))
	case SortName:
		np := db.LeadListByNameParams{
			Status: p.Status, OwnerID: p.OwnerID, Unassigned: p.Unassigned,
			Since: p.Since, Until: p.Until, Search: p.Search, AfterID: p.AfterID, RowLimit: p.RowLimit,
		}
		if f.After != "" {
			np.AfterName = &afterName
		}
		rows, err = s.q.LeadListByName(ctx, np)
	default:
		rows, err = s.q.LeadListNewest(ctx, p)
	}
	if err != nil {
		return nil, classify(fmt.Errorf("list leads: %w", err))
	}
	return leadsFromRows(rows), nil
}

// LeadEach calls fn for every lead matching f (f.Limit is ignored), a
// page at a time, so that memory stays constant however many match. It
// stops after max leads and reports whether more were left.
func (s *Store) LeadEach(ctx context.Context, f LeadFilter, maxLeads int, fn func(Lead) error) (bool, error) {
	const page = 1000
	f.Limit = page
	seen := 0
	for {
		leads, err := s.LeadList(ctx, f)
		if err != nil {
			return false, err
		}
		for _, l := range leads {
			if seen == maxLeads {
				return true, nil
			}
			if err := fn(l); err != nil {
				return false, err
			}
			seen++
		}
		if len(leads) < page {
			return false, nil
		}
		f.After = LeadCursor(leads[len(leads)-1], f.Sort)
	}
}
