-- +goose Up
-- The audit log is append-only: rows are inserted, never changed. The
-- trigger below refuses UPDATE and DELETE even to the table's owner,
-- which is the role Keel connects as.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    -- The actor is kept by id and by email: the email stays readable
    -- after the user is renamed, and a failed sign-in has no user.
    actor_id    bigint REFERENCES users (id),
    actor_email text        NOT NULL DEFAULT '',
    action      text        NOT NULL,
    target_type text        NOT NULL DEFAULT '',
    target_id   text        NOT NULL DEFAULT '',
    client_ip   text        NOT NULL DEFAULT '',
    detail      jsonb       NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_actor_email_at_idx ON audit_log (lower(actor_email), at DESC);
CREATE INDEX audit_log_action_at_idx ON audit_log (action, at DESC);

-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- +goose Down
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
