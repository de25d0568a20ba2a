-- +goose Up
CREATE EXTENSION IF NOT EXISTS pg_trgm;

ALTER TABLE leads
    ADD COLUMN owner_id    bigint REFERENCES users (id),
    -- Normalised contact details, for finding duplicates.
    ADD COLUMN email_norm  text NOT NULL GENERATED ALWAYS AS (lower(btrim(email))) STORED,
    ADD COLUMN phone_norm  text NOT NULL GENERATED ALWAYS AS (regexp_replace(phone, '[^0-9]', '', 'g')) STORED,
    -- The earliest other lead with the same email or phone when this one
    -- arrived; staff may merge the two.
    ADD COLUMN duplicate_of bigint REFERENCES leads (id),
    -- Set when this lead was merged into another; merged leads leave the
    -- list, their notes and timeline move to the survivor.
    ADD COLUMN merged_into bigint REFERENCES leads (id),
    -- What search matches: name, email and company, lower-cased.
    ADD COLUMN search_text text NOT NULL
        GENERATED ALWAYS AS (lower(name || ' ' || email || ' ' || company)) STORED;

-- The list: newest first, optionally one status or one owner, paged by
-- (created_at, id). Merged leads are never listed.
DROP INDEX leads_created_at_id_idx;
CREATE INDEX leads_list_idx ON leads (created_at DESC, id DESC) WHERE merged_into IS NULL;
CREATE INDEX leads_status_list_idx ON leads (status, created_at DESC, id DESC) WHERE merged_into IS NULL;
CREATE INDEX leads_owner_list_idx ON leads (owner_id, created_at DESC, id DESC) WHERE merged_into IS NULL;
CREATE INDEX leads_name_list_idx ON leads (lower(name), id) WHERE merged_into IS NULL;
-- Duplicate checks and "this person's open leads" look up by email and
-- status together.
CREATE INDEX leads_email_status_idx ON leads (email, status);
CREATE INDEX leads_email_norm_idx ON leads (email_norm);
CREATE INDEX leads_phone_norm_idx ON leads (phone_norm) WHERE phone_norm <> '';
CREATE INDEX leads_search_idx ON leads USING gin (search_text gin_trgm_ops);

CREATE TABLE lead_notes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lead_id    bigint      NOT NULL REFERENCES leads (id),
    author_id  bigint      NOT NULL REFERENCES users (id),
    body       text        NOT NULL CHECK (length(body) BETWEEN 1 AND 5000),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX lead_notes_lead_idx ON lead_notes (lead_id, created_at);

-- Every change to a lead, with who made it: the lead's timeline.
CREATE TABLE lead_events (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lead_id  bigint      NOT NULL REFERENCES leads (id),
    actor_id bigint      REFERENCES users (id),
    kind     text        NOT NULL CHECK (kind IN ('created', 'status', 'owner', 'note', 'merge')),
    detail   jsonb       NOT NULL DEFAULT '{}',
    at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX lead_events_lead_idx ON lead_events (lead_id, at, id);
CREATE INDEX lead_events_at_idx ON lead_events (at DESC, id DESC);

-- +goose Down
DROP TABLE lead_events;
DROP TABLE lead_notes;
DROP INDEX leads_search_idx, leads_phone_norm_idx, leads_email_norm_idx, leads_email_status_idx,
    leads_name_list_idx, leads_owner_list_idx, leads_status_list_idx, leads_list_idx;
ALTER TABLE leads DROP COLUMN search_text, DROP COLUMN merged_into, DROP COLUMN duplicate_of,
    DROP COLUMN phone_norm, DROP COLUMN email_norm, DROP COLUMN owner_id;
CREATE INDEX leads_created_at_id_idx ON leads (created_at DESC, id DESC);
