package grading

import (
	"strings"
	"time"
)

// MaxEnvironmentName bounds the length of an environment's name.
const MaxEnvironmentName = 64

// Environment is a named OCI image that grading configs may run their
// commands in instead of the worker's own toolchain. Its image layout,
// exactly as uploaded (a tar), is stored once in object storage under
// ObjectKey; Digest identifies those bytes. Environments never change: a
// name keeps the content it was first given.
type Environment struct {
	Name string `json:"name"`
	// Digest is "sha256:<hex>" of the uploaded tar.
	Digest string `json:"digest"`
	// ManifestDigest is the digest of the image manifest the environment
	// runs, as tools such as skopeo and docker show it.
	ManifestDigest string `json:"manifest_digest"`
	// Size is the tar's size in bytes.
	Size      int64     `json:"size"`
	ObjectKey string    `json:"object_key"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// ValidEnvironmentName reports whether s may name an environment: 1 to 64
// characters from [a-z0-9._-], starting with a letter or digit.
func ValidEnvironmentName(s string) bool {
	if s == "" || len(s) > MaxEnvironmentName {
		return false
	}
	for i, r := range s {
		lower := r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		if !lower && (i == 0 || !strings.ContainsRune("._-", r)) {
			return false
		}
	}
	return true
}
