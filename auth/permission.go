// Package auth signs staff in and keeps them signed in: passwords
// (argon2id), short scs sessions in Redis renewed by rotating refresh
// tokens, revocation that takes effect at once on every server copy, and
// the declarative table of what each role may do.
package auth

import (
	"slices"
	"strings"
)

// Permission names an action on a resource, such as "leads:read".
type Permission string

// Role is a staff member's role.
type Role string

// Roles, from the most to the least powerful.
const (
	RoleSuperadmin Role = "superadmin"
	RoleAdmin      Role = "admin"
	RoleModerator  Role = "moderator"
	RoleEditor     Role = "editor"
	RoleSupport    Role = "support"
)

// Roles lists every role, in the order above.
var Roles = []Role{RoleSuperadmin, RoleAdmin, RoleModerator, RoleEditor, RoleSupport}

// SignedIn is the permission every active staff member holds, whatever
// the role: for pages such as the portal's start page and a person's own
// sessions.
const SignedIn Permission = "signed-in"

// grants is the whole permission table. A grant ending in "*" covers
// every permission that starts with what comes before it, so "leads:*"
// covers "leads:read" and "leads:export", and "*" covers everything.
var grants = map[Role][]string{
	RoleSuperadmin: {"*"},
	RoleAdmin: {
		"leads:*", "users:*", "blog:*", "media:*", "orders:*", "catalog:*",
		"audit:read", "jobs:read",
	},
	RoleModerator: {"users:read", "users:write"},
	RoleEditor:    {"blog:*", "media:*"},
	RoleSupport:   {"leads:read", "orders:read"},
}

// Can reports whether role r holds permission p. An unknown role holds
// nothing.
func (r Role) Can(p Permission) bool {
	list, ok := grants[r]
	if !ok {
		return false
	}
	if p == SignedIn {
		return true
	}
	return slices.ContainsFunc(list, func(g string) bool {
		prefix, wild := strings.CutSuffix(g, "*")
		if wild {
			return strings.HasPrefix(string(p), prefix)
		}
		return g == string(p)
	})
}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool {
	_, ok := grants[r]
	return ok
}

// CanAssign reports whether a user with role r may give role target to
// someone, or manage someone who has it: only when r holds everything
// target holds. So no one can hand out, or take away from others, power
// they do not have themselves.
func (r Role) CanAssign(target Role) bool {
	mine, ok := grants[r]
	if !ok || !target.Valid() {
		return false
	}
	for _, g := range grants[target] {
		if !slices.ContainsFunc(mine, func(m string) bool { return covers(m, g) }) {
			return false
		}
	}
	return true
}

// covers reports whether grant a includes everything grant b does.
func covers(a, b string) bool {
	prefix, wild := strings.CutSuffix(a, "*")
	if !wild {
		return a == b
	}
	return strings.HasPrefix(b, prefix)
}
