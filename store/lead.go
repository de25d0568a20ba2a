package store

import (
	"context"
	"fmt"
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

// Lead sources.
const (
	SourceContactForm = "contact_form"
	SourceSeed        = "seed"
)

// Lead is a person or company that asked about Keel's services.
type Lead struct {
	ID        int64
	Name      string
	Email     string
	Phone     string
	Company   string
	Message   string
	Source    string
	Status    string
	CreatedAt time.Time
	UpdatedAt time.Time
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
// the lead, its email row and the job that sends it all exist, or none
// does.
func (s *Store) ContactCreate(ctx context.Context, req ContactRequest, ack func(Lead) (OutgoingEmail, error)) (Lead, error) {
	var lead Lead
	err := s.inTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		row, err := q.LeadCreate(ctx, db.LeadCreateParams{
			Name:    req.Name,
			Email:   req.Email,
			Phone:   req.Phone,
			Company: req.Company,
			Message: req.Message,
			Source:  SourceContactForm,
		})
		if err != nil {
			return fmt.Errorf("insert lead: %w", err)
		}
		lead = leadFromRow(row)

		email, err := ack(lead)
		if err != nil {
			return err
		}
		return s.queueEmail(ctx, tx, q, email)
	})
	return lead, err
}

// LeadGetByID returns one lead, or ErrNotFound.
func (s *Store) LeadGetByID(ctx context.Context, id int64) (Lead, error) {
	row, err := s.q.LeadGetByID(ctx, id)
	if err != nil {
		return Lead{}, classify(fmt.Errorf("get lead %d: %w", id, err))
	}
	return leadFromRow(row), nil
}

func leadFromRow(r db.Lead) Lead {
	return Lead{
		ID:        r.ID,
		Name:      r.Name,
		Email:     r.Email,
		Phone:     r.Phone,
		Company:   r.Company,
		Message:   r.Message,
		Source:    r.Source,
		Status:    r.Status,
		CreatedAt: r.CreatedAt,
		UpdatedAt: r.UpdatedAt,
	}
}
