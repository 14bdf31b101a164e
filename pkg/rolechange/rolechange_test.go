package rolechange_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/rolechange"
)

// TestEntryKinds: a first role set is a grant, a different one a change, none a revocation, and
// the same set (in any order, with duplicates) records nothing (S-5).
func TestEntryKinds(t *testing.T) {
	at := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	c := rolechange.Change{Account: "tenants/t/units/u/officers/kim", Source: "등록부 담당자", By: "admin", At: at}

	c.After = rolechange.Set{"handler", "cpo"}
	e := rolechange.Entry(c)
	require.Equal(t, rolechange.Granted, e.GetPurpose())
	require.Equal(t, []string{"cpo", "handler"}, e.GetItems())
	require.Empty(t, e.GetNote())

	c.Before, c.After = rolechange.Set{"cpo", "handler"}, rolechange.Set{"handler"}
	e = rolechange.Entry(c)
	require.Equal(t, rolechange.Changed, e.GetPurpose())
	require.Equal(t, "이전 권한: cpo, handler", e.GetNote())

	c.Before, c.After = rolechange.Set{"handler"}, nil
	e = rolechange.Entry(c)
	require.Equal(t, rolechange.Revoked, e.GetPurpose())
	require.Empty(t, e.GetItems())

	c.Before, c.After = rolechange.Set{"handler", "cpo"}, rolechange.Set{"cpo", "handler", "cpo", ""}
	require.Nil(t, rolechange.Entry(c))
}

// TestKeptUntil: three calendar years (S-5).
func TestKeptUntil(t *testing.T) {
	at := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
	require.Equal(t, time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC), rolechange.KeptUntil(at))
}

// TestFromEntry: the change reads back from its entry as it went in, names and all (S-5).
func TestFromEntry(t *testing.T) {
	at := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	c := rolechange.Change{Account: "kim", Name: "김민지", Before: rolechange.Set{"cpo tenants/t", "auditor tenants/t"},
		After: rolechange.Set{"handler tenants/t/units/u"}, Source: rolechange.SourceToken, By: "pipa-dev", At: at}
	got := rolechange.FromEntry(rolechange.Entry(c))
	c.Before = c.Before.Normal()
	require.Equal(t, c, got)
	c.Before, c.After = nil, rolechange.Set{"cpo tenants/t"}
	require.Equal(t, c, rolechange.FromEntry(rolechange.Entry(c)), "a grant has no roles before")
}
