-- name: ProductCreate :one
INSERT INTO products (sku, name, description, price_minor, currency, active, image_url)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING *;

-- name: ProductUpdate :one
UPDATE products
SET name = $2, description = $3, price_minor = $4, currency = $5, active = $6, image_url = $7,
    updated_at = now()
WHERE id = $1
RETURNING *;

-- name: ProductGetByID :one
SELECT * FROM products WHERE id = $1;

-- name: ProductGetBySKU :one
SELECT * FROM products WHERE sku = $1;

-- name: ProductListActive :many
SELECT * FROM products WHERE active ORDER BY lower(name), id LIMIT 200;

-- name: ProductListAll :many
SELECT * FROM products ORDER BY lower(name), id LIMIT 500;

-- name: ProductListByIDs :many
SELECT * FROM products WHERE id = ANY(sqlc.arg(ids)::bigint[]);

-- name: ProductSeed :exec
INSERT INTO products (sku, name, description, price_minor, currency)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (sku) DO NOTHING;
