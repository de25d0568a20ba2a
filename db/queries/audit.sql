-- name: AuditCreate :exec
INSERT INTO audit_log (actor_id, actor_email, action, target_type, target_id, client_ip, detail)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: AuditList :many
-- Newest first, paged by (at, id). Every filter is optional.
SELECT * FROM audit_log
WHERE (sqlc.narg(actor_email)::text IS NULL OR lower(actor_email) = lower(sqlc.narg(actor_email)))
  AND (sqlc.narg(action)::text IS NULL OR action = sqlc.narg(action))
  AND (sqlc.narg(since)::timestamptz IS NULL OR at >= sqlc.narg(since))
  AND (sqlc.narg(until)::timestamptz IS NULL OR at < sqlc.narg(until))
  AND (sqlc.narg(before_at)::timestamptz IS NULL
       OR (at, id) < (sqlc.narg(before_at)::timestamptz, sqlc.narg(before_id)::bigint))
ORDER BY at DESC, id DESC
LIMIT sqlc.arg(row_limit);

-- name: AuditActions :many
SELECT DISTINCT action FROM audit_log ORDER BY action;
