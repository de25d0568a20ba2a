package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"keel/auth"
	"keel/store"
	"keel/testenv"
)

// products creates two products in EUR and one in GBP.
func products(t *testing.T, s *store.Store) (store.Product, store.Product, store.Product) {
	t.Helper()
	mk := func(name string, price int64, cur string) store.Product {
		p, err := s.ProductCreate(context.Background(), store.Actor{}, store.ProductInput{
			SKU: "T-" + testenv.Unique("")[1:], Name: name, PriceMinor: price, Currency: cur, Active: true,
		})
		require.NoError(t, err)
		return p
	}
	return mk("Audit", 49000, "EUR"), mk("Care", 15000, "EUR"), mk("Pounds", 1000, "GBP")
}

func orderRequest(items ...store.OrderItemRequest) store.OrderRequest {
	return store.OrderRequest{
		IdempotencyKey: auth.RandomToken(), Token: auth.RandomToken(),
		Name: "Olga Order", Email: "olga@example.com", TaxRateBP: 2000, Items: items,
	}
}

func countIn(t *testing.T, tx pgx.Tx, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, tx.QueryRow(context.Background(), query, args...).Scan(&n))
	return n
}

func TestOrderCreatePricesFromCatalogue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tx := newStore(t)
	audit, care, _ := products(t, s)

	o, created, err := s.OrderCreate(ctx, orderRequest(
		store.OrderItemRequest{ProductID: audit.ID, Quantity: 1, PriceSeen: 49000, CurrencySeen: "EUR"},
		store.OrderItemRequest{ProductID: care.ID, Quantity: 3, PriceSeen: 15000, CurrencySeen: "EUR"},
	))
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, int64(94000), o.SubtotalMinor)
	require.Equal(t, int64(18800), o.TaxMinor)
	require.Equal(t, int64(112800), o.TotalMinor)
	require.Equal(t, store.OrderProcessing, o.Status)
	require.Len(t, o.Lines, 2)
	require.Equal(t, int64(45000), o.Lines[1].LineTotalMinor)
	require.Equal(t, 1, countIn(t, tx, `SELECT count(*) FROM river_job
		WHERE kind = 'process_order' AND (args->>'order_id')::bigint = $1`, o.ID), "its job, in the same transaction")
}

// The same idempotency key again is the same order: nothing new is
// written or queued.
func TestOrderCreateIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tx := newStore(t)
	audit, _, _ := products(t, s)
	req := orderRequest(store.OrderItemRequest{ProductID: audit.ID, Quantity: 1, PriceSeen: 49000, CurrencySeen: "EUR"})

	first, created, err := s.OrderCreate(ctx, req)
	require.NoError(t, err)
	require.True(t, created)
	req.Token = auth.RandomToken() // a retry computes a new token; the first one stands
	again, created, err := s.OrderCreate(ctx, req)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, first.ID, again.ID)
	require.Equal(t, first.Token, again.Token)
	require.Equal(t, 1, countIn(t, tx, "SELECT count(*) FROM orders WHERE idempotency_key = $1", req.IdempotencyKey))
	require.Equal(t, 1, countIn(t, tx, `SELECT count(*) FROM river_job
		WHERE kind = 'process_order' AND (args->>'order_id')::bigint = $1`, first.ID))
}

// A retry of an order already placed is that order even after the
// catalogue changed; the same key for another order is refused.
func TestOrderCreateRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tx := newStore(t)
	audit, _, _ := products(t, s)
	req := orderRequest(store.OrderItemRequest{ProductID: audit.ID, Quantity: 1, PriceSeen: 49000, CurrencySeen: "EUR"})
	first, _, err := s.OrderCreate(ctx, req)
	require.NoError(t, err)

	_, err = s.ProductUpdate(ctx, store.Actor{}, audit.ID, store.ProductInput{
		Name: audit.Name, PriceMinor: 50000, Currency: "EUR", Active: false,
	})
	require.NoError(t, err)
	again, created, err := s.OrderCreate(ctx, req)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, first.ID, again.ID)

	other := req
	other.Items = []store.OrderItemRequest{{ProductID: audit.ID, Quantity: 2, PriceSeen: 49000, CurrencySeen: "EUR"}}
	_, _, err = s.OrderCreate(ctx, other)
	require.ErrorIs(t, err, store.ErrIdempotencyConflict)
	other = req
	other.Email = "someone-else@example.com"
	_, _, err = s.OrderCreate(ctx, other)
	require.ErrorIs(t, err, store.ErrIdempotencyConflict)
	require.Equal(t, 1, countIn(t, tx, "SELECT count(*) FROM orders WHERE idempotency_key = $1", req.IdempotencyKey))
}

// One address receives at most EmailLimit orders an hour, whatever the
// case of its letters; a retry of one of them still answers.
func TestOrderCreateLimitsOrdersPerAddress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tx := newStore(t)
	audit, _, _ := products(t, s)
	email := testenv.Unique("limited") + "@example.com"
	place := func(address string) (store.OrderRequest, error) {
		req := orderRequest(store.OrderItemRequest{ProductID: audit.ID, Quantity: 1, PriceSeen: 49000, CurrencySeen: "EUR"})
		req.Email, req.EmailLimit = address, 2
		_, _, err := s.OrderCreate(ctx, req)
		return req, err
	}
	first, err := place(email)
	require.NoError(t, err)
	_, err = place(strings.ToUpper(email))
	require.NoError(t, err)
	refused, err := place(email)
	require.ErrorIs(t, err, store.ErrOrderLimit)
	require.Zero(t, countIn(t, tx, "SELECT count(*) FROM orders WHERE idempotency_key = $1", refused.IdempotencyKey))

	_, created, err := s.OrderCreate(ctx, first)
	require.NoError(t, err, "a retry is not a new order")
	require.False(t, created)
	_, err = place("someone-else-" + email)
	require.NoError(t, err)
}

// A line the catalogue does not back refuses the whole order.
func TestOrderCreateRefusesBadLines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tx := newStore(t)
	audit, care, pounds := products(t, s)
	_, err := s.ProductUpdate(ctx, store.Actor{}, care.ID, store.ProductInput{
		Name: care.Name, PriceMinor: care.PriceMinor, Currency: care.Currency, Active: false,
	})
	require.NoError(t, err)
	good := store.OrderItemRequest{ProductID: audit.ID, Quantity: 1, PriceSeen: 49000, CurrencySeen: "EUR"}

	for name, bad := range map[string]store.OrderItemRequest{
		"Unknown":   {ProductID: 999999999, Quantity: 1, PriceSeen: 1, CurrencySeen: "EUR"},
		"Withdrawn": {ProductID: care.ID, Quantity: 1, PriceSeen: 15000, CurrencySeen: "EUR"},
		"Tampered":  {ProductID: audit.ID, Quantity: 1, PriceSeen: 1, CurrencySeen: "EUR"},
		"Mixed":     {ProductID: pounds.ID, Quantity: 1, PriceSeen: 1000, CurrencySeen: "GBP"},
		"Currency":  {ProductID: pounds.ID, Quantity: 1, PriceSeen: 1000, CurrencySeen: "EUR"},
	} {
		req := orderRequest(good, bad)
		_, _, err := s.OrderCreate(ctx, req)
		var itemErr *store.OrderItemError
		require.ErrorAs(t, err, &itemErr, name)
		require.Equal(t, bad.ProductID, itemErr.ProductID, name)
		require.Zero(t, countIn(t, tx, "SELECT count(*) FROM orders WHERE idempotency_key = $1", req.IdempotencyKey), name)
	}
}

// Invoice numbers are taken once per order and without gaps, however
// many workers number orders at once.
func TestOrderNumbersAreGapless(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.Pool(t)
	s := store.New(pool, noJobs{})
	audit, _, _ := products(t, s)

	var ids []int64
	for range 20 {
		o, _, err := s.OrderCreate(ctx, orderRequest(store.OrderItemRequest{ProductID: audit.ID, Quantity: 1, PriceSeen: 49000, CurrencySeen: "EUR"}))
		require.NoError(t, err)
		ids = append(ids, o.ID)
	}

	var mu sync.Mutex
	numbers := map[int64]int32{}
	var wg sync.WaitGroup
	for _, id := range ids {
		for range 2 { // each order numbered twice, concurrently
			wg.Go(func() {
				o, err := s.OrderNumber(ctx, id)
				require.NoError(t, err)
				mu.Lock()
				defer mu.Unlock()
				if prev, ok := numbers[id]; ok {
					require.Equal(t, prev, o.InvoiceSeq, "an order keeps its number")
				}
				numbers[id] = o.InvoiceSeq
			})
		}
	}
	wg.Wait()

	seen := map[int32]bool{}
	lo, hi := int32(1<<30), int32(0)
	for _, n := range numbers {
		require.False(t, seen[n], "number %d given twice", n)
		seen[n] = true
		lo, hi = min(lo, n), max(hi, n)
	}
	// Other tests number orders too; ours must be among contiguous ones,
	// with every number between ours taken by some order.
	var gaps int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM generate_series($1::int, $2::int) AS n
		WHERE NOT EXISTS (SELECT 1 FROM orders WHERE invoice_seq = n)`, lo, hi).Scan(&gaps))
	require.Zero(t, gaps)
}
