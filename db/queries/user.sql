-- name: UserCreate :one
INSERT INTO users (email, name, role, password_hash)
VALUES ($1, $2, $3, $4)
RETURNING *;

-- name: UserGetByID :one
SELECT * FROM users WHERE id = $1;

-- name: UserGetByEmail :one
SELECT * FROM users WHERE lower(email) = lower(sqlc.arg(email));

-- name: UserList :many
SELECT * FROM users ORDER BY lower(email) LIMIT $1;

-- name: UserUpdateRole :one
UPDATE users SET role = $2, updated_at = now() WHERE id = $1 RETURNING *;

-- name: UserUpdateStatus :one
UPDATE users SET status = $2, updated_at = now() WHERE id = $1 RETURNING *;

-- name: UserUpdatePassword :exec
UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1;

-- name: UserTouchSignIn :exec
UPDATE users SET last_sign_in = now() WHERE id = $1;

-- name: UserSeed :exec
-- Inserts a demo user unless the email is taken.
INSERT INTO users (email, name, role, password_hash)
VALUES ($1, $2, $3, $4)
ON CONFLICT ((lower(email))) DO NOTHING;

-- name: UserListActive :many
SELECT * FROM users WHERE status = 'active' ORDER BY lower(name) LIMIT $1;

-- name: UserListByIDs :many
SELECT * FROM users WHERE id = ANY(sqlc.arg(ids)::bigint[]);
