// Package monitoring is how operators watch pipa with Prometheus and Grafana: the dashboards, built
// with Grafana's foundation SDK (github.com/grafana/grafana-foundation-sdk/go) rather than written
// as JSON, so that a panel is a few typed lines and every query is a Go string the tests parse;
// and the alert rules (alerts.yaml), which the Prometheus Operator gets as a PrometheusRule.
// `make generate` writes both (cmd/generate); the tests check that they are fresh, that every
// PromQL expression in the repository parses, and that every metric they query is on a running
// pipa's /metrics.
//
// It is a module of its own, for tools and tests only: the pipa binary does not carry Grafana's
// SDK or Prometheus's parser.
package monitoring

//lint:file-ignore SA1019 The classic dashboard model (package dashboard) imports into every Grafana
// a city runs; the newer dashboardv2 needs Grafana 12's dashboard layouts.

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Dashboards are pipa's dashboards by file name (without .json).
func Dashboards() (map[string]dashboard.Dashboard, error) {
	out := map[string]dashboard.Dashboard{}
	for name, b := range map[string]*dashboard.DashboardBuilder{
		"pipa-edge":      edgeDashboard(),
		"pipa-registry":  registryDashboard(),
		"pipa-ledger":    ledgerDashboard(),
		"pipa-requests":  requestsDashboard(),
		"pipa-retention": retentionDashboard(),
		"pipa-database":  databaseDashboard(),
	} {
		d, err := b.Build()
		if err != nil {
			return nil, err
		}
		out[name] = d
	}
	return out, nil
}

// datasource is the Prometheus the dashboards read, chosen on the dashboard.
var datasource = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

func newDashboard(uid, title, description string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(description).
		Tags([]string{"pipa"}).
		Refresh("1m").
		Time("now-6h", "now").
		Timezone("browser").
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Prometheus").Type("prometheus"))
}

// query is one PromQL expression and how its series are named.
type query struct{ expr, legend string }

// graph is a time series panel.
func graph(title, unit, description string, qs ...query) *timeseries.PanelBuilder {
	p := timeseries.NewPanelBuilder().Title(title).Description(description).Unit(unit).Min(0).
		Datasource(datasource).Height(8).Span(12)
	for _, q := range qs {
		p = p.WithTarget(prometheus.NewDataqueryBuilder().Expr(q.expr).LegendFormat(q.legend))
	}
	return p
}

// figure is a single-number panel, red from threshold up.
func figure(title, description string, threshold float64, q query) *stat.PanelBuilder {
	return stat.NewPanelBuilder().Title(title).Description(description).Datasource(datasource).Height(5).Span(6).
		WithTarget(prometheus.NewDataqueryBuilder().Expr(q.expr).LegendFormat(q.legend).Instant()).
		Thresholds(dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps([]dashboard.Threshold{
			{Color: "green"}, {Value: cog.ToPtr(threshold), Color: "red"},
		}))
}

// grpcPanels are a service's calls: their rate, errors and latency by method.
func grpcPanels(d *dashboard.DashboardBuilder, service string) *dashboard.DashboardBuilder {
	sel := `rpc_method=~"` + service + `/.*"`
	return d.WithRow(dashboard.NewRowBuilder("gRPC calls")).
		WithPanel(graph("Calls by method", "reqps", "Calls the service answered, per second, whoever called (the gateway, another service).",
			query{`sum by (rpc_method) (rate(rpc_server_call_duration_seconds_count{` + sel + `}[$__rate_interval]))`, "{{rpc_method}}"})).
		WithPanel(graph("Errors by method and code", "reqps", "Calls answered with another code than OK: InvalidArgument and FailedPrecondition are callers' mistakes, Unavailable and Internal are pipa's.",
			query{`sum by (rpc_method, rpc_response_status_code) (rate(rpc_server_call_duration_seconds_count{` + sel + `, rpc_response_status_code!="OK"}[$__rate_interval]))`, "{{rpc_method}} {{rpc_response_status_code}}"})).
		WithPanel(graph("Latency by method (p95)", "s", "The 95th percentile of the time to answer.",
			query{`histogram_quantile(0.95, sum by (le, rpc_method) (rate(rpc_server_call_duration_seconds_bucket{` + sel + `}[$__rate_interval])))`, "{{rpc_method}}"}))
}

// httpPanels are the HTTP routes that routes (a regular expression on http_route) matches.
func httpPanels(d *dashboard.DashboardBuilder, title, routes string) *dashboard.DashboardBuilder {
	sel := `http_route=~"` + routes + `"`
	return d.WithRow(dashboard.NewRowBuilder(title)).
		WithPanel(graph("Requests by route", "reqps", "HTTP requests per second by route template.",
			query{`sum by (http_request_method, http_route) (rate(http_server_request_duration_seconds_count{` + sel + `}[$__rate_interval]))`, "{{http_request_method}} {{http_route}}"})).
		WithPanel(graph("Answers by status", "reqps", "429 is the public rate limit; 5xx are pipa's failures.",
			query{`sum by (http_response_status_code) (rate(http_server_request_duration_seconds_count{` + sel + `}[$__rate_interval]))`, "{{http_response_status_code}}"})).
		WithPanel(graph("Latency by route (p95)", "s", "The 95th percentile of the time to answer, by route template.",
			query{`histogram_quantile(0.95, sum by (le, http_route) (rate(http_server_request_duration_seconds_bucket{` + sel + `}[$__rate_interval])))`, "{{http_route}}"}))
}

func edgeDashboard() *dashboard.DashboardBuilder {
	d := newDashboard("pipa-edge", "pipa — HTTP edge",
		"Every HTTP request pipa answers (the gateway, or the monolithic process): REST, public pages, exports, tiles; and the access log.")
	d = httpPanels(d, "HTTP", ".+")
	return d.WithRow(dashboard.NewRowBuilder("Access log (S-2-3)")).
		WithPanel(graph("Access records", "ops", "Reads of personal data recorded as ACCESS entries; refused reads were not answered (their record could not be stored), failed records are gaps in the 접속기록.",
			query{`sum(rate(pipa_accesslog_appended_total[$__rate_interval]))`, "appended"},
			query{`sum(rate(pipa_accesslog_failed_total[$__rate_interval]))`, "failed"},
			query{`sum(rate(pipa_accesslog_refused_total[$__rate_interval]))`, "refused"}))
}

func registryDashboard() *dashboard.DashboardBuilder {
	d := newDashboard("pipa-registry", "pipa — registry",
		"The registry (pipa.registry.v1): tenants, units, officers, sites, files, processors and the published policies.")
	d = d.WithRow(dashboard.NewRowBuilder("Obligations")).
		WithPanel(figure("Overdue register duties", "The registers' duties past their due date, all tenants (PipaRegisterOverdue): registration (DEC-34-1), assessments (DEC-38-2), processors (PIPA-26-3, 26-4), the CPO and the internal plan.", 1,
			query{`sum(max by (tenant) (pipa_registry_obligations{state="overdue"}))`, ""})).
		WithPanel(graph("Overdue duties by tenant and service", "short", "What each service keeps overdue, per tenant: the registers' duties, undecided requests, destruction plans and copies. The obligations list (GET /v1/tenants/{t}/obligations) holds them all, and the breaches' 72-hour notices and reports too (pipa_requests_breaches_open has series only while a breach is open); retention's overdue items are counted there through their plan.",
			query{`max by (tenant) (pipa_registry_obligations{state="overdue"})`, "{{tenant}} registers"},
			query{`sum by (tenant) (max by (tenant, unit) (pipa_requests_open{clock="overdue"}))`, "{{tenant}} requests"},
			query{`sum by (tenant) (max by (tenant, unit, kind) (pipa_retention_overdue{kind=~"plans|copies"}))`, "{{tenant}} retention"})).
		WithRow(dashboard.NewRowBuilder("Outbound")).
		WithPanel(graph("Waiting to be delivered", "short", "The registry's outbound by channel: events for the request service's subscriptions (event, PipaEventRelayBacklog) and the register-due alerts (mail, PipaRegistryOutboundBacklog).",
			query{`max by (channel) (pipa_registry_outbound_pending)`, "{{channel}}"}))
	d = grpcPanels(d, `pipa\\.registry\\.v1\\.RegistryService`)
	return httpPanels(d, "Public pages", `/p/.*|/v1/public/tenants.*/policies/.*|/v1/public/tenants(/\\{tenant\\})?`)
}

func ledgerDashboard() *dashboard.DashboardBuilder {
	d := newDashboard("pipa-ledger", "pipa — ledger",
		"The ledger (pipa.ledger.v1): appends, group commits, the witnesses' cosignatures and the public tiles.")
	d = d.WithRow(dashboard.NewRowBuilder("Appends")).
		WithPanel(graph("Entries appended", "ops", "Entries committed to the units' ledgers, per second.",
			query{`sum(rate(pipa_ledger_appends_total[$__rate_interval]))`, "entries"})).
		WithPanel(graph("Group commit size", "short", "Entries committed together in one transaction: p50 and p95.",
			query{`histogram_quantile(0.5, sum by (le) (rate(pipa_ledger_batch_size_bucket[$__rate_interval])))`, "p50"},
			query{`histogram_quantile(0.95, sum by (le) (rate(pipa_ledger_batch_size_bucket[$__rate_interval])))`, "p95"})).
		WithRow(dashboard.NewRowBuilder("Witnesses")).
		WithPanel(figure("Logs a witness has not cosigned", "Logs whose latest checkpoint a witness has not cosigned yet; for long, the witness is down or lags (PipaWitnessBehind).", 1,
			query{`max(pipa_ledger_witness_behind)`, ""})).
		WithPanel(graph("Witness failures", "ops", "Submissions a witness did not cosign: refused (a rolled-back or split log: an incident) or unreachable.",
			query{`sum by (witness, reason) (rate(pipa_ledger_witness_failures_total[$__rate_interval]))`, "{{witness}} {{reason}}"}))
	d = grpcPanels(d, `pipa\\.ledger\\.v1\\.LedgerService`)
	return httpPanels(d, "Tiles and exports", `.*/ledger/tiles/.*|/tenants/\\{tenant\\}/units/\\{unit\\}/.*|.*ledger:export`)
}

func requestsDashboard() *dashboard.DashboardBuilder {
	d := newDashboard("pipa-requests", "pipa — requests",
		"The request service (pipa.requests.v1): data subjects' requests on the statutory clock, and the ledger entries of their steps.")
	d = d.WithRow(dashboard.NewRowBuilder("The statutory clock")).
		WithPanel(figure("Overdue requests", "Undecided requests past their statutory due date, all units (PipaRequestOverdue).", 1,
			query{`sum(max by (tenant, unit) (pipa_requests_open{clock="overdue"}))`, ""})).
		WithPanel(figure("Due within 3 days", "Undecided requests due within three days (D-3).", 1,
			query{`sum(max by (tenant, unit) (pipa_requests_open{clock="due_soon"}))`, ""})).
		WithPanel(graph("Undecided requests by clock", "short", "Every unit's undecided requests: overdue, due within 3 days, on time. Read from the database at each scrape, the same on every replica: max, not sum.",
			query{`sum by (clock) (max by (tenant, unit, clock) (pipa_requests_open))`, "{{clock}}"})).
		WithPanel(graph("Overdue by unit", "short", "The units with overdue requests.",
			query{`max by (tenant, unit) (pipa_requests_open{clock="overdue"}) > 0`, "{{tenant}}/{{unit}}"})).
		WithRow(dashboard.NewRowBuilder("Ledger outbox")).
		WithPanel(graph("Steps waiting for the ledger", "short", "Request steps whose ledger entry waits in the outbox (grows while the ledger is out), and those the ledger refused (each needs an operator).",
			query{`max(pipa_requests_ledger_pending)`, "pending"},
			query{`max(pipa_requests_ledger_failed)`, "refused"}))
	return grpcPanels(d, `pipa\\.requests\\.v1\\.RequestService`)
}

func retentionDashboard() *dashboard.DashboardBuilder {
	d := newDashboard("pipa-retention", "pipa — retention",
		"The retention service (pipa.retention.v1): what is kept, due, held and destroyed, and copies given out.")
	d = d.WithRow(dashboard.NewRowBuilder("Destruction")).
		WithPanel(figure("Overdue destructions and copies", "Items and plans not destroyed 5 days after due (STD-10-1), and copies out past their destruction date (C-9).", 1,
			query{`sum(max by (tenant, unit, kind) (pipa_retention_overdue))`, ""})).
		WithPanel(graph("Items by state", "short", "Items not yet destroyed, all units: retained, due, held, planned.",
			query{`sum by (state) (max by (tenant, unit, state) (pipa_retention_items))`, "{{state}}"})).
		WithPanel(graph("Overdue by unit and kind", "short", "What is overdue where.",
			query{`max by (tenant, unit, kind) (pipa_retention_overdue) > 0`, "{{tenant}}/{{unit}} {{kind}}"})).
		WithRow(dashboard.NewRowBuilder("Ledger outbox")).
		WithPanel(graph("Waiting for the ledger", "short", "Destructions and copy outcomes whose ledger entry is not yet appended.",
			query{`max(pipa_retention_ledger_pending)`, "pending"})).
		WithPanel(graph("Refused and undone", "short", "Destructions or copy outcomes the ledger refused, undone (the items kept), per hour.",
			query{`sum by (tenant, kind) (increase(pipa_retention_ledger_refused_total[1h]))`, "{{tenant}} {{kind}}"}))
	return grpcPanels(d, `pipa\\.retention\\.v1\\.RetentionService`)
}

func databaseDashboard() *dashboard.DashboardBuilder {
	d := newDashboard("pipa-database", "pipa — database pool",
		"Each pipa process's PostgreSQL pool (pgxpool, through otelpgx) and its statements.")
	return d.WithRow(dashboard.NewRowBuilder("Connections")).
		WithPanel(graph("Connections by process", "short", "Acquired (in use), idle, and the pool's maximum (pool_max_conns in DATABASE_URL).",
			query{`sum by (instance) (pgxpool_acquired_connections)`, "{{instance}} acquired"},
			query{`sum by (instance) (pgxpool_idle_connections)`, "{{instance}} idle"},
			query{`sum by (instance) (pgxpool_max_connections)`, "{{instance}} max"})).
		WithPanel(graph("Pool in use", "percentunit", "Acquired over maximum: near 1, calls queue for a connection (PipaDatabasePoolExhausted).",
			query{`max by (instance) (pgxpool_acquired_connections / pgxpool_max_connections)`, "{{instance}}"})).
		WithPanel(graph("Acquires that waited", "ops", "Acquires that found no idle connection and waited, and those canceled while waiting.",
			query{`sum by (instance) (rate(pgxpool_empty_acquire_total[$__rate_interval]))`, "{{instance}} waited"},
			query{`sum by (instance) (rate(pgxpool_canceled_acquires_total[$__rate_interval]))`, "{{instance}} canceled"})).
		WithPanel(graph("Wait for a connection", "ns", "Time spent waiting for a connection, per acquire that waited.",
			query{`sum by (instance) (rate(pgxpool_empty_acquire_wait_time_nanoseconds_total[$__rate_interval])) / sum by (instance) (rate(pgxpool_empty_acquire_total[$__rate_interval]))`, "{{instance}}"})).
		WithRow(dashboard.NewRowBuilder("Statements")).
		WithPanel(graph("Statements by operation", "ops", "Queries, batches and acquires per second.",
			query{`sum by (pgx_operation_type) (rate(db_client_operation_duration_seconds_count[$__rate_interval]))`, "{{pgx_operation_type}}"})).
		WithPanel(graph("Statement latency (p95)", "s", "The 95th percentile of a statement's time, by operation.",
			query{`histogram_quantile(0.95, sum by (le, pgx_operation_type) (rate(db_client_operation_duration_seconds_bucket[$__rate_interval])))`, "{{pgx_operation_type}}"})).
		WithPanel(graph("New connections", "ops", "Connections opened per second: steady churn means max_conn_lifetime or idle time is short for the load.",
			query{`sum by (instance) (rate(pgxpool_new_connections_total[$__rate_interval]))`, "{{instance}}"}))
}
