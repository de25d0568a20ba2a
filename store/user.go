package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"keel/cache"
	"keel/db"
)

// User statuses.
const (
	UserActive   = "active"
	UserDisabled = "disabled"
)

// ErrConflict means the change would duplicate something unique, such
// as a user's email.
var ErrConflict = errors.New("conflict")

// User is a staff member who signs in to the portal.
type User struct {
	ID           int64
	Email        string
	Name         string
	Role         string
	Status       string
	PasswordHash string
	LastSignIn   *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Active reports whether the user may sign in.
func (u User) Active() bool { return u.Status == UserActive }

// NewUser is a user to create.
type NewUser struct {
	Email        string
	Name         string
	Role         string
	PasswordHash string // may be empty: the user sets it from a link
}

// UserCreate creates a user and audits it as actor's doing. It returns
// ErrConflict when the email is taken, ignoring case.
func (s *Store) UserCreate(ctx context.Context, actor Actor, in NewUser) (User, error) {
	var u User
	err := s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		row, err := q.UserCreate(ctx, db.UserCreateParams{
			Email:        in.Email,
			Name:         in.Name,
			Role:         in.Role,
			PasswordHash: in.PasswordHash,
		})
		if err != nil {
			return fmt.Errorf("insert user: %w", err)
		}
		u = userFromRow(row)
		return audit(ctx, q, actor, "user.created", u, map[string]any{"role": u.Role})
	})
	if err == nil {
		// A lookup of this id before it existed may have cached "not
		// found".
		s.invalidate(ctx, userKey(u.ID))
	}
	return u, err
}

// UserGetByID returns a user, or ErrNotFound. It is read on every
// signed-in request, so it goes through the cache.
func (s *Store) UserGetByID(ctx context.Context, id int64) (User, error) {
	load := func(ctx context.Context) (User, error) {
		row, err := s.q.UserGetByID(ctx, id)
		if err != nil {
			return User{}, classify(fmt.Errorf("get user %d: %w", id, err))
		}
		return userFromRow(row), nil
	}
	if s.cache == nil {
		return load(ctx)
	}
	return cache.Get(ctx, s.cache, userKey(id), 5*time.Minute, load)
}

// UserListByIDs returns the users with the given ids, in no order.
func (s *Store) UserListByIDs(ctx context.Context, ids []int64) ([]User, error) {
	rows, err := s.q.UserListByIDs(ctx, ids)
	if err != nil {
		return nil, classify(fmt.Errorf("list users by id: %w", err))
	}
	return mapRows(rows, userFromRow), nil
}

// UserListActive returns active users, by name: who can own leads.
func (s *Store) UserListActive(ctx context.Context, limit int32) ([]User, error) {
	rows, err := s.q.UserListActive(ctx, limit)
	if err != nil {
		return nil, classify(fmt.Errorf("list active users: %w", err))
	}
	return mapRows(rows, userFromRow), nil
}

// UserGetByEmail returns the user with this email, ignoring case, or
// ErrNotFound.
func (s *Store) UserGetByEmail(ctx context.Context, email string) (User, error) {
	row, err := s.q.UserGetByEmail(ctx, email)
	if err != nil {
		return User{}, classify(fmt.Errorf("get user by email: %w", err))
	}
	return userFromRow(row), nil
}

// UserList returns up to limit users ordered by email.
func (s *Store) UserList(ctx context.Context, limit int32) ([]User, error) {
	rows, err := s.q.UserList(ctx, limit)
	if err != nil {
		return nil, classify(fmt.Errorf("list users: %w", err))
	}
	return mapRows(rows, userFromRow), nil
}

// UserSetRole changes a user's role, audited with the old and new role.
func (s *Store) UserSetRole(ctx context.Context, actor Actor, id int64, role string) (User, error) {
	var u User
	err := s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		before, err := q.UserGetByID(ctx, id)
		if err != nil {
			return fmt.Errorf("get user %d: %w", id, err)
		}
		row, err := q.UserUpdateRole(ctx, db.UserUpdateRoleParams{ID: id, Role: role})
		if err != nil {
			return fmt.Errorf("update role: %w", err)
		}
		u = userFromRow(row)
		if err := audit(ctx, q, actor, "user.role_changed", u, map[string]any{"from": before.Role, "to": role}); err != nil {
			return err
		}
		return addEvent(ctx, q, accessChanged(u))
	})
	if err == nil {
		s.invalidate(ctx, userKey(id))
		s.signal(ctx)
	}
	return u, err
}

// UserSetStatus enables or disables a user, audited.
func (s *Store) UserSetStatus(ctx context.Context, actor Actor, id int64, status string) (User, error) {
	var u User
	err := s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		row, err := q.UserUpdateStatus(ctx, db.UserUpdateStatusParams{ID: id, Status: status})
		if err != nil {
			return fmt.Errorf("update status: %w", err)
		}
		u = userFromRow(row)
		action := "user.enabled"
		if status == UserDisabled {
			action = "user.disabled"
			// A disabled user's open password links die with the access.
			if err := q.PasswordResetExpireForUser(ctx, id); err != nil {
				return fmt.Errorf("retire reset links: %w", err)
			}
		}
		if err := audit(ctx, q, actor, action, u, nil); err != nil {
			return err
		}
		return addEvent(ctx, q, accessChanged(u))
	})
	if err == nil {
		s.invalidate(ctx, userKey(id))
		s.signal(ctx)
	}
	return u, err
}

// accessChanged tells the user's open live streams to check again what
// the user may see.
func accessChanged(u User) Event {
	return Event{Topic: UserTopic(u.ID), Kind: EventAccessChanged,
		Data: map[string]string{"role": u.Role, "status": u.Status}}
}

// UserSetPassword stores a new password hash for a user, audited.
func (s *Store) UserSetPassword(ctx context.Context, actor Actor, id int64, hash string) error {
	defer s.invalidate(ctx, userKey(id))
	return s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		row, err := q.UserGetByID(ctx, id)
		if err != nil {
			return fmt.Errorf("get user %d: %w", id, err)
		}
		if err := q.UserUpdatePassword(ctx, db.UserUpdatePasswordParams{ID: id, PasswordHash: hash}); err != nil {
			return fmt.Errorf("update password: %w", err)
		}
		if err := q.PasswordResetExpireForUser(ctx, id); err != nil {
			return fmt.Errorf("retire reset links: %w", err)
		}
		return audit(ctx, q, actor, "user.password_changed", userFromRow(row), nil)
	})
}

// UserTouchSignIn records a successful sign-in time.
func (s *Store) UserTouchSignIn(ctx context.Context, id int64) error {
	defer s.invalidate(ctx, userKey(id))
	return classify(s.q.UserTouchSignIn(ctx, id))
}

func userFromRow(r db.User) User {
	return User{
		ID:           r.ID,
		Email:        r.Email,
		Name:         r.Name,
		Role:         r.Role,
		Status:       r.Status,
		PasswordHash: r.PasswordHash,
		LastSignIn:   r.LastSignIn,
		CreatedAt:    r.CreatedAt,
		UpdatedAt:    r.UpdatedAt,
	}
}

func (u User) auditTarget() (string, string) { return "user", strconv.FormatInt(u.ID, 10) }

// isUniqueViolation reports a duplicate key.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
