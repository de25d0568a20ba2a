-- +goose Up
-- Duplicate matching, refined: an email matches without its +tag, and a
-- phone by its last nine digits (so "020 7946 0001" and "+44 20 7946
-- 0001" match), only when it has at least seven.
DROP INDEX leads_email_norm_idx;
DROP INDEX leads_phone_norm_idx;
ALTER TABLE leads DROP COLUMN email_norm, DROP COLUMN phone_norm;
ALTER TABLE leads
    ADD COLUMN email_norm text NOT NULL
        GENERATED ALWAYS AS (lower(btrim(regexp_replace(email, '\+[^@]*@', '@')))) STORED,
    ADD COLUMN phone_norm text NOT NULL
        GENERATED ALWAYS AS (CASE WHEN length(regexp_replace(phone, '[^0-9]', '', 'g')) >= 7
                                  THEN right(regexp_replace(phone, '[^0-9]', '', 'g'), 9)
                                  ELSE '' END) STORED;
CREATE INDEX leads_email_norm_idx ON leads (email_norm);
CREATE INDEX leads_phone_norm_idx ON leads (phone_norm) WHERE phone_norm <> '';

-- +goose Down
DROP INDEX leads_email_norm_idx;
DROP INDEX leads_phone_norm_idx;
ALTER TABLE leads DROP COLUMN email_norm, DROP COLUMN phone_norm;
ALTER TABLE leads
    ADD COLUMN email_norm text NOT NULL GENERATED ALWAYS AS (lower(btrim(email))) STORED,
    ADD COLUMN phone_norm text NOT NULL GENERATED ALWAYS AS (regexp_replace(phone, '[^0-9]', '', 'g')) STORED;
CREATE INDEX leads_email_norm_idx ON leads (email_norm);
CREATE INDEX leads_phone_norm_idx ON leads (phone_norm) WHERE phone_norm <> '';
