package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/riverqueue/river"

	"keel/invoice"
	"keel/mail"
	"keel/store"
)

// ProcessOrderArgs works a new order: its invoice, the customer's
// confirmation and the staff notice.
type ProcessOrderArgs struct {
	OrderID int64 `json:"order_id"`
}

// Kind is stored with every job. Never rename it.
func (ProcessOrderArgs) Kind() string { return "process_order" }

// InsertOpts allows many attempts: storage or SMTP being down only
// delays an order. An order gets one job because the job is inserted in
// the transaction that creates the order, which happens once per
// idempotency key.
func (ProcessOrderArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 25}
}

// RegenerateInvoiceArgs renders an order's invoice again, under the same
// number and key.
type RegenerateInvoiceArgs struct {
	OrderID int64 `json:"order_id"`
}

// Kind is stored with every job. Never rename it.
func (RegenerateInvoiceArgs) Kind() string { return "regenerate_invoice" }

// OrderJobKinds are the kinds that work on one order, for its history.
var OrderJobKinds = []string{ProcessOrderArgs{}.Kind(), RegenerateInvoiceArgs{}.Kind()}

// Blobs stores files; *blob.Store is the real one.
type Blobs interface {
	Put(ctx context.Context, key, contentType string, body []byte) error
}

// OrderDeps are what the order workers need besides the store.
type OrderDeps struct {
	Blobs      Blobs
	Mailer     Mailer
	Seller     invoice.Seller
	StaffEmail string
	// StatusURL and AdminURL give an order's public status page and its
	// staff page, as absolute URLs.
	StatusURL func(token string) string
	AdminURL  func(id int64) string
}

// ProcessOrderWorker works an order through its steps. Each step leaves
// its result in PostgreSQL or object storage before the next begins, and
// each is skipped when a previous attempt finished it, so an attempt
// that dies anywhere (a crash, storage or SMTP down, kill -9) is simply
// run again:
//
//  1. Number: the invoice number is taken and recorded on the order in
//     one transaction (OrderNumber), so an order gets one number and the
//     year's numbers have no gaps.
//  2. Invoice: the PDF is stored under a key fixed by the order. Storing
//     it again replaces the same object, so there is one invoice object
//     however many attempts ran. The order is then marked invoiced.
//  3. Confirmation: the email is recorded under the dedupe key
//     "order_confirmation:<id>" (EmailEnsure) and sent with EmailSend,
//     which locks the row and marks it sent in the same transaction: at
//     most one confirmation per order. A server that took the whole
//     message and never answered leaves it "uncertain", and a 5xx
//     refusal leaves it "rejected": neither is sent again by a retry,
//     and a refusal is reported to staff. (The one window left is a
//     crash after the SMTP server accepted the message and before the
//     commit; the retry then sends a copy with the same Message-ID.)
//  4. Staff notice: the same scheme under "order_staff:<id>".
type ProcessOrderWorker struct {
	river.WorkerDefaults[ProcessOrderArgs]
	store *store.Store
	deps  OrderDeps
}

// NewProcessOrderWorker returns the order worker.
func NewProcessOrderWorker(s *store.Store, d OrderDeps) *ProcessOrderWorker {
	return &ProcessOrderWorker{store: s, deps: d}
}

// Work runs the steps that are not done yet.
func (w *ProcessOrderWorker) Work(ctx context.Context, job *river.Job[ProcessOrderArgs]) error {
	o, err := w.store.OrderNumber(ctx, job.Args.OrderID)
	if err != nil {
		return fmt.Errorf("number order: %w", err)
	}

	if o.InvoiceKey == "" {
		if o, err = storeInvoice(ctx, w.store, w.deps, o); err != nil {
			return err
		}
	}

	// A message refused for good (the customer's address does not
	// exist, say) is not retried: staff hear of it in the portal, the
	// order stays where it is, and the job goes on.
	if o.EmailedAt == nil {
		switch err := w.send(ctx, o, confirmation(w.deps, o)); {
		case errors.Is(err, store.ErrDeliveryRejected):
			w.tellStaff(ctx, o, "its confirmation was refused: "+err.Error())
		case err != nil:
			return err
		default:
			if o, err = w.store.OrderMarkEmailed(ctx, o.ID); err != nil {
				return err
			}
		}
	}

	if o.StaffNotifiedAt == nil {
		switch err := w.send(ctx, o, staffNotice(w.deps, o)); {
		case errors.Is(err, store.ErrDeliveryRejected):
			w.tellStaff(ctx, o, "the staff notice was refused: "+err.Error())
		case err != nil:
			return err
		default:
			if err := w.store.OrderMarkStaffNotified(ctx, o.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// tellStaff records that an order needs a person's attention.
func (w *ProcessOrderWorker) tellStaff(ctx context.Context, o store.Order, problem string) {
	_ = w.store.EventAdd(ctx, store.Event{
		Topic: store.TopicStaff, Kind: store.EventOrderFailed, Permission: "orders:read",
		Data: map[string]string{"order_id": strconv.FormatInt(o.ID, 10), "error": truncate(problem)},
	})
}

// send records e once and delivers it at most once.
func (w *ProcessOrderWorker) send(ctx context.Context, o store.Order, e store.OutgoingEmail) error {
	rec, err := w.store.EmailEnsure(ctx, e)
	if err != nil {
		return err
	}
	err = w.store.EmailSend(ctx, rec.ID, func(m store.Email) error {
		return w.deps.Mailer.Send(ctx, mail.Message{
			ID: "email-" + strconv.FormatInt(m.ID, 10), To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML,
		})
	})
	if err != nil {
		return fmt.Errorf("order %d: %s: %w", o.ID, e.Kind, err)
	}
	return nil
}

// InvoiceKey is where an order's invoice is stored: fixed by the order,
// so storing it again replaces it.
func InvoiceKey(o store.Order) string {
	return fmt.Sprintf("invoices/%d/%s-%s.pdf", o.InvoiceYear, o.InvoiceNumber(), o.Token)
}

// storeInvoice renders the numbered order's invoice, stores it and marks
// the order invoiced.
func storeInvoice(ctx context.Context, s *store.Store, d OrderDeps, o store.Order) (store.Order, error) {
	inv := invoice.Invoice{
		Number: o.InvoiceNumber(), Date: o.CreatedAt, Seller: d.Seller,
		CustomerName: o.Name, CustomerEmail: o.Email, Currency: o.Currency,
		SubtotalMinor: o.SubtotalMinor, TaxRateBP: o.TaxRateBP, TaxMinor: o.TaxMinor, TotalMinor: o.TotalMinor,
	}
	for _, l := range o.Lines {
		inv.Lines = append(inv.Lines, invoice.Line{
			Name: l.Name, SKU: l.SKU, Quantity: l.Quantity, UnitMinor: l.UnitPriceMinor, LineMinor: l.LineTotalMinor,
		})
	}
	pdf, err := invoice.Render(inv)
	if err != nil {
		return o, err
	}
	key := InvoiceKey(o)
	if err := d.Blobs.Put(ctx, key, "application/pdf", pdf); err != nil {
		return o, fmt.Errorf("store invoice of order %d: %w", o.ID, err)
	}
	marked, err := s.OrderMarkInvoiced(ctx, o.ID, key)
	if err != nil {
		return o, err
	}
	marked.Lines = o.Lines
	return marked, nil
}

func confirmation(d OrderDeps, o store.Order) store.OutgoingEmail {
	c := mail.OrderConfirmation(o, d.StatusURL(o.Token))
	return store.OutgoingEmail{
		DedupeKey: "order_confirmation:" + strconv.FormatInt(o.ID, 10),
		Kind:      "order_confirmation", To: o.Email, Subject: c.Subject, Text: c.Text, HTML: c.HTML,
	}
}

func staffNotice(d OrderDeps, o store.Order) store.OutgoingEmail {
	c := mail.OrderStaffNotice(o, d.AdminURL(o.ID))
	return store.OutgoingEmail{
		DedupeKey: "order_staff:" + strconv.FormatInt(o.ID, 10),
		Kind:      "order_staff", To: d.StaffEmail, Subject: c.Subject, Text: c.Text, HTML: c.HTML,
	}
}

// RegenerateInvoiceWorker renders an order's invoice again (after a
// template or data correction), replacing the stored object.
type RegenerateInvoiceWorker struct {
	river.WorkerDefaults[RegenerateInvoiceArgs]
	store *store.Store
	deps  OrderDeps
}

// NewRegenerateInvoiceWorker returns the worker.
func NewRegenerateInvoiceWorker(s *store.Store, d OrderDeps) *RegenerateInvoiceWorker {
	return &RegenerateInvoiceWorker{store: s, deps: d}
}

// Work renders and stores the invoice; an order not numbered yet is
// left to its process_order job.
func (w *RegenerateInvoiceWorker) Work(ctx context.Context, job *river.Job[RegenerateInvoiceArgs]) error {
	o, err := w.store.OrderGetByID(ctx, job.Args.OrderID)
	if err != nil {
		return err
	}
	if o.InvoiceSeq == 0 {
		return nil
	}
	_, err = storeInvoice(ctx, w.store, w.deps, o)
	return err
}
