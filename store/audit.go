package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"keel/db"
)

// Actor is who made a change, as the audit log records it. A zero ID
// is an anonymous actor (a failed sign-in, a visitor with a reset link).
type Actor struct {
	ID    int64
	Email string
	IP    string
}

// AuditEntry is one line of the audit log. Detail never holds secrets:
// no passwords, tokens or hashes.
type AuditEntry struct {
	ID         int64
	At         time.Time
	ActorID    int64
	ActorEmail string
	Action     string
	TargetType string
	TargetID   string
	ClientIP   string
	Detail     map[string]any
}

// auditTarget is something an audit entry can point at.
type auditTarget interface {
	auditTarget() (kind, id string)
}

// Audit appends one entry to the audit log.
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	return classify(insertAudit(ctx, s.q, e))
}

// SessionsEnded records that some of a user's devices were signed out,
// with an event on the user's topic in the same transaction, so their
// open live streams check at once whether they may go on.
func (s *Store) SessionsEnded(ctx context.Context, userID int64, e AuditEntry) error {
	err := s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		if err := insertAudit(ctx, q, e); err != nil {
			return err
		}
		return addEvent(ctx, q, Event{Topic: UserTopic(userID), Kind: EventSignedOut})
	})
	if err == nil {
		s.signal(ctx)
	}
	return err
}

// audit appends an entry for actor doing action to target, inside the
// caller's transaction.
func audit(ctx context.Context, q *db.Queries, actor Actor, action string, target auditTarget, detail map[string]any) error {
	e := AuditEntry{
		ActorID:    actor.ID,
		ActorEmail: actor.Email,
		Action:     action,
		ClientIP:   actor.IP,
		Detail:     detail,
	}
	if target != nil {
		e.TargetType, e.TargetID = target.auditTarget()
	}
	return insertAudit(ctx, q, e)
}

func insertAudit(ctx context.Context, q *db.Queries, e AuditEntry) error {
	detail, err := encodeDetail(e.Detail)
	if err != nil {
		return err
	}
	var actorID *int64
	if e.ActorID != 0 {
		actorID = &e.ActorID
	}
	err = q.AuditCreate(ctx, db.AuditCreateParams{
		ActorID:    actorID,
		ActorEmail: e.ActorEmail,
		Action:     e.Action,
		TargetType: e.TargetType,
		TargetID:   e.TargetID,
		ClientIp:   e.ClientIP,
		Detail:     detail,
	})
	if err != nil {
		return fmt.Errorf("insert audit %s: %w", e.Action, err)
	}
	return nil
}

// AuditFilter selects audit entries. Zero fields do not filter. Before
// pages: entries strictly older than (BeforeAt, BeforeID).
type AuditFilter struct {
	ActorEmail string
	Action     string
	Since      time.Time
	Until      time.Time
	BeforeAt   time.Time
	BeforeID   int64
	Limit      int32
}

// AuditList returns entries matching f, newest first.
func (s *Store) AuditList(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	p := db.AuditListParams{RowLimit: f.Limit}
	if f.ActorEmail != "" {
		p.ActorEmail = &f.ActorEmail
	}
	if f.Action != "" {
		p.Action = &f.Action
	}
	if !f.Since.IsZero() {
		p.Since = &f.Since
	}
	if !f.Until.IsZero() {
		p.Until = &f.Until
	}
	if !f.BeforeAt.IsZero() {
		p.BeforeAt, p.BeforeID = &f.BeforeAt, &f.BeforeID
	}

	rows, err := s.q.AuditList(ctx, p)
	if err != nil {
		return nil, classify(fmt.Errorf("list audit log: %w", err))
	}
	return mapRows(rows, auditFromRow), nil
}

// AuditActions returns every action name the log holds.
func (s *Store) AuditActions(ctx context.Context) ([]string, error) {
	a, err := s.q.AuditActions(ctx)
	return a, classify(err)
}

func auditFromRow(r db.AuditLog) AuditEntry {
	e := AuditEntry{
		ID:         r.ID,
		At:         r.At,
		ActorEmail: r.ActorEmail,
		Action:     r.Action,
		TargetType: r.TargetType,
		TargetID:   r.TargetID,
		ClientIP:   r.ClientIp,
	}
	if r.ActorID != nil {
		e.ActorID = *r.ActorID
	}
	_ = json.Unmarshal(r.Detail, &e.Detail)
	return e
}

// encodeDetail turns a detail map into JSON for a jsonb column.
func encodeDetail(d map[string]any) ([]byte, error) {
	if len(d) == 0 {
		return []byte("{}"), nil
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode detail: %w", err)
	}
	return b, nil
}
