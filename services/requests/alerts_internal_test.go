package requests

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/outbound/mail"
)

// A run of the alerts asks the registry for a unit's officers once, however many of the unit's
// requests and breaches alert in it; a failed lookup is asked again by the unit's next alert.
func TestOfficersLookedUpOncePerUnit(t *testing.T) {
	asked := map[string]int{}
	fail := true
	officers := perUnit(func(_ context.Context, tenant, unit string) ([]mail.Officer, string, error) {
		asked[tenant+"/"+unit]++
		if unit == "archive" && fail {
			fail = false
			return nil, "", errors.New("registry unavailable")
		}
		return []mail.Officer{{ID: "kim", Email: "kim@" + tenant + ".go.kr"}}, unit + " 담당", nil
	})
	for range 3 {
		to, name, err := officers(t.Context(), "jeongeup", "library")
		require.NoError(t, err)
		require.Equal(t, "library 담당", name)
		require.Equal(t, "kim@jeongeup.go.kr", to[0].Email)
	}
	_, _, err := officers(t.Context(), "iksan", "library")
	require.NoError(t, err)
	_, _, err = officers(t.Context(), "jeongeup", "archive")
	require.Error(t, err)
	for range 2 {
		_, _, err = officers(t.Context(), "jeongeup", "archive")
		require.NoError(t, err)
	}
	require.Equal(t, map[string]int{"jeongeup/library": 1, "iksan/library": 1, "jeongeup/archive": 2}, asked)
}
