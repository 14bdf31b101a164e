package monitoring

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"
)

// repo is the repository's root, from this directory.
const repo = "../.."

// grafanaRanges are the range variables Grafana puts into a dashboard's queries.
var grafanaRanges = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

// promqlFence is a ```promql block of a Markdown file.
var promqlFence = regexp.MustCompile("(?s)```promql\n(.*?)```")

// expressions are every PromQL expression in the repository, by where it is: the alert rules, the
// dashboards' queries, and the ```promql blocks of the Markdown files (one expression a line,
// after any # comment).
func expressions(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	groups, errs := rulefmt.ParseFile("alerts.yaml", false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.Default())
	require.Empty(t, errs, "alerts.yaml")
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			out["alerts.yaml "+r.Alert+r.Record] = r.Expr
		}
	}
	files, err := filepath.Glob("grafana/*.json")
	require.NoError(t, err)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var d struct {
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		require.NoError(t, json.Unmarshal(b, &d))
		for _, p := range d.Panels {
			for i, tg := range p.Targets {
				out[fmt.Sprintf("%s %q query %d", f, p.Title, i+1)] = grafanaRanges.Replace(tg.Expr)
			}
		}
	}
	require.NoError(t, filepath.WalkDir(repo, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && (e.Name() == ".git" || e.Name() == ".data" || e.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if e.IsDir() || !strings.HasSuffix(path, ".md") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range promqlFence.FindAllStringSubmatch(string(b), -1) {
			for i, line := range strings.Split(m[1], "\n") {
				if expr, _, _ := strings.Cut(line, "#"); strings.TrimSpace(expr) != "" {
					out[fmt.Sprintf("%s block line %d", path, i+1)+" "+strings.TrimSpace(expr)] = strings.TrimSpace(expr)
				}
			}
		}
		return nil
	}))
	return out
}

// Every PromQL expression in the repository parses, and the alert rules are valid rules.
func TestPromQLParses(t *testing.T) {
	exprs := expressions(t)
	p := parser.NewParser(parser.Options{})
	md := 0
	for where, e := range exprs {
		_, err := p.ParseExpr(e)
		require.NoError(t, err, "%s: %s", where, e)
		if strings.Contains(where, ".md ") {
			md++
		}
	}
	require.NotZero(t, md, "OPERATIONS.md's expressions are read")
	t.Logf("%d expressions parsed, %d of them in Markdown", len(exprs), md)
}

// metricNames are the metrics the expressions select.
func metricNames(t *testing.T) map[string][]string {
	t.Helper()
	p := parser.NewParser(parser.Options{})
	out := map[string][]string{}
	for where, e := range expressions(t) {
		expr, err := p.ParseExpr(e)
		require.NoError(t, err, where)
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok && vs.Name != "" {
				out[vs.Name] = append(out[vs.Name], where)
			}
			return nil
		})
	}
	return out
}
