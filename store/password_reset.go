package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"keel/db"
)

// ErrResetInvalid means a password reset link is unknown, used or
// expired. The three are not told apart to the person holding it.
var ErrResetInvalid = errors.New("reset link invalid")

// PasswordResetCreate records a reset link for a user (only the hash of
// its token) and queues the email that carries it, in one transaction.
// Earlier open links of the user stop working.
func (s *Store) PasswordResetCreate(ctx context.Context, actor Actor, u User, tokenHash []byte, expires time.Time, email OutgoingEmail) error {
	return s.inTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		if err := q.PasswordResetExpireForUser(ctx, u.ID); err != nil {
			return fmt.Errorf("retire reset links: %w", err)
		}
		err := q.PasswordResetCreate(ctx, db.PasswordResetCreateParams{
			TokenHash: tokenHash,
			UserID:    u.ID,
			ExpiresAt: expires,
		})
		if err != nil {
			return fmt.Errorf("insert reset link: %w", err)
		}
		if err := s.queueEmail(ctx, tx, q, email); err != nil {
			return err
		}
		return audit(ctx, q, actor, "user.password_reset_requested", u, nil)
	})
}

// PasswordResetCheck returns the user a reset link is for, or
// ErrResetInvalid.
func (s *Store) PasswordResetCheck(ctx context.Context, tokenHash []byte) (User, error) {
	r, err := s.q.PasswordResetPeek(ctx, tokenHash)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return User{}, ErrResetInvalid
		}
		return User{}, classify(err)
	}
	if r.UsedAt != nil || time.Now().After(r.ExpiresAt) {
		return User{}, ErrResetInvalid
	}
	u, err := s.UserGetByID(ctx, r.UserID)
	if err == nil && !u.Active() {
		return User{}, ErrResetInvalid
	}
	return u, err
}

// PasswordResetUse sets a new password through a reset link, once: the
// link row is locked, checked, marked used and the password stored in
// one transaction, audited. It returns the user, or ErrResetInvalid.
func (s *Store) PasswordResetUse(ctx context.Context, tokenHash []byte, hash, ip string) (User, error) {
	var u User
	err := s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		r, err := q.PasswordResetGet(ctx, tokenHash)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrResetInvalid
		}
		if err != nil {
			return fmt.Errorf("lock reset link: %w", err)
		}
		if r.UsedAt != nil || time.Now().After(r.ExpiresAt) {
			return ErrResetInvalid
		}

		row, err := q.UserGetByID(ctx, r.UserID)
		if err != nil {
			return fmt.Errorf("get user %d: %w", r.UserID, err)
		}
		u = userFromRow(row)
		if !u.Active() {
			return ErrResetInvalid
		}
		if err := q.UserUpdatePassword(ctx, db.UserUpdatePasswordParams{ID: u.ID, PasswordHash: hash}); err != nil {
			return fmt.Errorf("update password: %w", err)
		}
		if err := q.PasswordResetExpireForUser(ctx, u.ID); err != nil {
			return fmt.Errorf("retire reset links: %w", err)
		}
		actor := Actor{ID: u.ID, Email: u.Email, IP: ip}
		return audit(ctx, q, actor, "user.password_reset", u, nil)
	})
	if err == nil {
		s.invalidate(ctx, userKey(u.ID))
	}
	return u, err
}
