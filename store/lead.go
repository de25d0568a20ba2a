package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"keel/db"
)

// Lead statuses, in pipeline order.
const (
	LeadNew       = "NEW"
	LeadContacted = "CONTACTED"
	LeadQualified = "QUALIFIED"
	LeadWon       = "WON"
	LeadLost      = "LOST"
)

// LeadStatuses lists every status, in pipeline order.
var LeadStatuses = []string{LeadNew, LeadContacted, LeadQualified, LeadWon, LeadLost}

// Lead sources.
const (
	SourceContactForm = "contact_form"
	SourceStaff       = "staff"
	SourceSeed        = "seed"
)

// Lead is a person or company that asked about Keel's services.
type Lead struct {
	ID          int64
	Name        string
	Email       string
	Phone       string
	Company     string
	Message     string
	Source      string
	Status      string
	OwnerID     *int64
	DuplicateOf *int64
	MergedInto  *int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// ContactRequest is what a visitor sends through the contact form,
// already validated.
type ContactRequest struct {
	Name    string
	Email   string
	Phone   string
	Company string
	Message string
}

// ContactCreate stores a contact request as a new lead and queues the
// acknowledgement email built by ack, all in one transaction: either
// the lead, its timeline entry, its email row and the job that sends it
// all exist, or none does.
func (s *Store) ContactCreate(ctx context.Context, req ContactRequest, ack func(Lead) (OutgoingEmail, error)) (Lead, error) {
	var lead Lead
	err := s.inTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		var err error
		if lead, err = createLead(ctx, q, req, SourceContactForm, nil, nil); err != nil {
			return err
		}
		email, err := ack(lead)
		if err != nil {
			return err
		}
		if err := s.queueEmail(ctx, tx, q, email); err != nil {
			return err
		}
		return addEvent(ctx, q, leadCreatedEvent(lead))
	})
	if err == nil {
		s.invalidate(ctx, dashboardKey)
		s.signal(ctx)
	}
	return lead, err
}

// LeadCreate records a lead entered by staff, audited as actor's.
func (s *Store) LeadCreate(ctx context.Context, actor Actor, req ContactRequest, owner *int64) (Lead, error) {
	var lead Lead
	err := s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		var err error
		if lead, err = createLead(ctx, q, req, SourceStaff, owner, &actor); err != nil {
			return err
		}
		if err := audit(ctx, q, actor, "lead.created", lead, nil); err != nil {
			return err
		}
		if err := addEvent(ctx, q, leadCreatedEvent(lead)); err != nil {
			return err
		}
		return addAssignedEvent(ctx, q, actor, lead)
	})
	if err == nil {
		s.invalidate(ctx, dashboardKey)
		s.signal(ctx)
	}
	return lead, err
}

func leadCreatedEvent(l Lead) Event {
	return Event{
		Topic: TopicStaff, Kind: EventLeadCreated, Permission: "leads:read",
		Data: map[string]string{"lead_id": strconv.FormatInt(l.ID, 10), "name": l.Name},
	}
}

// addAssignedEvent tells a lead's new owner, unless they gave it to
// themselves.
func addAssignedEvent(ctx context.Context, q *db.Queries, actor Actor, l Lead) error {
	if l.OwnerID == nil || *l.OwnerID == actor.ID {
		return nil
	}
	return addEvent(ctx, q, Event{
		Topic: TopicStaff, Kind: EventLeadAssigned, Permission: "leads:read", UserID: l.OwnerID,
		Data: map[string]string{"lead_id": strconv.FormatInt(l.ID, 10), "name": l.Name, "by": actor.Email},
	})
}

func createLead(ctx context.Context, q *db.Queries, req ContactRequest, source string, owner *int64, actor *Actor) (Lead, error) {
	row, err := q.LeadCreate(ctx, db.LeadCreateParams{
		Name:    req.Name,
		Email:   req.Email,
		Phone:   req.Phone,
		Company: req.Company,
		Message: req.Message,
		Source:  source,
		OwnerID: owner,
	})
	if err != nil {
		return Lead{}, fmt.Errorf("insert lead: %w", err)
	}
	lead := leadFromRow(row)

	detail := map[string]any{"source": source}
	if lead.DuplicateOf != nil {
		detail["duplicate_of"] = *lead.DuplicateOf
	}
	var actorID *int64
	if actor != nil {
		actorID = &actor.ID
	}
	if err := leadEvent(ctx, q, lead.ID, actorID, "created", detail); err != nil {
		return Lead{}, err
	}
	return lead, nil
}

// LeadGetByID returns one lead, or ErrNotFound.
func (s *Store) LeadGetByID(ctx context.Context, id int64) (Lead, error) {
	row, err := s.q.LeadGetByID(ctx, id)
	if err != nil {
		return Lead{}, classify(fmt.Errorf("get lead %d: %w", id, err))
	}
	return leadFromRow(row), nil
}

// LeadFindByEmailStatus returns a person's leads in one status, through
// the (email, status) index.
func (s *Store) LeadFindByEmailStatus(ctx context.Context, email, status string) ([]Lead, error) {
	rows, err := s.q.LeadFindByEmailStatus(ctx, db.LeadFindByEmailStatusParams{Email: email, Status: status})
	if err != nil {
		return nil, classify(fmt.Errorf("find leads: %w", err))
	}
	return leadsFromRows(rows), nil
}

// ErrNoChange means an update would change nothing.
var ErrNoChange = errors.New("no change")

// ErrLeadMerged means the lead was merged into another and takes no more
// changes: they belong on the survivor.
var ErrLeadMerged = errors.New("lead merged")

// LeadSetStatus moves a lead to a status, on its timeline and audited.
// It returns ErrNoChange when the lead already has that status.
func (s *Store) LeadSetStatus(ctx context.Context, actor Actor, id int64, status string) (Lead, error) {
	var lead Lead
	err := s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		var err error
		lead, err = setStatus(ctx, q, actor, id, status)
		return err
	})
	if err == nil {
		s.invalidate(ctx, dashboardKey)
	}
	return lead, err
}

func setStatus(ctx context.Context, q *db.Queries, actor Actor, id int64, status string) (Lead, error) {
	before, err := q.LeadGetForUpdate(ctx, id)
	if err != nil {
		return Lead{}, fmt.Errorf("lock lead %d: %w", id, err)
	}
	if before.MergedInto != nil {
		return Lead{}, ErrLeadMerged
	}
	if before.Status == status {
		return leadFromRow(before), ErrNoChange
	}
	row, err := q.LeadUpdateStatus(ctx, db.LeadUpdateStatusParams{ID: id, Status: status})
	if err != nil {
		return Lead{}, fmt.Errorf("update lead status: %w", err)
	}
	lead := leadFromRow(row)
	detail := map[string]any{"from": before.Status, "to": status}
	if err := leadEvent(ctx, q, id, &actor.ID, "status", detail); err != nil {
		return Lead{}, err
	}
	return lead, audit(ctx, q, actor, "lead.status_changed", lead, detail)
}

// LeadAssign gives a lead to an owner (nil: nobody), on its timeline and
// audited. It returns ErrNoChange when nothing changes.
func (s *Store) LeadAssign(ctx context.Context, actor Actor, id int64, owner *int64) (Lead, error) {
	var lead Lead
	err := s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		var err error
		lead, err = assign(ctx, q, actor, id, owner)
		return err
	})
	if err == nil {
		s.invalidate(ctx, dashboardKey)
		s.signal(ctx)
	}
	return lead, err
}

func assign(ctx context.Context, q *db.Queries, actor Actor, id int64, owner *int64) (Lead, error) {
	before, err := q.LeadGetForUpdate(ctx, id)
	if err != nil {
		return Lead{}, fmt.Errorf("lock lead %d: %w", id, err)
	}
	if before.MergedInto != nil {
		return Lead{}, ErrLeadMerged
	}
	if equalID(before.OwnerID, owner) {
		return leadFromRow(before), ErrNoChange
	}
	row, err := q.LeadUpdateOwner(ctx, db.LeadUpdateOwnerParams{ID: id, OwnerID: owner})
	if err != nil {
		return Lead{}, fmt.Errorf("update lead owner: %w", err)
	}
	lead := leadFromRow(row)
	detail := map[string]any{"from": before.OwnerID, "to": owner}
	if err := leadEvent(ctx, q, id, &actor.ID, "owner", detail); err != nil {
		return Lead{}, err
	}
	if err := audit(ctx, q, actor, "lead.assigned", lead, detail); err != nil {
		return Lead{}, err
	}
	return lead, addAssignedEvent(ctx, q, actor, lead)
}

// LeadBulkUpdate applies a status and/or an owner to many leads in one
// transaction: all of them change, or none. Leads already in that state
// are left alone. It returns how many changed.
func (s *Store) LeadBulkUpdate(ctx context.Context, actor Actor, ids []int64, status string, owner *int64, setOwner bool) (int, error) {
	// Rows are locked in id order whatever order the form gave, so two
	// bulk changes over the same leads queue instead of deadlocking.
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)

	changed := 0
	err := s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		for _, id := range ids {
			did := false
			if status != "" {
				_, err := setStatus(ctx, q, actor, id, status)
				if err != nil && !errors.Is(err, ErrNoChange) {
					return err
				}
				did = err == nil
			}
			if setOwner {
				_, err := assign(ctx, q, actor, id, owner)
				if err != nil && !errors.Is(err, ErrNoChange) {
					return err
				}
				did = did || err == nil
			}
			if did {
				changed++
			}
		}
		return nil
	})
	if err == nil {
		s.invalidate(ctx, dashboardKey)
		if setOwner {
			s.signal(ctx)
		}
	}
	return changed, err
}

func equalID(a, b *int64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func leadEvent(ctx context.Context, q *db.Queries, leadID int64, actor *int64, kind string, detail map[string]any) error {
	b, err := encodeDetail(detail)
	if err != nil {
		return err
	}
	if actor != nil && *actor == 0 {
		actor = nil
	}
	if err := q.LeadEventCreate(ctx, db.LeadEventCreateParams{
		LeadID: leadID, ActorID: actor, Kind: kind, Detail: b,
	}); err != nil {
		return fmt.Errorf("insert lead event: %w", err)
	}
	return nil
}

func (l Lead) auditTarget() (string, string) { return "lead", strconv.FormatInt(l.ID, 10) }

func leadFromRow(r db.Lead) Lead {
	return Lead{
		ID:          r.ID,
		Name:        r.Name,
		Email:       r.Email,
		Phone:       r.Phone,
		Company:     r.Company,
		Message:     r.Message,
		Source:      r.Source,
		Status:      r.Status,
		OwnerID:     r.OwnerID,
		DuplicateOf: r.DuplicateOf,
		MergedInto:  r.MergedInto,
		CreatedAt:   r.CreatedAt,
		UpdatedAt:   r.UpdatedAt,
	}
}

func leadsFromRows(rows []db.Lead) []Lead {
	return mapRows(rows, leadFromRow)
}

// likePattern turns search text into a LIKE pattern that matches it
// anywhere, with LIKE's own wildcards taken literally.
func likePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(q)) + "%"
}
