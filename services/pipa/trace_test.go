package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/pipa-kr/pipa/pkg/auth"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/stacktest"
)

// One call through the REST edge is one trace (ARCHITECTURE.md "Telemetry"): the gateway's HTTP
// span is its root, and the gRPC spans of every service the call reaches (requests, and the
// registry it asks) and PostgreSQL's statements are all in it, recorded here in memory.
func TestOneCallIsOneTrace(t *testing.T) {
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
	var roots []trace.SpanContext
	for _, sp := range spans {
		if !sp.Parent().IsValid() {
			roots = append(roots, sp.SpanContext())
			require.Equal(t, "POST /v1/tenants/jeongeup/units/library/requests", sp.Name())
			require.Equal(t, trace.SpanKindServer, sp.SpanKind())
		}
	}
	require.Len(t, roots, 1, "one root: the gateway's HTTP span")
	kinds := map[string]trace.SpanKind{}
	for _, sp := range spans {
		require.Equal(t, roots[0].TraceID(), sp.SpanContext().TraceID(), "%s is in another trace", sp.Name())
		if sp.SpanKind() == trace.SpanKindServer {
			kinds[sp.Name()] = sp.SpanKind()
		}
		if sp.Name() == "INSERT" {
			kinds["INSERT"] = sp.SpanKind()
		}
	}
	for _, want := range []string{"pipa.requests.v1.RequestService/CreateRequest", "pipa.registry.v1.RegistryService/GetUnit", "INSERT"} {
		require.Contains(t, kinds, want)
	}
}
