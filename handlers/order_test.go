package handlers_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"keel/app"
	"keel/auth"
	"keel/store"
	"keel/testenv"
)

func newProduct(t *testing.T, a *app.App, name string, price int64) store.Product {
	t.Helper()
	p, err := a.Store.ProductCreate(context.Background(), store.Actor{}, store.ProductInput{
		SKU: "H-" + testenv.Unique("")[1:], Name: name, PriceMinor: price, Currency: "EUR", Active: true,
	})
	require.NoError(t, err)
	return p
}

// orderForm is a filled order form for products, one of each.
func orderForm(key string, products ...store.Product) url.Values {
	// An address of its own: orders per address are limited.
	email := testenv.Unique("olga") + "@example.com"
	f := url.Values{"idempotency_key": {key}, "name": {"Olga Order"}, "email": {email}}
	for _, p := range products {
		f.Set("qty_"+itoa(p.ID), "1")
		f.Set("price_"+itoa(p.ID), itoa(p.PriceMinor))
		f.Set("cur_"+itoa(p.ID), p.Currency)
	}
	return f
}

func TestOrderFormShowsCatalogue(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	p := newProduct(t, a, "Shown Product", 12300)

	d := doc(t, get(t, a, "/order"))
	require.Equal(t, 1, d.Find("#order-qty-"+itoa(p.ID)).Length())
	require.Contains(t, d.Find("#order-form").Text(), "€123.00 each")
	require.Len(t, d.Find(`input[name="idempotency_key"]`).AttrOr("value", ""), 52)
}

// An order is answered 202 at once with its status page; the second
// submit of the same form is the same order.
func TestOrderCreate(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t)
	p := newProduct(t, a, "Ordered Product", 10000)
	key := auth.RandomToken()

	form := orderForm(key, p)
	rec := postForm(t, a, "/orders", form)
	require.Equal(t, http.StatusAccepted, rec.Code)
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	loc := rec.Header().Get("Location")
	require.Regexp(t, `^/orders/[A-Z2-7]{52}$`, loc)
	d := doc(t, rec)
	require.Contains(t, d.Find("#order-status").Text(), "Order received")
	require.Contains(t, d.Find("tfoot").Text(), "€120.00")
	require.Contains(t, rec.Body.String(), `content="5; url=`+loc+`"`, "without JavaScript it reloads by GET")

	again := postForm(t, a, "/orders", form)
	require.Equal(t, http.StatusAccepted, again.Code)
	require.Equal(t, loc, again.Header().Get("Location"), "a double submit is the same order")
	require.Equal(t, 1, countRows(t, tx, "SELECT count(*) FROM orders WHERE idempotency_key = $1", key))
	require.Equal(t, 1, countRows(t, tx, `SELECT count(*) FROM river_job j JOIN orders o
		ON (j.args->>'order_id')::bigint = o.id WHERE o.idempotency_key = $1`, key))

	// Scripts get JSON and may send the key as a header.
	req := newFormRequest("/orders", orderForm("", p))
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Idempotency-Key", auth.RandomToken())
	req.RemoteAddr = clientAddr()
	rec = testenv.Do(a, req)
	require.Equal(t, http.StatusAccepted, rec.Code)
	var body map[string]string
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.Equal(t, "processing", body["status"])
	require.Equal(t, rec.Header().Get("Location"), body["status_url"])

	// The status page, and its invoice link before the invoice exists.
	status := get(t, a, loc)
	require.Equal(t, http.StatusOK, status.Code)
	require.Equal(t, "no-store", status.Header().Get("Cache-Control"))
	require.Equal(t, http.StatusNotFound, get(t, a, loc+"/invoice").Code)
	require.Equal(t, http.StatusNotFound, get(t, a, "/orders/NOSUCHTOKEN").Code)
}

// Bad orders get 422 with a message where it belongs, and nothing is
// written.
func TestOrderCreateRefusesBadInput(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t)
	p := newProduct(t, a, "Real Product", 10000)

	tests := []struct {
		name   string
		change func(url.Values)
		field  string
	}{
		{"NothingChosen", func(f url.Values) { f.Set("qty_"+itoa(p.ID), "0") }, "items"},
		{"ZeroEverywhere", func(f url.Values) { f.Del("qty_" + itoa(p.ID)) }, "items"},
		{"Absurd", func(f url.Values) { f.Set("qty_"+itoa(p.ID), "1000") }, "qty_" + itoa(p.ID)},
		{"Negative", func(f url.Values) { f.Set("qty_"+itoa(p.ID), "-2") }, "qty_" + itoa(p.ID)},
		{"NotANumber", func(f url.Values) { f.Set("qty_"+itoa(p.ID), "two") }, "qty_" + itoa(p.ID)},
		{"Fraction", func(f url.Values) { f.Set("qty_"+itoa(p.ID), "1.5") }, "qty_" + itoa(p.ID)},
		{"UnknownProduct", func(f url.Values) { f.Set("qty_999999999", "1"); f.Set("price_999999999", "1") }, "items"},
		{"TamperedPrice", func(f url.Values) { f.Set("price_"+itoa(p.ID), "1") }, "qty_" + itoa(p.ID)},
		{"NoName", func(f url.Values) { f.Set("name", "") }, "name"},
		{"BadEmail", func(f url.Values) { f.Set("email", "olga@") }, "email"},
		{"NoKey", func(f url.Values) { f.Del("idempotency_key") }, "items"},
		{"ZeroSpelledOddly", func(f url.Values) { f.Set("qty_"+itoa(p.ID), "00") }, "items"},
		{"SignedZero", func(f url.Values) { f.Set("qty_"+itoa(p.ID), "-0") }, "qty_" + itoa(p.ID)},
		{"Plus", func(f url.Values) { f.Set("qty_"+itoa(p.ID), "+5") }, "qty_" + itoa(p.ID)},
		{"SameProductTwice", func(f url.Values) {
			f.Set("qty_0"+itoa(p.ID), "100")
			f.Set("price_0"+itoa(p.ID), itoa(p.PriceMinor))
			f.Set("cur_0"+itoa(p.ID), "EUR")
		}, "items"},
		{"RepeatedField", func(f url.Values) { f.Add("qty_"+itoa(p.ID), "100") }, "items"},
		{"CurrencyChanged", func(f url.Values) { f.Set("cur_"+itoa(p.ID), "USD") }, "qty_" + itoa(p.ID)},
		{"NoCurrency", func(f url.Values) { f.Del("cur_" + itoa(p.ID)) }, "qty_" + itoa(p.ID)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := auth.RandomToken()
			f := orderForm(key, p)
			tt.change(f)
			rec := postForm(t, a, "/orders", f)
			require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
			d := doc(t, rec)
			if tt.field == "items" {
				require.NotEmpty(t, d.Find(`#order-form [role="alert"]`).Text())
			} else {
				require.NotEmpty(t, d.Find("#order-qty-"+strings.TrimPrefix(tt.field, "qty_")+"-error, #order-"+tt.field+"-error").Text())
			}
			require.Zero(t, countRows(t, tx, "SELECT count(*) FROM orders WHERE idempotency_key = $1", key))
		})
	}
}

// The same key sent again with another order is refused, with a new
// key in the form; a retry with the same order answers with the order
// even after its product left the catalogue. Scripts get JSON.
func TestOrderKeyReuse(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t)
	p := newProduct(t, a, "Keyed Product", 10000)
	key := auth.RandomToken()
	form := orderForm(key, p)
	first := postForm(t, a, "/orders", form)
	require.Equal(t, http.StatusAccepted, first.Code)

	other := orderForm(key, p)
	other.Set("email", "attacker@example.com")
	rec := postForm(t, a, "/orders", other)
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	d := doc(t, rec)
	require.Contains(t, d.Find(`#order-form [role="alert"]`).Text(), "already used for a different order")
	require.NotEqual(t, key, d.Find(`input[name="idempotency_key"]`).AttrOr("value", key))
	require.NotContains(t, rec.Body.String(), first.Header().Get("Location"), "no way into the first order")

	req := newFormRequest("/orders", other)
	req.Header.Set("Accept", "application/json")
	req.RemoteAddr = clientAddr()
	rec = testenv.Do(a, req)
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	require.Contains(t, rec.Body.String(), `"items":"This form was already used`)

	_, err := a.Store.ProductUpdate(context.Background(), store.Actor{}, p.ID, store.ProductInput{
		Name: p.Name, PriceMinor: 12000, Currency: "EUR", Active: false,
	})
	require.NoError(t, err)
	again := postForm(t, a, "/orders", form)
	require.Equal(t, http.StatusAccepted, again.Code)
	require.Equal(t, first.Header().Get("Location"), again.Header().Get("Location"))
	require.Equal(t, 1, countRows(t, tx, "SELECT count(*) FROM orders WHERE idempotency_key = $1", key))
}

// One address receives only so many orders an hour, wherever they come
// from: 429, with the message at the address.
func TestOrderEmailLimit(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t, "KEEL_ORDER_EMAIL_LIMIT=2")
	p := newProduct(t, a, "Mailed Product", 10000)
	email := testenv.Unique("victim") + "@example.com"
	place := func() *httptest.ResponseRecorder {
		f := orderForm(auth.RandomToken(), p)
		f.Set("email", email)
		return postForm(t, a, "/orders", f) // each from another client
	}
	require.Equal(t, http.StatusAccepted, place().Code)
	require.Equal(t, http.StatusAccepted, place().Code)
	rec := place()
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	require.Contains(t, doc(t, rec).Find("#order-email-error").Text(), "several orders in the last hour")
}

// One client may place only so many orders: past the limit it gets 429
// with the form, its typing kept, and nothing is written.
func TestOrderRateLimit(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t, "KEEL_ORDER_LIMIT=2")
	p := newProduct(t, a, "Limited Product", 10000)
	addr := clientAddr()
	place := func(key string) *httptest.ResponseRecorder {
		req := newFormRequest("/orders", orderForm(key, p))
		req.RemoteAddr = addr
		return testenv.Do(a, req)
	}
	require.Equal(t, http.StatusAccepted, place(auth.RandomToken()).Code)
	require.Equal(t, http.StatusAccepted, place(auth.RandomToken()).Code)

	key := auth.RandomToken()
	rec := place(key)
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	require.NotEmpty(t, rec.Header().Get("Retry-After"))
	d := doc(t, rec)
	require.Contains(t, d.Find(`#order-form [role="alert"]`).Text(), "several orders")
	require.Equal(t, "Olga Order", d.Find("#order-name").AttrOr("value", ""))
	require.Zero(t, countRows(t, tx, "SELECT count(*) FROM orders WHERE idempotency_key = $1", key))

	// Another client is not held back.
	require.Equal(t, http.StatusAccepted, postForm(t, a, "/orders", orderForm(auth.RandomToken(), p)).Code)
}

// The order's live stream sends its status at once and again when the
// order's job says it changed.
func TestOrderEvents(t *testing.T) {
	t.Parallel()
	a := testenv.NewApp(t, app.Options{Conn: testenv.Pool(t)})
	base := testenv.Serve(t, a)
	p := newProduct(t, a, "Streamed Product", 10000)
	rec := postForm(t, a, "/orders", orderForm(auth.RandomToken(), p))
	loc := rec.Header().Get("Location")
	token := strings.TrimPrefix(loc, "/orders/")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+loc+"/events", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	require.Equal(t, "no", resp.Header.Get("X-Accel-Buffering"))
	require.Empty(t, resp.Header.Get("Content-Encoding"), "streams are not compressed")

	events := testenv.ReadEvents(resp.Body)
	first := <-events
	require.Equal(t, "status", first.Name)
	require.Contains(t, first.Data, "Order received")

	// The order moves on (as its job would move it) and says so.
	o, err := a.Store.OrderGetByToken(ctx, token)
	require.NoError(t, err)
	_, err = a.Store.OrderNumber(ctx, o.ID)
	require.NoError(t, err)
	_, err = a.Store.OrderMarkInvoiced(ctx, o.ID, "invoices/test.pdf")
	require.NoError(t, err)

	second := <-events
	require.Contains(t, second.Data, "Download invoice")
}

// A browser's EventSource (Accept: text/event-stream) is served by the
// Fanout: the same events, no goroutine of its own, and the stream ends
// once the order is done. The server's shutdown tells it when to come
// back.
func TestOrderEventsFanout(t *testing.T) {
	t.Parallel()
	a := testenv.NewApp(t, app.Options{Conn: testenv.Pool(t)})
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	serveCtx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(serveCtx, ln) }()
	base := "http://" + ln.Addr().String()
	p := newProduct(t, a, "Fanned Product", 10000)

	open := func(loc string) <-chan sseEvent {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, base+loc+"/events", nil)
		require.NoError(t, err)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { _ = resp.Body.Close() })
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
		require.Equal(t, "no", resp.Header.Get("X-Accel-Buffering"))
		require.NotEmpty(t, resp.Header.Get("Content-Security-Policy"), "the middleware's headers are kept")
		return testenv.ReadEvents(resp.Body)
	}
	place := func() (string, store.Order) {
		rec := postForm(t, a, "/orders", orderForm(auth.RandomToken(), p))
		loc := rec.Header().Get("Location")
		o, err := a.Store.OrderGetByToken(context.Background(), strings.TrimPrefix(loc, "/orders/"))
		require.NoError(t, err)
		return loc, o
	}

	loc, o := place()
	events := open(loc)
	require.Contains(t, (<-events).Data, "Order received")
	require.Equal(t, 1, a.Fanout.Len())

	ctx := context.Background()
	_, err = a.Store.OrderNumber(ctx, o.ID)
	require.NoError(t, err)
	_, err = a.Store.OrderMarkInvoiced(ctx, o.ID, "invoices/test.pdf")
	require.NoError(t, err)
	require.Contains(t, (<-events).Data, "Download invoice")
	_, err = a.Store.OrderMarkEmailed(ctx, o.ID)
	require.NoError(t, err)
	require.Contains(t, (<-events).Data, "Confirmation sent")
	require.Equal(t, "done", (<-events).Name)
	_, open2 := <-events
	require.False(t, open2, "the stream ends with the order")
	require.Eventually(t, func() bool { return a.Fanout.Len() == 0 }, 5*time.Second, 10*time.Millisecond)

	loc, _ = place()
	events = open(loc)
	<-events
	stop()
	require.Equal(t, sseEvent{Name: "retry", Data: "3000"}, <-events)
	require.NoError(t, <-served)
}

// Staff see orders by permission; resend and regenerate are audited.
func TestAdminOrders(t *testing.T) {
	t.Parallel()
	// The job history is read through River on the pool: this test
	// commits.
	a := testenv.NewApp(t, app.Options{Conn: testenv.Pool(t)})
	tx := testenv.Tx(t)
	p := newProduct(t, a, "Admin Product", 10000)
	rec := postForm(t, a, "/orders", orderForm(auth.RandomToken(), p))
	o, err := a.Store.OrderGetByToken(context.Background(), strings.TrimPrefix(rec.Header().Get("Location"), "/orders/"))
	require.NoError(t, err)
	_, err = a.Store.OrderNumber(context.Background(), o.ID)
	require.NoError(t, err)

	support, _ := signedIn(t, a, auth.RoleSupport)
	require.Equal(t, http.StatusOK, support.Get("/admin/orders").Code)
	d := doc(t, support.Get("/admin/orders/"+itoa(o.ID)))
	require.Contains(t, d.Find("#jobs-title").Parent().Text(), "process_order")
	require.Equal(t, 0, d.Find(`form[action$="/resend"]`).Length(), "support reads only")
	require.Equal(t, http.StatusForbidden, support.Post("/admin/orders/"+itoa(o.ID)+"/resend", nil).Code)

	admin, _ := signedIn(t, a, auth.RoleAdmin)
	key := doc(t, admin.Get("/admin/orders/"+itoa(o.ID))).Find(`input[name="resend_key"]`).AttrOr("value", "")
	require.NotEmpty(t, key)
	resend := url.Values{"resend_key": {key}}
	require.Equal(t, http.StatusSeeOther, admin.Post("/admin/orders/"+itoa(o.ID)+"/resend", resend).Code)
	require.Equal(t, http.StatusSeeOther, admin.Post("/admin/orders/"+itoa(o.ID)+"/resend", resend).Code, "a double click")
	require.Equal(t, http.StatusBadRequest, admin.Post("/admin/orders/"+itoa(o.ID)+"/resend", nil).Code)
	require.Equal(t, http.StatusSeeOther, admin.Post("/admin/orders/"+itoa(o.ID)+"/regenerate", nil).Code)
	require.Equal(t, 1, countRows(t, tx, "SELECT count(*) FROM audit_log WHERE action = 'order.email_resent' AND target_id = $1", itoa(o.ID)))
	require.Equal(t, 1, countRows(t, tx, "SELECT count(*) FROM emails WHERE dedupe_key LIKE $1", "order_confirmation:"+itoa(o.ID)+":resend:%"))
	require.Equal(t, 1, countRows(t, tx, "SELECT count(*) FROM audit_log WHERE action = 'order.invoice_regenerated' AND target_id = $1", itoa(o.ID)))
	require.Equal(t, http.StatusBadRequest, admin.Get("/admin/orders?status=lost").Code)
	require.Equal(t, http.StatusNotFound, admin.Get("/admin/orders/999999999").Code)
}

// Staff manage the catalogue; a price change reaches the public pages
// at once, through the cache.
func TestCatalogueAdmin(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t)
	admin, _ := signedIn(t, a, auth.RoleAdmin)
	sku := "CAT-" + strings.ToUpper(testenv.Unique("")[1:])

	rec := admin.Post("/admin/products", url.Values{"sku": {"bad sku"}, "name": {""}, "price": {"-3"}, "currency": {"euro"}})
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	for _, id := range []string{"product-sku", "product-name", "product-price", "product-currency"} {
		require.NotEmpty(t, doc(t, rec).Find("#"+id+"-error").Text(), id)
	}

	rec = admin.Post("/admin/products", url.Values{"sku": {sku}, "name": {"Catalogue Test"}, "price": {"99.50"}, "currency": {"EUR"}, "active": {"on"}})
	require.Equal(t, http.StatusSeeOther, rec.Code)
	require.Contains(t, doc(t, get(t, a, "/catalogue/"+sku)).Find(".price").Text(), "€99.50")
	require.Contains(t, doc(t, get(t, a, "/catalogue")).Text(), "Catalogue Test")

	rec = admin.Post(rec.Header().Get("Location"), url.Values{"name": {"Catalogue Test"}, "price": {"120"}, "currency": {"USD"}})
	require.Equal(t, http.StatusSeeOther, rec.Code)
	require.Equal(t, http.StatusNotFound, get(t, a, "/catalogue/"+sku).Code, "withdrawn at once")
	require.Equal(t, 1, countRows(t, tx, `SELECT count(*) FROM audit_log WHERE action = 'product.updated'
		AND detail->'currency'->>'from' = 'EUR' AND detail->'currency'->>'to' = 'USD'
		AND detail->'price_minor'->>'to' = '12000' AND detail->'active'->>'to' = 'false'
		AND NOT detail ? 'name'`), "every change audited, and only changes")
	require.NotContains(t, doc(t, get(t, a, "/catalogue")).Text(), "Catalogue Test")

	support, _ := signedIn(t, a, auth.RoleSupport)
	require.Equal(t, http.StatusForbidden, support.Get("/admin/products").Code)
}
