package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"keel/db"
)

// Order statuses, in the order an order goes through them.
const (
	OrderProcessing = "processing"
	OrderInvoiced   = "invoiced"
	OrderEmailed    = "emailed"
)

// OrderStatuses lists the statuses in order.
var OrderStatuses = []string{OrderProcessing, OrderInvoiced, OrderEmailed}

// Order is a customer's order with its lines.
type Order struct {
	ID              int64
	Token           string
	Name            string
	Email           string
	Notes           string
	Currency        string
	SubtotalMinor   int64
	TaxRateBP       int32
	TaxMinor        int64
	TotalMinor      int64
	Status          string
	InvoiceYear     int32 // 0 until numbered
	InvoiceSeq      int32
	InvoiceKey      string
	InvoicedAt      *time.Time
	EmailedAt       *time.Time
	StaffNotifiedAt *time.Time
	CreatedAt       time.Time
	Lines           []OrderLine
}

// InvoiceNumber is the order's invoice number, "2026-000042", or "".
func (o Order) InvoiceNumber() string {
	if o.InvoiceSeq == 0 {
		return ""
	}
	return fmt.Sprintf("%d-%06d", o.InvoiceYear, o.InvoiceSeq)
}

// OrderLine is one product on an order, priced when the order was made.
type OrderLine struct {
	ProductID      int64
	SKU            string
	Name           string
	UnitPriceMinor int64
	Quantity       int32
	LineTotalMinor int64
}

// OrderRequest is a customer's order as submitted: what they chose and
// the prices they were shown, which the server checks but never uses.
type OrderRequest struct {
	IdempotencyKey string
	Token          string // the new order's status page address
	Name           string
	Email          string
	Notes          string
	Items          []OrderItemRequest
	TaxRateBP      int32
	// EmailLimit is how many orders one address may receive an hour
	// (0: no limit).
	EmailLimit int
}

// OrderItemRequest is one line of an OrderRequest.
type OrderItemRequest struct {
	ProductID int64
	Quantity  int32
	// PriceSeen and CurrencySeen are the unit price the form showed, in
	// minor units, and its currency.
	PriceSeen    int64
	CurrencySeen string
}

// hash identifies what the request asks for, to tell a retry of it
// from another request that reuses its idempotency key.
func (r OrderRequest) hash() string {
	h := sha256.New()
	fmt.Fprintf(h, "%q\n%q\n%q\n", r.Name, strings.ToLower(r.Email), r.Notes)
	items := slices.Clone(r.Items)
	slices.SortFunc(items, func(a, b OrderItemRequest) int { return cmp.Compare(a.ProductID, b.ProductID) })
	for _, it := range items {
		fmt.Fprintf(h, "%d:%d\n", it.ProductID, it.Quantity)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// OrderItemError says what is wrong with one line of an order. Its
// message is safe to show.
type OrderItemError struct {
	ProductID int64
	Message   string
}

func (e *OrderItemError) Error() string {
	return fmt.Sprintf("product %d: %s", e.ProductID, e.Message)
}

// Errors of OrderCreate.
var (
	// ErrOrderLimit means the address has had EmailLimit orders in the
	// last hour: orders send email, and no one may flood an inbox
	// through them.
	ErrOrderLimit = errors.New("too many orders to this address")
	// ErrIdempotencyConflict means the idempotency key was used before
	// for a different order.
	ErrIdempotencyConflict = errors.New("idempotency key used for a different order")
)

// OrderCreate records an order and enqueues the job that works it, in
// one transaction, and returns it with created true. Every price comes
// from the catalogue, never from the request; a line whose product is
// unknown or withdrawn, or whose price or currency seen differs, is an
// *OrderItemError and nothing is written. A retry of an earlier request
// (same idempotency key, same contents) is that order, even if the
// catalogue has changed since: it is returned with created false, and
// nothing new is written or queued. The same key with other contents is
// ErrIdempotencyConflict; an address past its limit is ErrOrderLimit.
func (s *Store) OrderCreate(ctx context.Context, req OrderRequest) (Order, bool, error) {
	var order Order
	created := false
	hash := req.hash()
	limit := int64(req.EmailLimit)
	if limit <= 0 {
		limit = math.MaxInt64
	}
	err := s.inTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		// earlier finds the order this request already made, if any.
		earlier := func() (bool, error) {
			row, err := q.OrderGetByIdempotencyKey(ctx, req.IdempotencyKey)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				return false, nil
			case err != nil:
				return false, fmt.Errorf("get order by idempotency key: %w", err)
			case row.RequestHash != hash:
				return false, ErrIdempotencyConflict
			}
			order = orderFromRow(row)
			return true, nil
		}

		if err := q.OrderEmailLock(ctx, req.Email); err != nil {
			return fmt.Errorf("lock orders to address: %w", err)
		}
		lines, currency, err := priceLines(ctx, q, req.Items)
		if err != nil {
			if found, ferr := earlier(); found || ferr != nil {
				return ferr
			}
			return err
		}
		var subtotal int64
		for _, l := range lines {
			subtotal += l.LineTotalMinor
		}
		tax := (subtotal*int64(req.TaxRateBP) + 5000) / 10000 // rounded half up

		row, err := q.OrderInsert(ctx, db.OrderInsertParams{
			Token: req.Token, IdempotencyKey: req.IdempotencyKey, RequestHash: hash, Name: req.Name,
			Email: req.Email, Notes: req.Notes, Currency: currency, SubtotalMinor: subtotal,
			TaxRateBp: req.TaxRateBP, TaxMinor: tax, TotalMinor: subtotal + tax, EmailLimit: limit,
		})
		if errors.Is(err, pgx.ErrNoRows) {
			// A double submit or a retried request, or one too many.
			if found, ferr := earlier(); found || ferr != nil {
				return ferr
			}
			return ErrOrderLimit
		}
		if err != nil {
			return fmt.Errorf("insert order: %w", err)
		}
		order, created = orderFromRow(row), true

		for i, l := range lines {
			err := q.OrderItemInsert(ctx, db.OrderItemInsertParams{
				OrderID: order.ID, Line: int32(i + 1), ProductID: l.ProductID, Sku: l.SKU, Name: l.Name,
				UnitPriceMinor: l.UnitPriceMinor, Quantity: l.Quantity, LineTotalMinor: l.LineTotalMinor,
			})
			if err != nil {
				return fmt.Errorf("insert order line: %w", err)
			}
		}
		order.Lines = lines
		if err := s.queue.EnqueueOrder(ctx, tx, order.ID); err != nil {
			return fmt.Errorf("enqueue order %d: %w", order.ID, err)
		}
		return addEvent(ctx, q, Event{
			Topic: TopicStaff, Kind: EventOrderCreated, Permission: "orders:read",
			Data: map[string]string{
				"order_id": strconv.FormatInt(order.ID, 10), "name": order.Name,
				"total": strconv.FormatInt(order.TotalMinor, 10), "currency": order.Currency,
			},
		})
	})
	if err == nil && created {
		s.signal(ctx)
	}
	return order, created, err
}

// priceLines prices each requested line from the catalogue.
func priceLines(ctx context.Context, q *db.Queries, items []OrderItemRequest) ([]OrderLine, string, error) {
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = it.ProductID
	}
	rows, err := q.ProductListByIDs(ctx, ids)
	if err != nil {
		return nil, "", fmt.Errorf("load products: %w", err)
	}
	byID := make(map[int64]db.Product, len(rows))
	for _, r := range rows {
		byID[r.ID] = r
	}

	lines := make([]OrderLine, 0, len(items))
	currency := ""
	for _, it := range items {
		p, ok := byID[it.ProductID]
		switch {
		case !ok || !p.Active:
			return nil, "", &OrderItemError{it.ProductID, "This product is not in the catalogue."}
		case p.PriceMinor != it.PriceSeen || p.Currency != it.CurrencySeen:
			return nil, "", &OrderItemError{it.ProductID, "The price of this product has changed; please check the new total."}
		case currency != "" && p.Currency != currency:
			return nil, "", &OrderItemError{it.ProductID, "Products in different currencies need separate orders."}
		}
		currency = p.Currency
		lines = append(lines, OrderLine{
			ProductID: p.ID, SKU: p.Sku, Name: p.Name, UnitPriceMinor: p.PriceMinor,
			Quantity: it.Quantity, LineTotalMinor: p.PriceMinor * int64(it.Quantity),
		})
	}
	return lines, currency, nil
}

// OrderGetByID returns an order with its lines, or ErrNotFound.
func (s *Store) OrderGetByID(ctx context.Context, id int64) (Order, error) {
	row, err := s.q.OrderGetByID(ctx, id)
	if err != nil {
		return Order{}, classify(fmt.Errorf("get order %d: %w", id, err))
	}
	return s.withLines(ctx, orderFromRow(row))
}

// OrderGetByToken returns the order behind a status page address, or
// ErrNotFound.
func (s *Store) OrderGetByToken(ctx context.Context, token string) (Order, error) {
	row, err := s.q.OrderGetByToken(ctx, token)
	if err != nil {
		return Order{}, classify(fmt.Errorf("get order by token: %w", err))
	}
	return s.withLines(ctx, orderFromRow(row))
}

func (s *Store) withLines(ctx context.Context, o Order) (Order, error) {
	rows, err := s.q.OrderItems(ctx, o.ID)
	if err != nil {
		return o, classify(fmt.Errorf("order lines: %w", err))
	}
	for _, r := range rows {
		o.Lines = append(o.Lines, OrderLine{
			ProductID: r.ProductID, SKU: r.Sku, Name: r.Name, UnitPriceMinor: r.UnitPriceMinor,
			Quantity: r.Quantity, LineTotalMinor: r.LineTotalMinor,
		})
	}
	return o, nil
}

// OrderNumber gives an order its invoice number, once: the number is
// taken from the year's counter in the same transaction that records it
// on the order, so numbers have no gaps and an order never gets two.
func (s *Store) OrderNumber(ctx context.Context, id int64) (Order, error) {
	var o Order
	err := s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		row, err := q.OrderGetForUpdate(ctx, id)
		if err != nil {
			return fmt.Errorf("lock order %d: %w", id, err)
		}
		if row.InvoiceSeq == nil {
			year := int32(row.CreatedAt.UTC().Year()) //nolint:gosec // G115: a calendar year fits.
			seq, err := q.InvoiceNumberNext(ctx, year)
			if err != nil {
				return fmt.Errorf("next invoice number: %w", err)
			}
			if row, err = q.OrderSetInvoiceNumber(ctx, db.OrderSetInvoiceNumberParams{
				ID: id, InvoiceYear: &year, InvoiceSeq: &seq,
			}); err != nil {
				return fmt.Errorf("record invoice number: %w", err)
			}
		}
		o = orderFromRow(row)
		return nil
	})
	if err != nil {
		return o, err
	}
	return s.withLines(ctx, o)
}

// OrderMarkInvoiced records where the order's invoice is stored, and
// tells the order's page.
func (s *Store) OrderMarkInvoiced(ctx context.Context, id int64, key string) (Order, error) {
	return s.orderStep(ctx, func(q *db.Queries) (db.Order, error) {
		row, err := q.OrderMarkInvoiced(ctx, db.OrderMarkInvoicedParams{ID: id, InvoiceKey: key})
		if err != nil {
			return row, fmt.Errorf("mark order %d invoiced: %w", id, err)
		}
		return row, nil
	})
}

// OrderMarkEmailed records that the customer's confirmation went out,
// and tells the order's page.
func (s *Store) OrderMarkEmailed(ctx context.Context, id int64) (Order, error) {
	return s.orderStep(ctx, func(q *db.Queries) (db.Order, error) {
		row, err := q.OrderMarkEmailed(ctx, id)
		if err != nil {
			return row, fmt.Errorf("mark order %d emailed: %w", id, err)
		}
		return row, nil
	})
}

// orderStep records a step of an order with the event its status page
// follows, in one transaction.
func (s *Store) orderStep(ctx context.Context, step func(*db.Queries) (db.Order, error)) (Order, error) {
	var o Order
	err := s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		row, err := step(q)
		if err != nil {
			return err
		}
		o = orderFromRow(row)
		return addEvent(ctx, q, Event{
			Topic: OrderTopic(o.Token), Kind: EventOrderStatus,
			Data: map[string]string{"status": o.Status, "number": o.InvoiceNumber()},
		})
	})
	if err != nil {
		return Order{}, err
	}
	s.signal(ctx)
	return o, nil
}

// OrderMarkStaffNotified records that staff were told of the order.
func (s *Store) OrderMarkStaffNotified(ctx context.Context, id int64) error {
	return classify(s.q.OrderMarkStaffNotified(ctx, id))
}

// OrderFilter selects orders for the staff list.
type OrderFilter struct {
	Status   string
	BeforeAt time.Time
	BeforeID int64
	Limit    int32
}

// OrderList returns orders newest first.
func (s *Store) OrderList(ctx context.Context, f OrderFilter) ([]Order, error) {
	p := db.OrderListParams{RowLimit: f.Limit}
	if f.Status != "" {
		p.Status = &f.Status
	}
	if !f.BeforeAt.IsZero() {
		p.AfterAt, p.AfterID = &f.BeforeAt, &f.BeforeID
	}
	rows, err := s.q.OrderList(ctx, p)
	if err != nil {
		return nil, classify(fmt.Errorf("list orders: %w", err))
	}
	return mapRows(rows, orderFromRow), nil
}

// EmailEnsure records e unless an email with its dedupe key exists, and
// returns the record either way: the way to send something at most once
// per business event from a job that may run again.
func (s *Store) EmailEnsure(ctx context.Context, e OutgoingEmail) (Email, error) {
	row, err := s.q.EmailEnsure(ctx, db.EmailEnsureParams{
		DedupeKey: e.DedupeKey, Kind: e.Kind, Recipient: e.To, Subject: e.Subject,
		BodyText: e.Text, BodyHtml: e.HTML,
	})
	if err != nil {
		return Email{}, classify(fmt.Errorf("ensure email %s: %w", e.DedupeKey, err))
	}
	return emailFromRow(db.Email(row)), nil
}

// OrderEmailResend queues the order's confirmation again, audited as
// actor's: a new email with its own dedupe key, sent by the send_email
// job.
func (s *Store) OrderEmailResend(ctx context.Context, actor Actor, o Order, e OutgoingEmail) error {
	err := s.inTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		if err := s.queueEmail(ctx, tx, q, e); err != nil {
			return err
		}
		return audit(ctx, q, actor, "order.email_resent", o, nil)
	})
	if errors.Is(err, ErrConflict) {
		return nil // the same resend again (a double click): queued once
	}
	return err
}

// OrderRegenerate queues a new rendering of the order's invoice, under
// its number and key, and audits it, in one transaction.
func (s *Store) OrderRegenerate(ctx context.Context, actor Actor, o Order) error {
	return s.inTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		if err := s.queue.EnqueueRegenerate(ctx, tx, o.ID); err != nil {
			return fmt.Errorf("enqueue regeneration of order %d: %w", o.ID, err)
		}
		return audit(ctx, q, actor, "order.invoice_regenerated", o, nil)
	})
}

// OrderAudit writes an audit entry about an order.
func (s *Store) OrderAudit(ctx context.Context, actor Actor, o Order, action string, detail map[string]any) error {
	return s.Audit(ctx, AuditEntry{
		ActorID: actor.ID, ActorEmail: actor.Email, Action: action, ClientIP: actor.IP,
		TargetType: "order", TargetID: strconv.FormatInt(o.ID, 10), Detail: detail,
	})
}

func (o Order) auditTarget() (string, string) { return "order", strconv.FormatInt(o.ID, 10) }

func orderFromRow(r db.Order) Order {
	o := Order{
		ID: r.ID, Token: r.Token, Name: r.Name, Email: r.Email, Notes: r.Notes, Currency: r.Currency,
		SubtotalMinor: r.SubtotalMinor, TaxRateBP: r.TaxRateBp, TaxMinor: r.TaxMinor, TotalMinor: r.TotalMinor,
		Status: r.Status, InvoiceKey: r.InvoiceKey, InvoicedAt: r.InvoicedAt, EmailedAt: r.EmailedAt,
		StaffNotifiedAt: r.StaffNotifiedAt, CreatedAt: r.CreatedAt,
	}
	if r.InvoiceYear != nil && r.InvoiceSeq != nil {
		o.InvoiceYear, o.InvoiceSeq = *r.InvoiceYear, *r.InvoiceSeq
	}
	return o
}
