package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/pipa-kr/pipa/pkg/auth"
	"github.com/pipa-kr/pipa/pkg/pgtest"
	"github.com/pipa-kr/pipa/pkg/stacktest"
)

// pipa reads the standard OTEL_* settings: the service's name and resource attributes, and the
// OTLP exporter's endpoint and protocol, here a collector's HTTP receiver the test runs. Requests
// are named by their route's template in spans and in the http_route of the metrics, which the
// metrics listener serves apart from the public one.
//
// Not parallel: it sets the process's environment, and the meter provider is global.
func TestTelemetrySettings(t *testing.T) {
	var mu sync.Mutex
	var exported []*coltracepb.ExportTraceServiceRequest
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if r.URL.Path != "/v1/traces" || err != nil {
			http.NotFound(w, r)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		exported = append(exported, &req)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_SERVICE_NAME", "pipa-iksan")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "service.namespace=iksan,deployment.environment.name=test")

	pool := pgtest.NewMulti(t, stacktest.Migrations(built))
	dir := t.TempDir()
	c := &config{target: "all", databaseURL: pool.Config().ConnString(), devKey: filepath.Join(dir, "dev-key.pem"),
		dataKey: filepath.Join(dir, "data-key")}
	gl, hl, ml := stacktest.Listen(t), stacktest.Listen(t), stacktest.Listen(t)
	p := runServe(t, c, &listeners{grpc: gl, http: hl, metrics: ml})
	require.NoError(t, waitServing(context.Background(), gl.Addr().String(), p.done))
	key, err := auth.LoadDevKey(c.devKey)
	require.NoError(t, err)
	tok, err := auth.Mint(key, auth.Principal{Subject: "t", Grants: []auth.Grant{{Role: auth.RoleTenantAdmin, Scope: auth.ScopeAll}}}, time.Hour)
	require.NoError(t, err)
	get := func(base, path string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, "http://"+base+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		r, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		return r.StatusCode, stacktest.Body(t, r)
	}
	code, _ := get(hl.Addr().String(), "/v1/tenants")
	require.Equal(t, http.StatusOK, code)
	code, _ = get(hl.Addr().String(), "/v1/tenants/nowhere")
	require.Equal(t, http.StatusNotFound, code)
	// Routes added since, a REST mapping (breaches) and a hand-written one (the registers' export).
	get(hl.Addr().String(), "/v1/tenants/nowhere/units/none/breaches")
	get(hl.Addr().String(), "/v1/tenants/nowhere/files:exportRegistrations")

	code, _ = get(hl.Addr().String(), "/metrics")
	require.Equal(t, http.StatusNotFound, code, "/metrics is not on the public listener")
	code, metrics := get(ml.Addr().String(), "/metrics")
	require.Equal(t, http.StatusOK, code)
	require.Regexp(t, `http_server_request_duration_seconds_count\{[^}]*http_route="/v1/tenants"[^}]*\} 1\n`, metrics)
	require.Regexp(t, `http_server_request_duration_seconds_count\{[^}]*http_response_status_code="404",[^}]*http_route="/v1/tenants/\{tenant\}"`, metrics)
	require.Regexp(t, `http_server_request_duration_seconds_count\{[^}]*http_route="/v1/tenants/\{tenant\}/units/\{unit\}/breaches"`, metrics)
	require.Regexp(t, `http_server_request_duration_seconds_count\{[^}]*http_route="/v1/tenants/\{tenant\}/files:exportRegistrations"`, metrics)
	require.NotContains(t, metrics, `http_route="/"`)
	require.NotContains(t, metrics, `/v1/tenants/nowhere`)
	require.Regexp(t, `target_info\{[^}]*service_name="pipa-iksan",service_namespace="iksan"`, metrics)
	require.Contains(t, metrics, "pgxpool_acquired_connections", "the pool's figures")

	p.wait(t) // flushes the spans
	mu.Lock()
	defer mu.Unlock()
	var names []string
	for _, req := range exported {
		for _, rs := range req.GetResourceSpans() {
			attrs := map[string]string{}
			for _, a := range rs.GetResource().GetAttributes() {
				attrs[a.GetKey()] = a.GetValue().GetStringValue()
			}
			require.Equal(t, "pipa-iksan", attrs["service.name"])
			require.Equal(t, "test", attrs["deployment.environment.name"])
			for _, ss := range rs.GetScopeSpans() {
				for _, sp := range ss.GetSpans() {
					names = append(names, sp.GetName())
				}
			}
		}
	}
	require.Contains(t, names, "GET /v1/tenants/{tenant}", "the collector received the routes' spans")
	require.Contains(t, names, "GET /v1/tenants/{tenant}/units/{unit}/breaches")
	require.Contains(t, names, "GET /v1/tenants/{tenant}/files:exportRegistrations")
}
