-- name: MediaCreate :one
INSERT INTO media (key, filename, content_type, size_bytes, uploaded_by)
VALUES (@key, @filename, @content_type, @size_bytes, sqlc.narg('uploaded_by'))
RETURNING *;

-- name: MediaGetByID :one
SELECT * FROM media WHERE id = $1;

-- name: MediaGetForUpdate :one
SELECT * FROM media WHERE id = $1 FOR UPDATE;

-- name: MediaMarkReady :one
UPDATE media SET status = 'ready', confirmed_at = now() WHERE id = $1 RETURNING *;

-- name: MediaDelete :execrows
DELETE FROM media WHERE id = $1;

-- name: MediaListReady :many
SELECT * FROM media WHERE status = 'ready'
ORDER BY created_at DESC, id DESC
LIMIT $1;

-- name: MediaListByKeys :many
SELECT * FROM media WHERE key = ANY(@keys::text[]) AND status = 'ready';

-- name: MediaUsage :many
-- The posts that use each of the given media.
SELECT pm.media_id, p.id AS post_id, p.title
FROM post_media pm JOIN posts p ON p.id = pm.post_id
WHERE pm.media_id = ANY(@ids::bigint[])
ORDER BY p.title;

-- name: MediaStalePending :many
-- Uploads asked for and never confirmed.
SELECT * FROM media WHERE status = 'pending' AND created_at < @before
ORDER BY id LIMIT 500;
