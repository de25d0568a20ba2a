-- +goose Up
CREATE TABLE products (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku         text        NOT NULL UNIQUE CHECK (sku ~ '^[A-Z0-9][A-Z0-9-]{1,31}$'),
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text        NOT NULL DEFAULT '' CHECK (length(description) <= 5000),
    -- Prices in minor units (cents): integers, never floats.
    price_minor bigint      NOT NULL CHECK (price_minor BETWEEN 1 AND 100000000),
    currency    text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    active      boolean     NOT NULL DEFAULT true,
    image_url   text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX products_active_name_idx ON products (lower(name)) WHERE active;

CREATE TABLE orders (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The status page's address: unguessable, unlike the id.
    token           text        NOT NULL UNIQUE,
    -- Sent with the form; a second submit with the same key is the same
    -- order.
    idempotency_key text        NOT NULL UNIQUE,
    -- What the request asked for (a hash): the same key with another
    -- request is refused, not answered with this order.
    request_hash    text        NOT NULL,
    name            text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email           text        NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    notes           text        NOT NULL DEFAULT '' CHECK (length(notes) <= 2000),
    currency        text        NOT NULL,
    subtotal_minor  bigint      NOT NULL,
    tax_rate_bp     integer     NOT NULL, -- basis points: 2000 is 20%
    tax_minor       bigint      NOT NULL,
    total_minor     bigint      NOT NULL,
    status          text        NOT NULL DEFAULT 'processing'
                    CHECK (status IN ('processing', 'invoiced', 'emailed')),
    -- Invoice numbers are gapless per year: a number is taken only in
    -- the transaction that records it on the order.
    invoice_year    integer,
    invoice_seq     integer,
    invoice_key     text        NOT NULL DEFAULT '',
    invoiced_at     timestamptz,
    emailed_at      timestamptz,
    staff_notified_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (invoice_year, invoice_seq)
);

CREATE INDEX orders_created_idx ON orders (created_at DESC, id DESC);
-- Orders per recipient are limited (see store.OrderCreate).
CREATE INDEX orders_email_created_idx ON orders (lower(email), created_at);
CREATE INDEX orders_status_created_idx ON orders (status, created_at DESC, id DESC);

CREATE TABLE order_items (
    order_id         bigint  NOT NULL REFERENCES orders (id),
    line             integer NOT NULL,
    product_id       bigint  NOT NULL REFERENCES products (id),
    sku              text    NOT NULL,
    name             text    NOT NULL,
    unit_price_minor bigint  NOT NULL,
    quantity         integer NOT NULL CHECK (quantity BETWEEN 1 AND 100),
    line_total_minor bigint  NOT NULL,
    PRIMARY KEY (order_id, line)
);

CREATE TABLE invoice_counters (
    year integer PRIMARY KEY,
    last integer NOT NULL
);

-- +goose Down
DROP TABLE invoice_counters;
DROP TABLE order_items;
DROP TABLE orders;
DROP TABLE products;
