package monitoring

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The committed dashboards and PrometheusRule are what the code builds: `make generate` after a
// change.
func TestGeneratedFilesAreFresh(t *testing.T) {
	dashboards, err := Dashboards()
	require.NoError(t, err)
	files, err := filepath.Glob("grafana/*.json")
	require.NoError(t, err)
	require.Len(t, files, len(dashboards), "a dashboard file that the code no longer builds")
	for name, d := range dashboards {
		b, err := json.MarshalIndent(d, "", "  ")
		require.NoError(t, err)
		committed, err := os.ReadFile(filepath.Join("grafana", name+".json"))
		require.NoError(t, err, "run make generate")
		require.Equal(t, string(committed), string(b)+"\n", "%s is stale: run make generate", name)
		require.True(t, strings.HasPrefix(name, "pipa-"))
	}
	rule, err := PrometheusRule("alerts.yaml")
	require.NoError(t, err)
	committed, err := os.ReadFile(PrometheusRulePath)
	require.NoError(t, err)
	require.Equal(t, string(committed), string(rule), "the PrometheusRule is stale: run make generate")
}
