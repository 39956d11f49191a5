package auth

import (
	"context"
	"slices"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// Principal is an authenticated caller.
type Principal struct {
	// Actor identifies the caller in the audit log: "key:<id>" for an API
	// key, "oidc:<subject>" for a person.
	Actor string
	// User is the user name a student submits and reads as.
	User string
	// Admin acts on every course with every right.
	Admin bool
	// Courses maps each course the caller belongs to to its role there.
	Courses map[string]grading.Role
}

// RoleIn returns the caller's role in course: admin for an admin, the
// membership's role otherwise; false when the caller is not a member.
func (p Principal) RoleIn(course string) (grading.Role, bool) {
	if p.Admin {
		return grading.RoleAdmin, true
	}
	r, ok := p.Courses[course]
	return r, ok
}

// HasAny reports whether the caller holds one of roles in some course (or
// is an admin and roles include admin).
func (p Principal) HasAny(roles ...grading.Role) bool {
	if p.Admin {
		return slices.Contains(roles, grading.RoleAdmin)
	}
	for _, r := range p.Courses {
		if slices.Contains(roles, r) {
			return true
		}
	}
	return false
}

// CoursesWith returns the courses where the caller holds one of roles,
// sorted.
func (p Principal) CoursesWith(roles ...grading.Role) []string {
	var out []string
	for c, r := range p.Courses {
		if slices.Contains(roles, r) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// MainRole is the role to record for a request not about one course: admin,
// or the most powerful role the caller holds anywhere.
func (p Principal) MainRole() grading.Role {
	if p.Admin {
		return grading.RoleAdmin
	}
	for _, r := range grading.Roles {
		if p.HasAny(r) {
			return r
		}
	}
	return ""
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal ctx carries, if any.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// fromKey is the principal an API key stands for.
func fromKey(k grading.APIKey) Principal {
	p := Principal{Actor: "key:" + k.ID, User: k.User, Admin: k.Role == grading.RoleAdmin, Courses: map[string]grading.Role{}}
	for _, c := range k.Courses {
		p.Courses[c] = k.Role
	}
	return p
}
