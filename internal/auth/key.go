package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// KeyPrefix starts every ZINC API key, so a key is recognisable in a leak
// scanner and never mistaken for a JWT.
const KeyPrefix = "zinc_"

// NewKey returns a new random API key and its hash. The key carries 256
// bits of randomness, so a plain SHA-256 is a sufficient hash: there is no
// low-entropy secret to stretch.
func NewKey() (key, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("generate api key: %w", err)
	}
	key = KeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	return key, HashKey(key), nil
}

// HashKey returns the hex SHA-256 of key, the form the store keeps.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// IsKey reports whether token looks like a ZINC API key rather than a JWT.
func IsKey(token string) bool { return strings.HasPrefix(token, KeyPrefix) }
