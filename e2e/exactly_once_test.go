package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"keel/auth"
	"keel/blob"
	"keel/jobs"
	"keel/store"
	"keel/testenv"
)

// killRig runs `keel worker` processes on a database of their own (so no
// other test's worker takes their jobs), with object storage and SMTP
// behind proxies the test can freeze.
type killRig struct {
	t      *testing.T
	dbURL  string
	pool   *pgxpool.Pool
	store  *store.Store
	s3     *testenv.Proxy
	smtp   *testenv.Proxy
	blobs  *blob.Store
	worker *exec.Cmd
	logs   bytes.Buffer
}

func newKillRig(t *testing.T) *killRig {
	t.Helper()
	ctx := context.Background()
	cfg := testenv.Config(t)
	r := &killRig{t: t}
	r.dbURL, r.pool = testenv.Database(t)
	inserter, err := jobs.NewInserter(r.pool, testenv.Logger(t))
	require.NoError(t, err)
	r.store = store.New(r.pool, jobs.NewQueue(inserter))

	s3URL, err := url.Parse(cfg.S3Endpoint)
	require.NoError(t, err)
	r.s3 = testenv.NewProxy(t, s3URL.Host)
	r.smtp = testenv.NewProxy(t, cfg.SMTPAddr)
	r.blobs = blob.New(blob.Config{Endpoint: cfg.S3Endpoint, Region: cfg.S3Region, Bucket: cfg.S3Bucket,
		AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey})
	require.NoError(t, r.blobs.EnsureBucket(ctx, cfg.BaseURL))
	return r
}

// startWorker runs a worker process; the previous one must be gone.
func (r *killRig) startWorker() {
	r.t.Helper()
	r.worker = exec.Command(keelBin, "worker")
	r.worker.Env = testenv.Environ(
		"KEEL_DATABASE_URL="+r.dbURL,
		"KEEL_S3_ENDPOINT=http://"+r.s3.Addr(),
		"KEEL_SMTP_ADDR="+r.smtp.Addr(),
		"KEEL_JOB_RESCUE_AFTER=4s",
		"KEEL_LOG_LEVEL=info",
	)
	r.worker.Stdout, r.worker.Stderr = &r.logs, &r.logs
	require.NoError(r.t, r.worker.Start())
	w := r.worker
	r.t.Cleanup(func() { _ = w.Process.Kill(); _ = w.Wait() })
}

// killWorker ends the worker with SIGKILL: no shutdown, no cleanup.
func (r *killRig) killWorker() {
	r.t.Helper()
	require.NoError(r.t, r.worker.Process.Signal(syscall.SIGKILL))
	_ = r.worker.Wait()
}

func (r *killRig) order(email string) store.Order {
	r.t.Helper()
	ctx := context.Background()
	p, err := r.store.ProductCreate(ctx, store.Actor{}, store.ProductInput{
		SKU: "K-" + testenv.Unique("")[1:], Name: "Kill test", PriceMinor: 10000, Currency: "EUR", Active: true,
	})
	require.NoError(r.t, err)
	o, _, err := r.store.OrderCreate(ctx, store.OrderRequest{
		IdempotencyKey: auth.RandomToken(), Token: auth.RandomToken(), Name: "Kill Test", Email: email,
		TaxRateBP: 2000, Items: []store.OrderItemRequest{{ProductID: p.ID, Quantity: 1, PriceSeen: 10000, CurrencySeen: "EUR"}},
	})
	require.NoError(r.t, err)
	return o
}

// waitFor polls until cond holds, or fails the test with the workers'
// logs.
func (r *killRig) waitFor(what string, limit time.Duration, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("%s did not happen within %s; worker logs:\n%s", what, limit, r.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *killRig) status(o store.Order) store.Order {
	r.t.Helper()
	got, err := r.store.OrderGetByID(context.Background(), o.ID)
	require.NoError(r.t, err)
	return got
}

// checkOnce asserts what "exactly once" means for an order: one invoice
// number, one invoice object, one confirmation, one staff notice.
func (r *killRig) checkOnce(o store.Order, email string) {
	r.t.Helper()
	o = r.status(o)
	require.Equal(r.t, store.OrderEmailed, o.Status)
	keys, err := r.blobs.Keys(context.Background(), strings.TrimSuffix(o.InvoiceKey, ".pdf"))
	require.NoError(r.t, err)
	require.Equal(r.t, []string{o.InvoiceKey}, keys, "one invoice object")
	require.Len(r.t, testenv.MailTo(r.t, email, 5*time.Second), 1, "one confirmation")

	var staff int
	require.NoError(r.t, r.pool.QueryRow(context.Background(),
		"SELECT count(*) FROM emails WHERE dedupe_key = $1 AND status = 'sent'", "order_staff:"+fmt.Sprint(o.ID)).Scan(&staff))
	require.Equal(r.t, 1, staff, "one staff notice")
}

// One order, two crashes: a worker is killed with SIGKILL while it
// uploads the order's invoice, the next one is killed while it sends
// the confirmation. A third worker finishes, and the order has exactly
// one invoice number, one invoice object, one confirmation and one staff
// notice. An order placed while no worker runs is not lost either.
func TestWorkerKilledMidJob(t *testing.T) {
	t.Parallel()
	r := newKillRig(t)
	email := testenv.Unique("kill") + "@example.com"

	// Killed during the upload: storage hangs, the worker dies.
	r.s3.Freeze()
	r.startWorker()
	a := r.order(email)
	r.waitFor("the upload to start", 20*time.Second, func() bool { return r.s3.Connections() > 0 })
	r.killWorker()
	require.Equal(t, store.OrderProcessing, r.status(a).Status)
	r.s3.Cut()
	r.s3.Restore()

	// The next worker rescues the job (once the dead one's lease ends),
	// stores the invoice, and hangs in SMTP: killed mid-send.
	r.smtp.Cut()
	r.smtp.Restore()
	r.smtp.Freeze()
	r.startWorker()
	r.waitFor("the rescued job to reach SMTP", 90*time.Second, func() bool { return r.smtp.Connections() > 0 })
	require.Equal(t, store.OrderInvoiced, r.status(a).Status)
	r.killWorker()
	r.smtp.Cut()
	r.smtp.Restore()

	// With no worker running, another order arrives; then a healthy
	// worker finishes both.
	other := testenv.Unique("kill-next") + "@example.com"
	b := r.order(other)
	r.startWorker()
	r.waitFor("both orders to be emailed", 90*time.Second, func() bool {
		return r.status(a).Status == store.OrderEmailed && r.status(b).Status == store.OrderEmailed
	})
	r.checkOnce(a, email)
	r.checkOnce(b, other)

	var numbered, last int
	require.NoError(t, r.pool.QueryRow(context.Background(),
		"SELECT count(*), coalesce(max(invoice_seq), 0) FROM orders WHERE invoice_seq IS NOT NULL").Scan(&numbered, &last))
	require.Equal(t, 2, numbered)
	require.Equal(t, numbered, last, "invoice numbers 1..n, no gaps")
}
