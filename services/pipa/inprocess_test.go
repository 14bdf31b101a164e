package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/stacktest"
)

// In monolithic mode the services call each other in-process (issue 18), as the REST edge calls
// them: a request taken, verified and approved over REST makes no connection to the process's own
// gRPC listener, though the request service asks the registry with the staff's token and appends
// the approval to the unit's ledger (STD-44-5) before answering each step; each of those calls is served
// as a child of the request service's own span, in the REST call's one trace.
func TestMonolithCallsItsServicesInProcess(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewSpanRecorder()
	grpcListener := &stacktest.Accepting{}
	s := startStack(t, stacktest.WithAccepting(grpcListener), func(c *modules.Config) { c.Spans = spans })
	s.Load("jeongeup-library.yaml") // over the stack's own client connection
	d := &deployment{url: s.URL, key: s.Key, http: s.HTTP}
	staff := d.token(t, auth.RoleHandler, libraryUnit)

	var created requestsv1.CreateRequestResponse
	d.ok(t, http.MethodPost, "/v1/"+libraryUnit+"/requests", staff, obj{"requestId": "in-process-1", "request": obj{
		"type": "REQUEST_TYPE_ACCESS", "channel": "CHANNEL_VISIT", "requester": obj{"name": "김민원", "phone": "010-1234-5678"},
		"accessItems": []string{"ACCESS_ITEM_CONTENT"}}}, &created)
	r := "/v1/" + created.GetRequest().GetName()
	var req requestsv1.Request
	d.ok(t, http.MethodPost, r+":verifyIdentity", staff, obj{"verification": obj{"method": "VERIFICATION_METHOD_RESIDENT_CARD"}}, &req)
	d.ok(t, http.MethodPost, r+":approve", staff, obj{"etag": req.GetEtag(), "grant": obj{
		"accessTime": rfc3339(time.Now().Add(48 * time.Hour).Truncate(time.Hour)), "accessPlace": "정읍시립도서관 2층 전산실",
		"form": "ACCESS_FORM_VIEWING", "method": "DELIVERY_METHOD_VISIT"}}, &req)
	require.Len(t, req.GetLedger(), 2, "the verification and the approval")
	for _, step := range req.GetLedger() {
		require.False(t, step.GetPending(), "%s: appended before the answer", step.GetStep())
	}

	// The server spans under each request-service call's own.
	byName := map[string]trace.SpanContext{}
	under := map[trace.SpanID][]string{}
	for _, sp := range spans.Ended() {
		if sp.SpanKind() == trace.SpanKindServer {
			byName[sp.Name()] = sp.SpanContext()
			under[sp.Parent().SpanID()] = append(under[sp.Parent().SpanID()], sp.Name())
		}
	}
	create := byName["pipa.requests.v1.RequestService/CreateRequest"]
	approve := byName["pipa.requests.v1.RequestService/ApproveRequest"]
	require.True(t, create.IsValid() && approve.IsValid(), "%v", byName)
	require.Contains(t, under[create.SpanID()], registryv1.RegistryService_ServiceDesc.ServiceName+"/GetUnit",
		"the registry asked with the staff's token (a handler may read the unit), in the call's trace")
	require.Contains(t, under[approve.SpanID()], ledgerv1.LedgerService_ServiceDesc.ServiceName+"/AppendEntry")

	require.Len(t, grpcListener.Accepted(), 1, "one connection to the gRPC listener, the stack's own client's: %v",
		grpcListener.Accepted())
}
