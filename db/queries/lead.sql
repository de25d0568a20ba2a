-- name: LeadCreate :one
INSERT INTO leads (name, email, phone, company, message, source)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING *;

-- name: LeadGetByID :one
SELECT * FROM leads WHERE id = $1;

-- name: LeadSeed :exec
-- Inserts a demo lead unless one with the same email came from the seed.
INSERT INTO leads (name, email, phone, company, message, source, status, created_at)
SELECT $1, $2, $3, $4, $5, 'seed', $6, $7
WHERE NOT EXISTS (
    SELECT 1 FROM leads WHERE source = 'seed' AND email = $2
);
