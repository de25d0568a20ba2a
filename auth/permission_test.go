package auth_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"keel/auth"
)

func TestRoleCan(t *testing.T) {
	t.Parallel()

	tests := []struct {
		role auth.Role
		perm auth.Permission
		want bool
	}{
		{auth.RoleSuperadmin, "anything:at-all", true},
		{auth.RoleAdmin, "leads:export", true},
		{auth.RoleAdmin, "audit:read", true},
		{auth.RoleAdmin, "jobs:read", true},
		{auth.RoleAdmin, "jobs:write", false},
		{auth.RoleModerator, "users:write", true},
		{auth.RoleModerator, "users:delete", false},
		{auth.RoleEditor, "blog:delete", true},
		{auth.RoleEditor, "leads:read", false},
		{auth.RoleSupport, "orders:read", true},
		{auth.RoleSupport, "orders:write", false},
		// A wildcard grant covers its prefix only.
		{auth.RoleEditor, "blogger:read", false},
		{auth.Role("intern"), "leads:read", false},
		{auth.Role("intern"), auth.SignedIn, false},
		{auth.RoleSupport, auth.SignedIn, true},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.role.Can(tt.perm), "%s can %s", tt.role, tt.perm)
	}
}

// Nobody can give or manage a role with more access than their own.
func TestRoleCanAssign(t *testing.T) {
	t.Parallel()

	want := map[auth.Role][]auth.Role{
		auth.RoleSuperadmin: auth.Roles,
		auth.RoleAdmin:      {auth.RoleAdmin, auth.RoleModerator, auth.RoleEditor, auth.RoleSupport},
		auth.RoleModerator:  {auth.RoleModerator},
		auth.RoleEditor:     {auth.RoleEditor},
		auth.RoleSupport:    {auth.RoleSupport},
	}
	for _, actor := range auth.Roles {
		var got []auth.Role
		for _, target := range auth.Roles {
			if actor.CanAssign(target) {
				got = append(got, target)
			}
		}
		require.Equal(t, want[actor], got, "roles %s may assign", actor)
	}
	require.False(t, auth.RoleSuperadmin.CanAssign("intern"))
}

func TestValidatePassword(t *testing.T) {
	t.Parallel()

	require.NoError(t, auth.ValidatePassword("correct horse battery", "a@b.example"))
	for _, bad := range []string{"short", "aaaaaaaaaaaaaaaa", "a@b.example.long", string(make([]byte, 129))} {
		email := "a@b.example.long"
		require.ErrorIs(t, auth.ValidatePassword(bad, email), auth.ErrWeakPassword, "%q", bad)
	}
}

func TestHasher(t *testing.T) {
	t.Parallel()

	h, err := auth.NewHasher(1024, 1)
	require.NoError(t, err)
	hash, err := h.Hash("correct horse battery")
	require.NoError(t, err)
	require.Regexp(t, `^\$argon2id\$v=19\$m=1024,t=1,p=1\$`, hash)

	require.True(t, h.Check("correct horse battery", hash))
	require.False(t, h.Check("correct horse battery!", hash))
	require.False(t, h.Check("", ""), "no password set matches nothing")
	require.False(t, h.Check("x", "not a hash"))
}
