-- name: LeadCreate :one
-- duplicate_of points at the earliest lead with the same normalised
-- email or, failing that, the same phone (both normalised as the
-- generated columns are); a merged match stands for its survivor.
WITH input AS (
    SELECT lower(btrim(regexp_replace(sqlc.arg(email)::text, '\+[^@]*@', '@'))) AS email_norm,
           CASE WHEN length(regexp_replace(sqlc.arg(phone)::text, '[^0-9]', '', 'g')) >= 7
                THEN right(regexp_replace(sqlc.arg(phone)::text, '[^0-9]', '', 'g'), 9)
                ELSE '' END AS phone_norm
)
INSERT INTO leads (name, email, phone, company, message, source, owner_id, duplicate_of)
VALUES (
    sqlc.arg(name), sqlc.arg(email), sqlc.arg(phone), sqlc.arg(company), sqlc.arg(message),
    sqlc.arg(source), sqlc.narg(owner_id),
    (SELECT coalesce(d.merged_into, d.id) FROM leads d, input i
     WHERE d.email_norm = i.email_norm OR (i.phone_norm <> '' AND d.phone_norm = i.phone_norm)
     ORDER BY d.email_norm = i.email_norm DESC, d.id
     LIMIT 1)
)
RETURNING *;

-- name: LeadGetByID :one
SELECT * FROM leads WHERE id = $1;

-- name: LeadGetForUpdate :one
SELECT * FROM leads WHERE id = $1 FOR UPDATE;

-- name: LeadUpdateStatus :one
UPDATE leads SET status = $2, updated_at = now() WHERE id = $1 RETURNING *;

-- name: LeadUpdateOwner :one
UPDATE leads SET owner_id = $2, updated_at = now() WHERE id = $1 RETURNING *;

-- name: LeadMarkMerged :exec
-- Leads merged earlier into the merged one follow it to the survivor, so
-- merged_into always names a lead that is not itself merged.
UPDATE leads SET merged_into = sqlc.arg(survivor), duplicate_of = NULL, updated_at = now()
WHERE id = sqlc.arg(merged) OR merged_into = sqlc.arg(merged);

-- name: LeadRepointDuplicates :exec
-- Leads flagged as duplicates of a merged lead now point at the survivor.
UPDATE leads SET duplicate_of = sqlc.arg(survivor)
WHERE duplicate_of = sqlc.arg(merged) AND id <> sqlc.arg(survivor);

-- name: LeadClearDuplicate :exec
UPDATE leads SET duplicate_of = NULL WHERE id = $1 AND duplicate_of = sqlc.arg(merged);

-- name: LeadListNewest :many
-- Each filter is optional; custom plans (plan_cache_mode) let the
-- planner drop the absent ones and use the matching index.
SELECT * FROM leads
WHERE merged_into IS NULL
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
  AND (sqlc.narg(owner_id)::bigint IS NULL OR owner_id = sqlc.narg(owner_id))
  AND (NOT sqlc.arg(unassigned)::bool OR owner_id IS NULL)
  AND (sqlc.narg(since)::timestamptz IS NULL OR created_at >= sqlc.narg(since))
  AND (sqlc.narg(until)::timestamptz IS NULL OR created_at < sqlc.narg(until))
  AND (sqlc.narg(search)::text IS NULL OR search_text LIKE sqlc.narg(search))
  AND (sqlc.narg(after_at)::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg(after_at)::timestamptz, sqlc.narg(after_id)::bigint))
ORDER BY created_at DESC, id DESC
LIMIT sqlc.arg(row_limit);

-- name: LeadListOldest :many
SELECT * FROM leads
WHERE merged_into IS NULL
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
  AND (sqlc.narg(owner_id)::bigint IS NULL OR owner_id = sqlc.narg(owner_id))
  AND (NOT sqlc.arg(unassigned)::bool OR owner_id IS NULL)
  AND (sqlc.narg(since)::timestamptz IS NULL OR created_at >= sqlc.narg(since))
  AND (sqlc.narg(until)::timestamptz IS NULL OR created_at < sqlc.narg(until))
  AND (sqlc.narg(search)::text IS NULL OR search_text LIKE sqlc.narg(search))
  AND (sqlc.narg(after_at)::timestamptz IS NULL
       OR (created_at, id) > (sqlc.narg(after_at)::timestamptz, sqlc.narg(after_id)::bigint))
ORDER BY created_at, id
LIMIT sqlc.arg(row_limit);

-- name: LeadListByName :many
SELECT * FROM leads
WHERE merged_into IS NULL
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
  AND (sqlc.narg(owner_id)::bigint IS NULL OR owner_id = sqlc.narg(owner_id))
  AND (NOT sqlc.arg(unassigned)::bool OR owner_id IS NULL)
  AND (sqlc.narg(since)::timestamptz IS NULL OR created_at >= sqlc.narg(since))
  AND (sqlc.narg(until)::timestamptz IS NULL OR created_at < sqlc.narg(until))
  AND (sqlc.narg(search)::text IS NULL OR search_text LIKE sqlc.narg(search))
  AND (sqlc.narg(after_name)::text IS NULL
       OR (lower(name), id) > (sqlc.narg(after_name)::text, sqlc.narg(after_id)::bigint))
ORDER BY lower(name), id
LIMIT sqlc.arg(row_limit);

-- name: LeadFindByEmailStatus :many
-- The (email, status) lookup: a person's leads in one state.
SELECT * FROM leads WHERE email = $1 AND status = $2 ORDER BY id LIMIT 100;

-- name: LeadCountByStatus :many
SELECT status, count(*) AS n FROM leads WHERE merged_into IS NULL GROUP BY status;

-- name: LeadNewPerDay :many
SELECT date_trunc('day', created_at, 'UTC')::timestamptz AS day, count(*) AS n
FROM leads
WHERE merged_into IS NULL AND created_at >= sqlc.arg(since)
GROUP BY 1 ORDER BY 1;

-- name: LeadSeed :exec
-- Inserts a demo lead unless one with the same email came from the seed.
INSERT INTO leads (name, email, phone, company, message, source, status, created_at)
SELECT $1, $2, $3, $4, $5, 'seed', $6, $7
WHERE NOT EXISTS (
    SELECT 1 FROM leads WHERE source = 'seed' AND email = $2
);

-- name: LeadCopy :copyfrom
INSERT INTO leads (name, email, phone, company, message, source, status, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);
