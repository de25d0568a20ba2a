-- +goose Up
-- A sensitive email (one carrying a password link) keeps its body only
-- until it is sent; then the body is replaced, so the link it carried
-- lives nowhere but in the recipient's mailbox.
ALTER TABLE emails ADD COLUMN sensitive boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE emails DROP COLUMN sensitive;
