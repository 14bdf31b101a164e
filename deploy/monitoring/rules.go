package monitoring

import (
	"bytes"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// PrometheusRule is alerts.yaml as the Prometheus Operator's PrometheusRule, which the monitoring
// component of deploy/k8s applies.
func PrometheusRule(alertsPath string) ([]byte, error) {
	b, err := os.ReadFile(alertsPath)
	if err != nil {
		return nil, err
	}
	var rules struct {
		Groups []yaml.Node `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		return nil, fmt.Errorf("%s: %w", alertsPath, err)
	}
	doc := map[string]any{
		"apiVersion": "monitoring.coreos.com/v1",
		"kind":       "PrometheusRule",
		"metadata":   map[string]any{"name": "pipa", "labels": map[string]string{"app.kubernetes.io/name": "pipa"}},
		"spec":       map[string]any{"groups": rules.Groups},
	}
	var out bytes.Buffer
	out.WriteString("# Written by `make generate` (deploy/monitoring/cmd/generate) from deploy/monitoring/alerts.yaml:\n# edit that file.\n")
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return out.Bytes(), enc.Close()
}

// PrometheusRulePath is where the PrometheusRule is written, from this directory.
const PrometheusRulePath = "../k8s/components/monitoring/prometheusrule.yaml"
