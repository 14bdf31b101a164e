package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/pipa-kr/pipa/pkg/auth"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/stacktest"
)

// One call through the REST edge is one trace (ARCHITECTURE.md "Telemetry"): the gateway's HTTP
// span is its root, and the gRPC spans of every service the call reaches (requests, and the
// registry it asks) and PostgreSQL's statements are all in it, recorded here in memory.
//
// The stack's background work (River's job fetches, the retention service's start-up sweeps)
// starts traces of its own meanwhile; those begin with a client span or a query, never with a
// server span, because a server is only reached through a client that propagates its trace. So
// a server span without a parent is a call whose trace was lost, and the gateway's is the only one.
func TestOneCallIsOneTrace(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	s := startStack(t, func(c *modules.Config) { c.Spans = rec })
	s.Load("jeongeup-library.yaml")
	before := len(rec.Ended()) // the loading's spans

	req, err := http.NewRequest(http.MethodPost, s.URL+"/v1/tenants/jeongeup/units/library/requests",
		strings.NewReader(`{"request":{"type":"REQUEST_TYPE_ACCESS","channel":"CHANNEL_VISIT",
			"requester":{"name":"김민원","phone":"010-1234-5678"},"accessItems":["ACCESS_ITEM_CONTENT"]}}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.Token(auth.RoleHandler, libraryUnit))
	resp, err := s.HTTP.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, stacktest.Body(t, resp))

	spans := rec.Ended()[before:]
	// Background jobs (the outboxes' drains, the access log's flusher) may start traces of their own
	// in the window; the call's own spans are checked below to be in the gateway's trace.
	var roots []sdktrace.ReadOnlySpan
	for _, sp := range spans {
		if !sp.Parent().IsValid() && sp.SpanKind() == trace.SpanKindServer && isHTTP(sp) {
			roots = append(roots, sp)
		}
	}
	require.Len(t, roots, 1, "one HTTP server span without a parent: the gateway's")
	root := roots[0]
	// The span is named by the route's template, not the path (one name per route, not per unit).
	require.Equal(t, "POST /v1/tenants/{tenant}/units/{unit}/requests", root.Name())
	require.Contains(t, root.Attributes(), attribute.String("http.route", "/v1/tenants/{tenant}/units/{unit}/requests"))

	const create = "pipa.requests.v1.RequestService/CreateRequest"
	inTrace := map[string]bool{}
	for _, sp := range spans {
		if sp.SpanContext().TraceID() == root.SpanContext().TraceID() {
			if sp.SpanKind() == trace.SpanKindServer || sp.Name() == "INSERT" {
				inTrace[sp.Name()] = true
			}
		} else {
			require.NotEqual(t, create, sp.Name(), "the call's gRPC span is in another trace")
		}
	}
	for _, want := range []string{create, "pipa.registry.v1.RegistryService/GetUnit", "INSERT"} {
		require.True(t, inTrace[want], "%s is not in the call's trace", want)
	}
}

// isHTTP tells an HTTP server span (the edge's) from a gRPC one.
func isHTTP(sp sdktrace.ReadOnlySpan) bool {
	for _, a := range sp.Attributes() {
		if a.Key == "http.request.method" || a.Key == "http.method" {
			return true
		}
	}
	return false
}
