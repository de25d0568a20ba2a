-- +goose Up
-- Every email Keel sends is a row here before it is handed to SMTP. The
-- row is written in the same transaction as the change that causes it,
-- and the job that sends it marks it sent: so staff see what went out,
-- and a retried job never sends a row twice.
CREATE TABLE emails (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- dedupe_key names the business event ("contact_ack:lead:42"), so the
    -- same event can never queue a second email.
    dedupe_key  text        NOT NULL UNIQUE,
    kind        text        NOT NULL,
    recipient   text        NOT NULL,
    subject     text        NOT NULL,
    body_text   text        NOT NULL,
    body_html   text        NOT NULL DEFAULT '',
    status      text        NOT NULL DEFAULT 'queued'
                -- uncertain: the server had the whole message and its answer
                -- never came; rejected: refused for good. Neither is sent
                -- again by a retry.
                CHECK (status IN ('queued', 'sent', 'failed', 'uncertain', 'rejected')),
    attempts    integer     NOT NULL DEFAULT 0,
    last_error  text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);

CREATE INDEX emails_created_at_idx ON emails (created_at DESC);

-- +goose Down
DROP TABLE emails;
