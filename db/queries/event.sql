-- name: EventInsert :one
-- Takes the events lock (held until commit) before the row gets its
-- id, so ids follow commit order: the FROM row is made first.
INSERT INTO events (topic, kind, permission, user_id, data)
SELECT @topic, @kind, @permission, sqlc.narg('user_id'), @data
FROM (SELECT pg_advisory_xact_lock(@lock_key::bigint)) AS locked
RETURNING *;

-- name: EventListAfter :many
SELECT * FROM events WHERE id > @after ORDER BY id LIMIT @row_limit;

-- name: EventLatestID :one
SELECT coalesce(max(id), 0)::bigint FROM events;

-- name: EventPrune :execrows
DELETE FROM events WHERE created_at < @before;

-- name: NotificationList :many
-- A user's staff events, newest first, with whether they are read.
SELECT e.*, EXISTS (
    SELECT 1 FROM notification_reads r WHERE r.user_id = @user_id AND r.event_id = e.id
)::boolean AS read
FROM events e
WHERE e.topic = 'staff'
  AND e.permission = ANY (@permissions::text[])
  AND (e.user_id IS NULL OR e.user_id = @user_id::bigint)
  AND e.id < @before
ORDER BY e.id DESC
LIMIT @row_limit;

-- name: NotificationListAfter :many
-- What a reconnecting stream missed, oldest first.
SELECT e.*
FROM events e
WHERE e.topic = 'staff'
  AND e.permission = ANY (@permissions::text[])
  AND (e.user_id IS NULL OR e.user_id = @user_id::bigint)
  AND e.id > @after AND e.id <= @upto
ORDER BY e.id
LIMIT @row_limit;

-- name: NotificationUnreadCount :one
SELECT count(*)
FROM events e
WHERE e.topic = 'staff'
  AND e.permission = ANY (@permissions::text[])
  AND (e.user_id IS NULL OR e.user_id = @user_id::bigint)
  AND NOT EXISTS (
    SELECT 1 FROM notification_reads r WHERE r.user_id = @user_id AND r.event_id = e.id
  );

-- name: NotificationMarkRead :execrows
INSERT INTO notification_reads (user_id, event_id)
SELECT @user_id, e.id
FROM events e
WHERE e.id = @id
  AND e.topic = 'staff'
  AND e.permission = ANY (@permissions::text[])
  AND (e.user_id IS NULL OR e.user_id = @user_id::bigint)
ON CONFLICT DO NOTHING;

-- name: NotificationMarkAllRead :execrows
INSERT INTO notification_reads (user_id, event_id)
SELECT @user_id, e.id
FROM events e
WHERE e.topic = 'staff'
  AND e.permission = ANY (@permissions::text[])
  AND (e.user_id IS NULL OR e.user_id = @user_id::bigint)
  AND e.id <= @upto
ON CONFLICT DO NOTHING;
