-- name: PostCreate :one
INSERT INTO posts (slug, title, excerpt, body_md, body_html, cover_id, author_id)
VALUES (@slug, @title, @excerpt, @body_md, @body_html, sqlc.narg('cover_id'), @author_id)
RETURNING *;

-- name: PostUpdate :one
UPDATE posts
SET slug = @slug, title = @title, excerpt = @excerpt, body_md = @body_md, body_html = @body_html,
    cover_id = sqlc.narg('cover_id'), updated_at = now()
WHERE id = @id
RETURNING *;

-- name: PostSetStatus :one
UPDATE posts
SET status = @status, publish_at = sqlc.narg('publish_at'), publish_job = sqlc.narg('publish_job'), updated_at = now()
WHERE id = @id
RETURNING *;

-- name: PostGetByID :one
SELECT * FROM posts WHERE id = $1;

-- name: PostGetForUpdate :one
SELECT * FROM posts WHERE id = $1 FOR UPDATE;

-- name: PostGetBySlug :one
-- A post by any slug it has had; the caller redirects when the slug is
-- not the current one.
SELECT p.* FROM post_slugs s JOIN posts p ON p.id = s.post_id WHERE s.slug = $1;

-- name: PostDelete :execrows
DELETE FROM posts WHERE id = $1;

-- name: PostListAdmin :many
SELECT * FROM posts ORDER BY updated_at DESC, id DESC LIMIT $1;

-- name: PostListPublished :many
SELECT * FROM posts
WHERE status = 'published'
  AND (sqlc.narg('tag')::text IS NULL OR id IN (SELECT post_id FROM post_tags WHERE tag = sqlc.narg('tag')))
ORDER BY publish_at DESC, id DESC
LIMIT @row_limit OFFSET @row_offset;

-- name: PostCountPublished :one
SELECT count(*) FROM posts
WHERE status = 'published'
  AND (sqlc.narg('tag')::text IS NULL OR id IN (SELECT post_id FROM post_tags WHERE tag = sqlc.narg('tag')));

-- name: PostSlugClaim :one
-- Claims a slug for a post; returns the post that holds it, which is
-- another post when the slug is taken.
INSERT INTO post_slugs (slug, post_id) VALUES (@slug, @post_id)
ON CONFLICT (slug) DO UPDATE SET slug = EXCLUDED.slug
RETURNING post_id;

-- name: PostTagsDelete :exec
DELETE FROM post_tags WHERE post_id = $1;

-- name: PostTagAdd :exec
INSERT INTO post_tags (post_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING;

-- name: PostTags :many
SELECT post_id, tag FROM post_tags WHERE post_id = ANY(@ids::bigint[]) ORDER BY tag;

-- name: PostMediaDelete :exec
DELETE FROM post_media WHERE post_id = $1;

-- name: PostMediaAdd :exec
INSERT INTO post_media (post_id, media_id) VALUES ($1, $2) ON CONFLICT DO NOTHING;

-- name: PostRevisionAdd :exec
INSERT INTO post_revisions (post_id, title, excerpt, body_md, saved_by)
VALUES (@post_id, @title, @excerpt, @body_md, sqlc.narg('saved_by'));

-- name: PostRevisions :many
SELECT r.*, coalesce(u.name, '') AS saved_by_name
FROM post_revisions r LEFT JOIN users u ON u.id = r.saved_by
WHERE r.post_id = $1
ORDER BY r.id DESC
LIMIT 50;

-- name: PostRevisionGet :one
SELECT * FROM post_revisions WHERE id = $1 AND post_id = $2;

-- name: PostTagCloud :many
SELECT t.tag, count(*) AS posts
FROM post_tags t JOIN posts p ON p.id = t.post_id
WHERE p.status = 'published'
GROUP BY t.tag ORDER BY t.tag;

-- name: PostSitemap :many
SELECT slug, updated_at FROM posts WHERE status = 'published' ORDER BY publish_at DESC LIMIT 50000;

-- name: PostTagsPublished :many
-- The tags of published posts.
SELECT DISTINCT t.tag FROM post_tags t JOIN posts p ON p.id = t.post_id
WHERE p.status = 'published' ORDER BY t.tag;

-- name: PostRevisionLatest :one
-- The newest revision of a post: the save an edit starts from.
SELECT coalesce(max(id), 0)::bigint FROM post_revisions WHERE post_id = $1;
