package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"keel/db"
)

// Note is a staff member's note on a lead.
type Note struct {
	ID         int64
	LeadID     int64
	AuthorName string
	Body       string
	CreatedAt  time.Time
}

// LeadEvent is one entry of a lead's timeline.
type LeadEvent struct {
	ID        int64
	LeadID    int64
	LeadName  string // filled in by LeadEventRecent
	ActorName string // "" for the system (a contact form)
	Kind      string // created, status, owner, note, merge
	Detail    map[string]any
	At        time.Time
}

// LeadNoteAdd adds a note to a lead, on its timeline and audited.
func (s *Store) LeadNoteAdd(ctx context.Context, actor Actor, leadID int64, body string) (Note, error) {
	var n Note
	err := s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		lead, err := q.LeadGetForUpdate(ctx, leadID)
		if err != nil {
			return fmt.Errorf("lock lead %d: %w", leadID, err)
		}
		if lead.MergedInto != nil {
			return ErrLeadMerged
		}
		row, err := q.LeadNoteCreate(ctx, db.LeadNoteCreateParams{LeadID: leadID, AuthorID: actor.ID, Body: body})
		if err != nil {
			return fmt.Errorf("insert note: %w", err)
		}
		n = Note{ID: row.ID, LeadID: leadID, AuthorName: actor.Email, Body: body, CreatedAt: row.CreatedAt}
		if err := leadEvent(ctx, q, leadID, &actor.ID, "note", map[string]any{"note_id": row.ID}); err != nil {
			return err
		}
		return audit(ctx, q, actor, "lead.note_added", leadFromRow(lead), nil)
	})
	if err == nil {
		s.invalidate(ctx, dashboardKey)
	}
	return n, err
}

// historyLimit bounds the notes and timeline entries one lead page shows:
// the newest ones.
const historyLimit = 200

// LeadNotes returns a lead's newest notes (at most historyLimit), oldest
// first.
func (s *Store) LeadNotes(ctx context.Context, leadID int64) ([]Note, error) {
	rows, err := s.q.LeadNoteList(ctx, db.LeadNoteListParams{LeadID: leadID, RowLimit: historyLimit})
	if err != nil {
		return nil, classify(fmt.Errorf("list notes: %w", err))
	}
	out := make([]Note, len(rows))
	for i, r := range rows {
		out[i] = Note{ID: r.ID, LeadID: r.LeadID, AuthorName: r.AuthorName, Body: r.Body, CreatedAt: r.CreatedAt}
	}
	return out, nil
}

// LeadTimeline returns a lead's newest changes (at most historyLimit),
// oldest first.
func (s *Store) LeadTimeline(ctx context.Context, leadID int64) ([]LeadEvent, error) {
	rows, err := s.q.LeadEventList(ctx, db.LeadEventListParams{LeadID: leadID, RowLimit: historyLimit})
	if err != nil {
		return nil, classify(fmt.Errorf("list lead events: %w", err))
	}
	out := make([]LeadEvent, len(rows))
	for i, r := range rows {
		out[i] = LeadEvent{ID: r.ID, LeadID: r.LeadID, ActorName: r.ActorName, Kind: r.Kind, At: r.At}
		_ = json.Unmarshal(r.Detail, &out[i].Detail)
	}
	return out, nil
}

// ErrMergeRefused means two leads cannot be merged: the same lead twice,
// or one already merged.
var ErrMergeRefused = errors.New("merge refused")

// LeadMerge merges lead merged into lead survivor: notes and timeline
// move to the survivor, the merged lead leaves the list (kept, marked
// merged_into), and leads flagged as its duplicates point at the
// survivor. One transaction, audited.
func (s *Store) LeadMerge(ctx context.Context, actor Actor, survivorID, mergedID int64) (Lead, error) {
	var survivor Lead
	err := s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		if survivorID == mergedID {
			return ErrMergeRefused
		}
		// Lock both rows in id order, so two opposite merges cannot
		// deadlock.
		first, second := min(survivorID, mergedID), max(survivorID, mergedID)
		a, err := q.LeadGetForUpdate(ctx, first)
		if err != nil {
			return fmt.Errorf("lock lead %d: %w", first, err)
		}
		b, err := q.LeadGetForUpdate(ctx, second)
		if err != nil {
			return fmt.Errorf("lock lead %d: %w", second, err)
		}
		if a.MergedInto != nil || b.MergedInto != nil {
			return ErrMergeRefused
		}
		keep, gone := a, b
		if keep.ID != survivorID {
			keep, gone = b, a
		}

		steps := []struct {
			name string
			fn   func() error
		}{
			{"move notes", func() error {
				return q.LeadNoteMove(ctx, db.LeadNoteMoveParams{Survivor: keep.ID, Merged: gone.ID})
			}},
			{"move timeline", func() error {
				return q.LeadEventMove(ctx, db.LeadEventMoveParams{Survivor: keep.ID, Merged: gone.ID})
			}},
			{"mark merged", func() error {
				return q.LeadMarkMerged(ctx, db.LeadMarkMergedParams{Survivor: &keep.ID, Merged: gone.ID})
			}},
			{"repoint duplicates", func() error {
				return q.LeadRepointDuplicates(ctx, db.LeadRepointDuplicatesParams{Survivor: &keep.ID, Merged: &gone.ID})
			}},
			{"clear flag", func() error {
				return q.LeadClearDuplicate(ctx, db.LeadClearDuplicateParams{ID: keep.ID, Merged: &gone.ID})
			}},
		}
		for _, step := range steps {
			if err := step.fn(); err != nil {
				return fmt.Errorf("merge leads: %s: %w", step.name, err)
			}
		}

		detail := map[string]any{"merged": gone.ID, "merged_name": gone.Name, "merged_email": gone.Email}
		if err := leadEvent(ctx, q, keep.ID, &actor.ID, "merge", detail); err != nil {
			return err
		}
		row, err := q.LeadGetByID(ctx, keep.ID)
		if err != nil {
			return err
		}
		survivor = leadFromRow(row)
		return audit(ctx, q, actor, "lead.merged", survivor, detail)
	})
	if err == nil {
		s.invalidate(ctx, dashboardKey)
	}
	return survivor, err
}
