-- name: EmailCreate :one
INSERT INTO emails (dedupe_key, kind, recipient, subject, body_text, body_html, sensitive)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING *;

-- name: EmailGetByID :one
SELECT * FROM emails WHERE id = $1;

-- name: EmailGetForSend :one
-- Locks the row so two workers holding the same job cannot both send it.
SELECT * FROM emails WHERE id = $1 FOR UPDATE;

-- name: EmailMarkSent :exec
UPDATE emails
SET status = 'sent', sent_at = now(), attempts = attempts + 1, last_error = '',
    body_text = CASE WHEN sensitive THEN '(removed after sending: it held a password link)' ELSE body_text END,
    body_html = CASE WHEN sensitive THEN '' ELSE body_html END
WHERE id = $1;

-- name: EmailMarkFailed :exec
UPDATE emails
SET status = 'failed', attempts = attempts + 1, last_error = $2
WHERE id = $1 AND status <> 'sent';

-- name: EmailMarkSettled :exec
-- Ends an email that will not be sent again: 'uncertain' or 'rejected'.
UPDATE emails
SET status = @status, attempts = attempts + 1, last_error = @last_error
WHERE id = @id AND status <> 'sent';

-- name: EmailListByRecipient :many
SELECT * FROM emails WHERE recipient = $1 ORDER BY id DESC LIMIT $2;
