-- name: FortuneList :many
SELECT id, message FROM fortunes;
