package auth

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
)

// Password length bounds. The upper bound caps the work one sign-in
// attempt can demand.
const (
	PasswordMin = 12
	PasswordMax = 128
)

// Hasher hashes and checks passwords with argon2id.
type Hasher struct {
	params *argon2id.Params
	// dummy is a hash of a random password, checked when the email is
	// unknown so that such an attempt costs as much as a wrong password.
	dummy string
}

// NewHasher returns a Hasher using memoryKiB of memory and the given
// number of passes per hash.
func NewHasher(memoryKiB, iterations uint32) (*Hasher, error) {
	h := &Hasher{params: &argon2id.Params{
		Memory:      memoryKiB,
		Iterations:  iterations,
		Parallelism: 1,
		SaltLength:  16,
		KeyLength:   32,
	}}
	dummy, err := h.Hash(RandomToken())
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	return h, nil
}

// Hash returns the PHC-encoded argon2id hash of password.
func (h *Hasher) Hash(password string) (string, error) {
	hash, err := argon2id.CreateHash(password, h.params)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

// Check reports whether password matches hash. An empty hash (a user
// who never set a password) matches nothing, after the same work.
func (h *Hasher) Check(password, hash string) bool {
	if hash == "" {
		hash = h.dummy
		password += "\x00never"
	}
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	return err == nil && ok
}

// CheckNobody does the work of a check against no account, so that an
// unknown email takes as long to refuse as a wrong password.
func (h *Hasher) CheckNobody(password string) {
	_, _ = argon2id.ComparePasswordAndHash(password, h.dummy)
}

// ErrWeakPassword is wrapped by ValidatePassword's errors; their text is
// safe to show.
var ErrWeakPassword = errors.New("weak password")

// ValidatePassword checks a new password against Keel's rules and says
// what is wrong in words a person can act on.
func ValidatePassword(password, email string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case n < PasswordMin:
		return fmt.Errorf("%w: use at least %d characters", ErrWeakPassword, PasswordMin)
	case n > PasswordMax:
		return fmt.Errorf("%w: use at most %d characters", ErrWeakPassword, PasswordMax)
	case strings.EqualFold(password, email):
		return fmt.Errorf("%w: do not use your email address", ErrWeakPassword)
	case strings.TrimLeft(password, password[:1]) == "":
		return fmt.Errorf("%w: do not repeat one character", ErrWeakPassword)
	}
	return nil
}
