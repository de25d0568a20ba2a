package jobs_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"sync"
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
	smtp := testenv.NewProxy(t, testenv.Config(t).SMTPAddr)
	r := newOrderRigSMTP(t, smtp.Addr(), 5*time.Second)
	r.smtp = smtp
	return r
}

// newOrderRigSMTP is an order rig whose mail goes to the SMTP server at
// addr.
func newOrderRigSMTP(t *testing.T, addr string, timeout time.Duration) *orderRig {
	t.Helper()
	tx := testenv.Tx(t)
	inserter, err := jobs.NewInserter(testenv.Pool(t), testenv.Logger(t))
	require.NoError(t, err)
	s := store.New(tx, jobs.NewQueue(inserter))

	cfg := testenv.Config(t)
	s3URL, err := url.Parse(cfg.S3Endpoint)
	require.NoError(t, err)
	r := &orderRig{store: s, tx: tx, s3: testenv.NewProxy(t, s3URL.Host),
		staff: testenv.Unique("staff") + "@example.com"}
	r.blobs = blob.New(blob.Config{
		Endpoint: "http://" + r.s3.Addr(), Region: cfg.S3Region, Bucket: cfg.S3Bucket,
		AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey,
	})
	require.NoError(t, r.blobs.EnsureBucket(context.Background(), cfg.BaseURL))
	sender, err := mail.NewSender(mail.Config{Addr: addr, TLS: "none", Timeout: timeout,
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
		TaxRateBP: 2000, Items: []store.OrderItemRequest{{ProductID: p.ID, Quantity: 2, PriceSeen: 12345, CurrencySeen: "EUR"}},
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
	for _, want := range []string{"Invoice " + o.InvoiceNumber(), "Zoë Ørsted", "Café crème ? service", o.Lines[0].SKU, "€246.90", "€49.38", "€296.28"} {
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

// scriptedSMTP is an SMTP server on loopback for the failures the real
// catcher cannot show: it refuses recipients named "bounce@...", and
// after it has a whole message it behaves as its script says. It counts
// the messages it received whole, by recipient.
type smtpScript int

const (
	smtpAnswers     smtpScript = iota // as a mail server should
	smtpHangs                         // never answers the message
	smtpDropsAfter                    // accepts it, then drops the connection
	smtpRefusesRset                   // accepts it, then refuses RSET
)

type scriptedSMTP struct {
	addr     string
	mu       sync.Mutex
	received map[string]int
}

func newScriptedSMTP(t *testing.T, script smtpScript) *scriptedSMTP {
	t.Helper()
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &scriptedSMTP{addr: ln.Addr().String(), received: map[string]int{}}
	var conns sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); conns.Wait() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Go(func() { srv.serve(conn, script) })
		}
	}()
	return srv
}

func (s *scriptedSMTP) serve(conn net.Conn, script smtpScript) {
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	say := func(line string) { _, _ = conn.Write([]byte(line + "\r\n")) }
	say("220 scripted ESMTP")
	var rcpt string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 scripted")
		case strings.HasPrefix(cmd, "MAIL FROM"):
			say("250 OK")
		case strings.HasPrefix(cmd, "RCPT TO"):
			rcpt = strings.ToLower(strings.Trim(strings.TrimPrefix(strings.TrimSpace(line)[8:], ":"), " <>"))
			if strings.HasPrefix(rcpt, "bounce") {
				say("550 5.1.1 No such user")
				continue
			}
			say("250 OK")
		case cmd == "DATA":
			say("354 End data with <CR><LF>.<CR><LF>")
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			s.mu.Lock()
			s.received[rcpt]++
			s.mu.Unlock()
			switch script {
			case smtpHangs:
				_, _ = io.Copy(io.Discard, r) // the message is here; the answer never comes
				return
			case smtpDropsAfter:
				say("250 OK queued")
				return
			}
			say("250 OK queued")
		case cmd == "RSET" && script == smtpRefusesRset:
			say("554 5.5.1 Transaction failed")
		case cmd == "RSET", cmd == "NOOP":
			say("250 OK")
		case cmd == "QUIT":
			say("221 Bye")
			return
		default:
			say("502 Not implemented")
		}
	}
}

func (s *scriptedSMTP) count(rcpt string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received[strings.ToLower(rcpt)]
}

// A server that takes the confirmation and never answers leaves it
// uncertain: the order moves on and no retry sends it again.
func TestProcessOrderSMTPSilentAfterData(t *testing.T) {
	t.Parallel()
	srv := newScriptedSMTP(t, smtpHangs)
	r := newOrderRigSMTP(t, srv.addr, time.Second)
	email := testenv.Unique("silent") + "@example.com"
	o := r.order(t, email)

	res, err := r.work(t, o)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)
	require.Equal(t, 1, srv.count(email))
	require.Equal(t, 1, srv.count(r.staff))
	require.Equal(t, 2, countRows(t, r.tx, "SELECT count(*) FROM emails WHERE recipient IN ($1, $2) AND status = 'uncertain'", email, r.staff))

	_, err = r.work(t, o) // the job once more, as a rescued copy would run
	require.NoError(t, err)
	require.Equal(t, 1, srv.count(email), "nothing is sent again")
}

// A message the server accepted is sent, whatever goes wrong after its
// "250": the order moves on and nothing is sent twice.
func TestProcessOrderSMTPFailsAfterAccepting(t *testing.T) {
	t.Parallel()
	for name, script := range map[string]smtpScript{"ConnectionDropped": smtpDropsAfter, "ResetRefused": smtpRefusesRset} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := newScriptedSMTP(t, script)
			r := newOrderRigSMTP(t, srv.addr, 5*time.Second)
			email := testenv.Unique("accepted") + "@example.com"
			o := r.order(t, email)

			res, err := r.work(t, o)
			require.NoError(t, err)
			require.Equal(t, river.EventKindJobCompleted, res.EventKind)
			require.Equal(t, store.OrderEmailed, r.reload(t, o).Status)
			require.Equal(t, 1, countRows(t, r.tx, "SELECT count(*) FROM emails WHERE recipient = $1 AND status = 'sent'", email))
			_, err = r.work(t, o)
			require.NoError(t, err)
			require.Equal(t, 1, srv.count(email), "sent once")
		})
	}
}

// An address refused for good is not retried: the order stays
// invoiced, staff are told, and the staff notice still goes out.
func TestProcessOrderRecipientRefused(t *testing.T) {
	t.Parallel()
	srv := newScriptedSMTP(t, smtpAnswers)
	r := newOrderRigSMTP(t, srv.addr, 5*time.Second)
	email := testenv.Unique("bounce") + "@example.com"
	o := r.order(t, email)

	res, err := r.work(t, o)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)
	require.Equal(t, store.OrderInvoiced, r.reload(t, o).Status)
	require.Equal(t, 1, srv.count(r.staff))
	require.Equal(t, 1, countRows(t, r.tx, "SELECT count(*) FROM emails WHERE recipient = $1 AND status = 'rejected'", email))
	require.Equal(t, 1, countRows(t, r.tx, `SELECT count(*) FROM events
		WHERE kind = 'order.failed' AND data->>'order_id' = $1 AND data->>'error' LIKE '%refused%'`, strconv.FormatInt(o.ID, 10)))
}

func countRows(t *testing.T, tx pgx.Tx, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, tx.QueryRow(context.Background(), query, args...).Scan(&n))
	return n
}
