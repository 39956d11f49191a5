// Package auth tells who is asking: a Principal with its roles per course,
// authenticated from a bearer credential that is either a ZINC API key
// (stored hashed, scoped to a role and courses, expiring and revocable) or
// an OIDC JWT verified against its issuer's JWKS. It knows nothing of HTTP;
// internal/api extracts the credential and applies its route rules.
package auth
