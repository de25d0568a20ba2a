package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
)

// RandomToken returns a new secret for links and cookies: two runs of
// crypto/rand's Text, 260 random bits in base32.
func RandomToken() string {
	return rand.Text() + rand.Text()
}

// HashToken returns the SHA-256 of a token: what is stored, so that a
// copy of the store holds no usable token.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

func hashHex(token string) string { return hex.EncodeToString(HashToken(token)) }
