-- +goose Up
CREATE TABLE leads (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email      text        NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    phone      text        NOT NULL DEFAULT '' CHECK (length(phone) <= 40),
    company    text        NOT NULL DEFAULT '' CHECK (length(company) <= 200),
    message    text        NOT NULL CHECK (length(message) <= 5000),
    source     text        NOT NULL CHECK (source IN ('contact_form', 'staff', 'seed', 'import')),
    status     text        NOT NULL DEFAULT 'NEW'
               CHECK (status IN ('NEW', 'CONTACTED', 'QUALIFIED', 'WON', 'LOST')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Staff read the newest leads first; the list pages by (created_at, id).
CREATE INDEX leads_created_at_id_idx ON leads (created_at DESC, id DESC);

-- +goose Down
DROP TABLE leads;
