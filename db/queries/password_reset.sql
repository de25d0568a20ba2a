-- name: PasswordResetCreate :exec
INSERT INTO password_resets (token_hash, user_id, expires_at)
VALUES ($1, $2, $3);

-- name: PasswordResetGet :one
-- Locks the reset so two submits of the same link cannot both use it.
SELECT * FROM password_resets WHERE token_hash = $1 FOR UPDATE;

-- name: PasswordResetPeek :one
SELECT * FROM password_resets WHERE token_hash = $1;

-- name: PasswordResetMarkUsed :exec
UPDATE password_resets SET used_at = now() WHERE token_hash = $1;

-- name: PasswordResetExpireForUser :exec
-- A new link or a completed reset retires every other open link.
UPDATE password_resets SET used_at = now()
WHERE user_id = $1 AND used_at IS NULL;
