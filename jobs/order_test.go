package jobs_test

import (
	"bytes"
	"context"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"keel/auth"
	"keel/blob"
	"keel/invoice"
	"keel/jobs"
	"keel/mail"
	"keel/store"
	"keel/testenv"
)

// orderRig is a store in a rolled-back transaction, the real object
// storage and SMTP catcher (each behind a proxy that can be cut), and a
// test worker for the order job.
type orderRig struct {
	store  *store.Store
	tx     pgx.Tx
	s3     *testenv.Proxy
	smtp   *testenv.Proxy
	blobs  *blob.Store
	worker *rivertest.Worker[jobs.ProcessOrderArgs, pgx.Tx]
	staff  string
}

func newOrderRig(t *testing.T) *orderRig {
	t.Helper()
	tx := testenv.Tx(t)
	inserter, err := jobs.NewInserter(testenv.Pool(t), testenv.Logger(t))
	require.NoError(t, err)
	s := store.New(tx, jobs.NewQueue(inserter))

	cfg := testenv.Config(t)
	s3URL, err := url.Parse(cfg.S3Endpoint)
	require.NoError(t, err)
	r := &orderRig{store: s, tx: tx, s3: testenv.NewProxy(t, s3URL.Host), smtp: testenv.NewProxy(t, cfg.SMTPAddr),
		staff: testenv.Unique("staff") + "@example.com"}
	r.blobs = blob.New(blob.Config{
		Endpoint: "http://" + r.s3.Addr(), Region: cfg.S3Region, Bucket: cfg.S3Bucket,
		AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey,
	})
	require.NoError(t, r.blobs.EnsureBucket(context.Background(), cfg.BaseURL))
	sender, err := mail.NewSender(mail.Config{Addr: r.smtp.Addr(), TLS: "none", Timeout: 5 * time.Second,
		From: "Keel <hello@keel.localhost>", Domain: "keel.localhost"})
	require.NoError(t, err)

	deps := jobs.OrderDeps{
		Blobs: r.blobs, Mailer: sender, StaffEmail: r.staff,
		Seller:    invoice.Seller{Name: "Keel Services", Email: "hello@keel.localhost"},
		StatusURL: func(token string) string { return "http://keel.test/orders/" + token },
		AdminURL:  func(id int64) string { return "http://keel.test/admin/orders/1" },
	}
	r.worker = rivertest.NewWorker(t, riverpgxv5.New(nil), &river.Config{}, jobs.NewProcessOrderWorker(s, deps))
	return r
}

func (r *orderRig) order(t *testing.T, email string) store.Order {
	t.Helper()
	p, err := r.store.ProductCreate(context.Background(), store.Actor{}, store.ProductInput{
		SKU: "J-" + testenv.Unique("")[1:], Name: "Café crème ☕ service", PriceMinor: 12345, Currency: "EUR", Active: true,
	})
	require.NoError(t, err)
	o, _, err := r.store.OrderCreate(context.Background(), store.OrderRequest{
		IdempotencyKey: auth.RandomToken(), Token: auth.RandomToken(), Name: "Zoë Ørsted", Email: email,
		TaxRateBP: 2000, Items: []store.OrderItemRequest{{ProductID: p.ID, Quantity: 2, PriceSeen: 12345}},
	})
	require.NoError(t, err)
	return o
}

func (r *orderRig) work(t *testing.T, o store.Order) (*rivertest.WorkResult, error) {
	t.Helper()
	return r.worker.Work(context.Background(), t, r.tx, jobs.ProcessOrderArgs{OrderID: o.ID}, nil)
}

func (r *orderRig) reload(t *testing.T, o store.Order) store.Order {
	t.Helper()
	got, err := r.store.OrderGetByID(context.Background(), o.ID)
	require.NoError(t, err)
	return got
}

// pdfText extracts the text of a PDF with pdftotext.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	cmd := exec.Command("pdftotext", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	out, err := cmd.Output()
	require.NoError(t, err, "pdftotext is needed; scripts/tools.sh --test installs poppler-utils")
	return string(out)
}

func TestProcessOrder(t *testing.T) {
	t.Parallel()
	r := newOrderRig(t)
	email := testenv.Unique("buyer") + "@example.com"
	o := r.order(t, email)

	res, err := r.work(t, o)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)
	// Worked again, as after a lost acknowledgement: nothing is done twice.
	_, err = r.work(t, o)
	require.NoError(t, err)

	o = r.reload(t, o)
	require.Equal(t, store.OrderEmailed, o.Status)
	require.NotZero(t, o.InvoiceSeq)
	require.NotNil(t, o.StaffNotifiedAt)
	require.Equal(t, jobs.InvoiceKey(o), o.InvoiceKey)

	keys, err := r.blobs.Keys(context.Background(), strings.TrimSuffix(o.InvoiceKey, ".pdf"))
	require.NoError(t, err)
	require.Equal(t, []string{o.InvoiceKey}, keys, "one invoice object")
	pdf := getObject(t, r, o.InvoiceKey)
	text := pdfText(t, pdf)
	for _, want := range []string{"Invoice " + o.InvoiceNumber(), "Zoë Ørsted", "Café crème ☕ service", "€246.90", "€49.38", "€296.28"} {
		require.Contains(t, text, want)
	}

	mails := testenv.MailTo(t, email, 5*time.Second)
	require.Len(t, mails, 1, "one confirmation")
	require.Contains(t, mails[0].Subject, o.InvoiceNumber())
	require.Contains(t, mails[0].Text, "http://keel.test/orders/"+o.Token)
	require.Len(t, testenv.MailTo(t, r.staff, 5*time.Second), 1, "one staff notice")
}

func getObject(t *testing.T, r *orderRig, key string) []byte {
	t.Helper()
	link, err := r.blobs.DownloadURL(context.Background(), key, "x.pdf", time.Minute)
	require.NoError(t, err)
	resp, err := httpGet(link)
	require.NoError(t, err)
	return resp
}

// Object storage down: the order stays "processing" with its invoice
// pending, the job fails and will be retried; when storage returns the
// order completes.
func TestProcessOrderStorageDown(t *testing.T) {
	t.Parallel()
	r := newOrderRig(t)
	email := testenv.Unique("s3down") + "@example.com"
	o := r.order(t, email)

	r.s3.Cut()
	res, err := r.work(t, o)
	require.Error(t, err)
	require.Equal(t, river.EventKindJobFailed, res.EventKind)
	o = r.reload(t, o)
	require.Equal(t, store.OrderProcessing, o.Status, "invoice pending")
	require.NotZero(t, o.InvoiceSeq, "the number is kept for the retry")
	require.Empty(t, testenv.MailTo(t, email, 500*time.Millisecond))

	r.s3.Restore()
	_, err = r.worker.WorkJob(context.Background(), t, r.tx, res.Job)
	require.NoError(t, err)
	require.Equal(t, store.OrderEmailed, r.reload(t, o).Status)
	require.Len(t, testenv.MailTo(t, email, 5*time.Second), 1)
}

// SMTP down: the invoice is made and kept, the email waits for the
// retry, and goes out once.
func TestProcessOrderSMTPDown(t *testing.T) {
	t.Parallel()
	r := newOrderRig(t)
	email := testenv.Unique("smtpdown") + "@example.com"
	o := r.order(t, email)

	r.smtp.Cut()
	res, err := r.work(t, o)
	require.Error(t, err)
	o = r.reload(t, o)
	require.Equal(t, store.OrderInvoiced, o.Status, "email pending")

	r.smtp.Restore()
	_, err = r.worker.WorkJob(context.Background(), t, r.tx, res.Job)
	require.NoError(t, err)
	require.Equal(t, store.OrderEmailed, r.reload(t, o).Status)
	require.Len(t, testenv.MailTo(t, email, 5*time.Second), 1)
}
