package grading

import (
	"slices"
	"time"
)

// DefaultCourseID is the course that collections and grading configs made
// before courses existed belong to, and that an admin's collections get when
// no course is named.
const DefaultCourseID = "default"

// Course groups collections, grading configs and the people who may act on
// them.
type Course struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Role is what a person or program may do within its courses.
type Role string

// Roles, from most to least powerful. An admin acts on every course.
const (
	RoleAdmin      Role = "admin"
	RoleInstructor Role = "instructor"
	RoleAssistant  Role = "assistant"
	RoleStudent    Role = "student"
)

// Roles lists every valid role.
var Roles = []Role{RoleAdmin, RoleInstructor, RoleAssistant, RoleStudent}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Staff reports whether r sees results in the staff view.
func (r Role) Staff() bool { return r == RoleAdmin || r == RoleInstructor || r == RoleAssistant }

// APIKey is a credential for programs and the CLI. Only the hash of the key
// is stored; the key itself is shown once, when it is created.
type APIKey struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Hash is the hex SHA-256 of the key.
	Hash    string   `json:"-"`
	Role    Role     `json:"role"`
	Courses []string `json:"courses"`
	// User is the user name a student key submits and reads as.
	User      string     `json:"user,omitempty"`
	CreatedBy string     `json:"created_by,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Usable reports whether the key may authenticate at now: not revoked and
// not expired.
func (k APIKey) Usable(now time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || now.Before(*k.ExpiresAt))
}

// AuditEntry is one recorded action: who did what to which target, and how
// it ended. The audit log only ever grows.
type AuditEntry struct {
	ID        string    `json:"-"`
	Time      time.Time `json:"time"`
	Actor     string    `json:"actor"`
	Role      Role      `json:"role"`
	Action    string    `json:"action"`
	Target    string    `json:"target"`
	Course    string    `json:"course,omitempty"`
	Outcome   string    `json:"outcome"`
	RequestID string    `json:"request_id"`
}

// AuditFilter selects audit entries; empty fields match everything.
type AuditFilter struct {
	Course string
	Actor  string
	Target string
	Since  *time.Time
	Until  *time.Time
	Limit  int
	// After is the cursor of an earlier read: only entries after its last.
	After string
}
