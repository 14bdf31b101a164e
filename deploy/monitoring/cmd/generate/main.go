// Command generate writes the Grafana dashboards (grafana/*.json) and the PrometheusRule of the
// monitoring component from package monitoring: `make generate` runs it from deploy/monitoring.
package main

import (
	"encoding/json"
	"log"
	"os"
	"path/filepath"

	"github.com/pipa-kr/pipa/deploy/monitoring"
)

func main() {
	dashboards, err := monitoring.Dashboards()
	if err != nil {
		log.Fatal(err)
	}
	for name, d := range dashboards {
		b, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("grafana", name+".json"), append(b, '\n'), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	rule, err := monitoring.PrometheusRule("alerts.yaml")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(monitoring.PrometheusRulePath, rule, 0o644); err != nil {
		log.Fatal(err)
	}
}
