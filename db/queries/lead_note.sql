-- name: LeadNoteCreate :one
INSERT INTO lead_notes (lead_id, author_id, body) VALUES ($1, $2, $3) RETURNING *;

-- name: LeadNoteList :many
-- The newest notes, at most row_limit, oldest of them first.
SELECT * FROM (
    SELECT n.*, u.name AS author_name
    FROM lead_notes n JOIN users u ON u.id = n.author_id
    WHERE n.lead_id = sqlc.arg(lead_id)
    ORDER BY n.created_at DESC, n.id DESC
    LIMIT sqlc.arg(row_limit)
) newest ORDER BY created_at, id;

-- name: LeadNoteMove :exec
UPDATE lead_notes SET lead_id = sqlc.arg(survivor) WHERE lead_id = sqlc.arg(merged);

-- name: LeadEventCreate :exec
INSERT INTO lead_events (lead_id, actor_id, kind, detail) VALUES ($1, $2, $3, $4);

-- name: LeadEventList :many
-- The newest events, at most row_limit, oldest of them first.
SELECT * FROM (
    SELECT e.*, coalesce(u.name, '') AS actor_name
    FROM lead_events e LEFT JOIN users u ON u.id = e.actor_id
    WHERE e.lead_id = sqlc.arg(lead_id)
    ORDER BY e.at DESC, e.id DESC
    LIMIT sqlc.arg(row_limit)
) newest ORDER BY at, id;

-- name: LeadEventMove :exec
UPDATE lead_events SET lead_id = sqlc.arg(survivor) WHERE lead_id = sqlc.arg(merged);

-- name: LeadEventRecent :many
SELECT e.*, coalesce(u.name, '') AS actor_name, l.name AS lead_name
FROM lead_events e
JOIN leads l ON l.id = e.lead_id
LEFT JOIN users u ON u.id = e.actor_id
ORDER BY e.at DESC, e.id DESC
LIMIT $1;
