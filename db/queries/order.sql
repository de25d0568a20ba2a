-- name: OrderEmailLock :exec
-- Taken before OrderInsert: orders to one address are counted one after
-- the other.
SELECT pg_advisory_xact_lock(hashtextextended(lower(@email::text), 0));

-- name: OrderInsert :one
-- Inserts nothing and returns no row when the idempotency key was used
-- before (the caller then reads that order), or when the address has
-- had email_limit orders in the last hour.
INSERT INTO orders (token, idempotency_key, request_hash, name, email, notes, currency,
                    subtotal_minor, tax_rate_bp, tax_minor, total_minor)
SELECT @token, @idempotency_key, @request_hash, @name, @email, @notes, @currency,
       @subtotal_minor, @tax_rate_bp, @tax_minor, @total_minor
WHERE (SELECT count(*) FROM orders
       WHERE lower(email) = lower(@email) AND created_at > now() - interval '1 hour') < @email_limit::bigint
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING *;

-- name: OrderItemInsert :exec
INSERT INTO order_items (order_id, line, product_id, sku, name, unit_price_minor, quantity, line_total_minor)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8);

-- name: OrderGetByID :one
SELECT * FROM orders WHERE id = $1;

-- name: OrderGetForUpdate :one
SELECT * FROM orders WHERE id = $1 FOR UPDATE;

-- name: OrderGetByToken :one
SELECT * FROM orders WHERE token = $1;

-- name: OrderGetByIdempotencyKey :one
SELECT * FROM orders WHERE idempotency_key = $1;

-- name: OrderItems :many
SELECT * FROM order_items WHERE order_id = $1 ORDER BY line;

-- name: InvoiceNumberNext :one
-- Takes the next number of a year; the row lock makes concurrent takers
-- queue, and a rolled-back transaction gives its number back.
INSERT INTO invoice_counters (year, last) VALUES ($1, 1)
ON CONFLICT (year) DO UPDATE SET last = invoice_counters.last + 1
RETURNING last;

-- name: OrderSetInvoiceNumber :one
UPDATE orders SET invoice_year = $2, invoice_seq = $3, updated_at = now()
WHERE id = $1
RETURNING *;

-- name: OrderMarkInvoiced :one
UPDATE orders
SET invoice_key = $2, invoiced_at = coalesce(invoiced_at, now()),
    status = CASE WHEN status = 'processing' THEN 'invoiced' ELSE status END,
    updated_at = now()
WHERE id = $1
RETURNING *;

-- name: OrderMarkEmailed :one
UPDATE orders SET status = 'emailed', emailed_at = coalesce(emailed_at, now()), updated_at = now()
WHERE id = $1
RETURNING *;

-- name: OrderMarkStaffNotified :exec
UPDATE orders SET staff_notified_at = coalesce(staff_notified_at, now()) WHERE id = $1;

-- name: OrderList :many
SELECT * FROM orders
WHERE (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
  AND (sqlc.narg(after_at)::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg(after_at)::timestamptz, sqlc.narg(after_id)::bigint))
ORDER BY created_at DESC, id DESC
LIMIT sqlc.arg(row_limit);

-- name: EmailEnsure :one
-- Records an email unless one with this dedupe key exists, and returns
-- whichever is there.
WITH inserted AS (
    INSERT INTO emails (dedupe_key, kind, recipient, subject, body_text, body_html, sensitive)
    VALUES ($1, $2, $3, $4, $5, $6, false)
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING *
)
SELECT * FROM inserted
UNION ALL
SELECT * FROM emails WHERE dedupe_key = $1 AND NOT EXISTS (SELECT 1 FROM inserted);
