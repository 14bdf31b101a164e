package modules_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/modules"
)

// A graph like pipa's: b needs a, c needs a and b and wants d, d needs c.
var (
	a = modules.Module{Name: "a"}
	b = modules.Module{Name: "b", Needs: []string{"a"}}
	c = modules.Module{Name: "c", Needs: []string{"b", "a"}, Wants: map[string]string{"d": "work waits"}}
	d = modules.Module{Name: "d", Needs: []string{"c"}}
)

func names(ms []modules.Module) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

// Modules start after those they need, whatever order they are declared in; wants do not order.
func TestOrderedFollowsNeeds(t *testing.T) {
	got, err := modules.Ordered([]modules.Module{d, c, b, a})
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c", "d"}, names(got))

	_, err = modules.Ordered([]modules.Module{{Name: "x", Needs: []string{"y"}}, {Name: "y", Needs: []string{"x"}}})
	require.ErrorContains(t, err, "x → y → x")
}

// A need that neither runs here nor has an address stops the start, naming the setting; a want
// does not.
func TestCheckNamesTheMissingSetting(t *testing.T) {
	err := modules.Check([]modules.Module{c}, map[string]string{"b": "127.0.0.1:9090"})
	require.EqualError(t, err, "c needs the a service: set PIPA_A_ADDR (or run both here: -target=all)")
	require.NoError(t, modules.Check([]modules.Module{c}, map[string]string{"a": "x:1", "b": "x:2"}))
	require.NoError(t, modules.Check([]modules.Module{a, b, c}, nil))
}

// "all" runs every module in dependency order with the REST edge, "gateway" the edge alone, a
// module's name that module alone.
func TestTargets(t *testing.T) {
	built := []modules.Module{d, c, b, a}
	run, edge, err := modules.Targets(built, "all")
	require.NoError(t, err)
	require.True(t, edge)
	require.Equal(t, []string{"a", "b", "c", "d"}, names(run))
	run, edge, err = modules.Targets(built, "gateway")
	require.NoError(t, err)
	require.True(t, edge)
	require.Empty(t, run)
	run, edge, err = modules.Targets(built, "c")
	require.NoError(t, err)
	require.False(t, edge)
	require.Equal(t, []string{"c"}, names(run))
	_, _, err = modules.Targets(built, "e")
	require.EqualError(t, err, `unknown target "e": want all, d, c, b, a or gateway`)
}

func TestGraph(t *testing.T) {
	c := c
	c.Service = "pkg.C"
	require.Equal(t, "a (): needs nothing\nc (pkg.C): needs b, a; wants d\n", modules.Graph([]modules.Module{a, c}))
}
