package main

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"gopkg.in/yaml.v3"

	"github.com/pipa-kr/pipa/pkg/auth"
	"github.com/pipa-kr/pipa/pkg/gen/openapi"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/server"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/pipa/internal/apiclient"
)

// route is a method and an OpenAPI path template.
type route struct{ method, path string }

// httpRules are the REST mappings of proto/pipa/*/v1/*.http.yaml, each with the operation id
// protoc-gen-openapiv2 gives it ({Service}_{Method}), at the path the documents and the telemetry
// write for it (server.RouteTemplate).
func httpRules(t *testing.T) map[route]string {
	t.Helper()
	files, err := filepath.Glob("../../proto/pipa/*/v1/*.http.yaml")
	require.NoError(t, err)
	require.Len(t, files, len(built))
	out := map[route]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		type binding map[string]any
		var cfg struct {
			HTTP struct {
				Rules []struct {
					Binding    binding   `yaml:",inline"`
					Additional []binding `yaml:"additional_bindings"`
				} `yaml:"rules"`
			} `yaml:"http"`
		}
		require.NoError(t, yaml.Unmarshal(b, &cfg))
		for _, r := range cfg.HTTP.Rules {
			sel := strings.Split(r.Binding["selector"].(string), ".")
			id := sel[len(sel)-2] + "_" + sel[len(sel)-1]
			// protoc-gen-openapiv2 numbers the additional bindings' operations: {id}2, {id}3, …
			for i, b := range append([]binding{r.Binding}, r.Additional...) {
				op := id
				if i > 0 {
					op += strconv.Itoa(i + 1)
				}
				for _, m := range []string{"get", "post", "patch", "delete", "put"} {
					if p, ok := b[m].(string); ok {
						out[route{m, server.RouteTemplate(p)}] = op
					}
				}
			}
		}
	}
	return out
}

// documented are the operations of a document by route.
func documented(t *testing.T, b []byte) map[route]string {
	t.Helper()
	var d struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(b, &d))
	out := map[route]string{}
	for path, item := range d.Paths {
		for m, op := range item {
			out[route{m, path}] = op.OperationID
		}
	}
	return out
}

// pagePatterns are the patterns of every module's hand-written routes, as a process mounts them.
func pagePatterns(t *testing.T, s *stack) []string {
	t.Helper()
	d := modules.Deps{Pool: s.DB(), Box: s.Box, Conn: func(string) (grpc.ClientConnInterface, error) { return s.Conn, nil }}
	var out []string
	for _, m := range built {
		if m.Pages != nil {
			for p := range m.Pages(s.Conn, d) {
				out = append(out, p)
			}
		}
	}
	return out
}

// The served document holds every operation: each REST mapping's (counted against the
// *.http.yaml rules), each hand-written route a module mounts (exports, tiles, pages), and the
// edge's (health, the documents); and it is the document `make generate` wrote, which
// internal/apidoc's tests validate.
func TestOpenAPIHoldsEveryOperation(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	served := stacktest.Body(t, s.Get("/openapi.json"))
	want, err := fs.ReadFile(openapi.FS, "pipa.json")
	require.NoError(t, err)
	require.Equal(t, string(want), served)
	for _, path := range []string{"/openapi.v3.json", "/openapi/ledger/openapi.json", "/openapi/ledger/openapi.v3.json"} {
		r := s.Get(path)
		require.Equal(t, http.StatusOK, r.StatusCode, path)
		require.Equal(t, "application/json", r.Header.Get("Content-Type"), path)
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(stacktest.Body(t, r)), &v), path)
	}

	ops := documented(t, []byte(served))
	rules := httpRules(t)
	for r, id := range rules {
		require.Equal(t, id, ops[r], "%s %s", strings.ToUpper(r.method), r.path)
	}
	// Every pattern a module mounts is documented: exactly, or for a {path...} pattern (the
	// tlog-tiles prefixes) by the operations under its prefix. "GET /p/" is the 404 page of the
	// paths no other page pattern takes, not an operation.
	pages := map[route]bool{}
	for _, p := range pagePatterns(t, s) {
		method, path, _ := strings.Cut(p, " ")
		if p == "GET /p/" {
			continue
		}
		path = strings.Replace(path, "{$}", "", 1)
		prefix, wildcard := strings.CutSuffix(path, "{path...}")
		found := false
		for r := range ops {
			if r.method == strings.ToLower(method) && (r.path == path || (wildcard && strings.HasPrefix(r.path, prefix))) {
				found, pages[r] = true, true
			}
		}
		require.True(t, found, "%s is not documented", p)
	}
	edge := []route{{"get", "/healthz"}, {"get", "/openapi.json"}, {"get", "/openapi.v3.json"},
		{"get", "/openapi/{service}/openapi.json"}, {"get", "/openapi/{service}/openapi.v3.json"}}
	for r := range ops {
		_, rule := rules[r]
		require.True(t, rule || pages[r] || slices.Contains(edge, r), "%s %s is documented but not served", r.method, r.path)
	}
	handWritten := 0
	for r := range pages {
		if _, rule := rules[r]; !rule {
			handWritten++
		}
	}
	require.Len(t, ops, len(rules)+handWritten+len(edge))
	t.Logf("%d operations: %d REST mappings, %d hand-written routes, %d of the edge", len(ops), len(rules), handWritten, len(edge))
}

// A client that oapi-codegen generated from the served OpenAPI 3.1 document calls one method of
// every service over HTTP (the registry, ledger, access-record, access-review, role-grant, request, breach,
// outbound and retention services), as a department's frontend would, and reads the zeros the
// issue found missing: a draft that is not ready says ready: false, entry 0 has index "0", and
// counts of 0 and empty lists are there.
func TestGeneratedClient(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	ctx := context.Background()
	as := func(role auth.Role, scope string) apiclient.RequestEditorFn {
		tok := s.Token(role, scope)
		return func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+tok)
			return nil
		}
	}
	c, err := apiclient.NewClientWithResponses(s.URL)
	require.NoError(t, err)
	admin, handler := as(auth.RoleTenantAdmin, auth.ScopeAll), as(auth.RoleHandler, libraryUnit)

	health, err := c.HealthCheckWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, health.StatusCode())

	// registry
	unit, err := c.RegistryServiceGetUnitWithResponse(ctx, "jeongeup", "library", admin)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, unit.StatusCode(), string(unit.Body))
	require.Equal(t, libraryUnit, *unit.JSON200.Name)
	draft, err := c.RegistryServiceCreatePolicyVersionWithResponse(ctx, "jeongeup", "library", "privacy", nil, apiclient.V1PolicyVersion{}, admin)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, draft.StatusCode(), string(draft.Body))
	version := (*draft.JSON200.Name)[strings.LastIndex(*draft.JSON200.Name, "/")+1:]
	check, err := c.RegistryServiceCheckPolicyVersionWithResponse(ctx, "jeongeup", "library", "privacy", version, admin)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, check.StatusCode(), string(check.Body))
	require.NotNil(t, check.JSON200.Ready, "ready: false is written")
	require.False(t, *check.JSON200.Ready, string(check.Body))

	// ledger
	entry, err := c.LedgerServiceAppendEntryWithBodyWithResponse(ctx, "jeongeup", "library", nil, "application/json", strings.NewReader(
		`{"kind":"ENTRY_KIND_USE","occurTime":"2026-11-02T01:00:00Z","fileName":"중앙도서관 정문 CH01","counterparty":"시설관리팀",
		"counterpartyOfficer":"주무관 이시설","purpose":"출입문 고장 점검","form":"현장 열람","handler":"주무관 송승학",
		"legalBasis":"개인정보 보호법 제18조 제2항 제2호","items":["영상"]}`), handler)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, entry.StatusCode(), string(entry.Body))
	require.NotNil(t, entry.JSON200.Index)
	first, err := c.LedgerServiceGetEntryWithResponse(ctx, "jeongeup", "library", "0", handler)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, first.StatusCode(), string(first.Body))
	require.NotNil(t, first.JSON200.Index, "index 0 is written")
	require.Equal(t, "0", *first.JSON200.Index)

	// requests: a citizen's submission without a token, then the unit's overdue list
	submitted, err := c.RequestServiceSubmitRequestWithResponse(ctx, "jeongeup", "library", apiclient.RequestServiceSubmitRequestJSONRequestBody{
		RequestId: ptr("client-1"),
		Request: &apiclient.V1Request{Type: ptr(apiclient.V1RequestTypeREQUESTTYPEACCESS),
			Requester:   &apiclient.V1Person{Name: ptr("김민원"), Phone: ptr("010-1234-5678")},
			AccessItems: &[]apiclient.V1AccessItem{apiclient.ACCESSITEMCONTENT}},
	})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, submitted.StatusCode(), string(submitted.Body))
	require.Regexp(t, `^R-\d{4}-\d{6}$`, *submitted.JSON200.ReceiptNumber)
	overdue, err := c.RequestServiceListRequestsWithResponse(ctx, "jeongeup", "library", &apiclient.RequestServiceListRequestsParams{Overdue: ptr(true)}, handler)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, overdue.StatusCode(), string(overdue.Body))
	require.NotNil(t, overdue.JSON200.Requests, "an empty list is written")
	require.Empty(t, *overdue.JSON200.Requests)
	require.Equal(t, int32(0), *overdue.JSON200.OverdueCount)
	require.Equal(t, int32(0), *overdue.JSON200.DueSoonCount)

	// retention
	manager := as(auth.RoleManager, libraryUnit)
	sweep, err := c.RetentionServiceSweepUnitWithResponse(ctx, "jeongeup", "library", apiclient.RetentionServiceSweepUnitJSONRequestBody{}, manager)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, sweep.StatusCode(), string(sweep.Body))
	for name, n := range map[string]*string{"destroyed": sweep.JSON200.Destroyed, "planned": sweep.JSON200.Planned,
		"held": sweep.JSON200.Held, "overdue": sweep.JSON200.Overdue} {
		require.NotNil(t, n, name)
		require.Equal(t, "0", *n, name)
	}
	copies, err := c.RetentionServiceListCopiesWithResponse(ctx, "jeongeup", "library", &apiclient.RetentionServiceListCopiesParams{State: ptr("overdue")}, manager)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, copies.StatusCode(), string(copies.Body))
	require.NotNil(t, copies.JSON200.Copies)
	require.Empty(t, *copies.JSON200.Copies)

	// breaches (RequestService's neighbour): none yet, counts of 0
	breaches, err := c.BreachServiceListBreachesWithResponse(ctx, "jeongeup", "library", nil, handler)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, breaches.StatusCode(), string(breaches.Body))
	require.NotNil(t, breaches.JSON200.Breaches, "an empty list is written")
	require.Empty(t, *breaches.JSON200.Breaches)
	require.Equal(t, int32(0), *breaches.JSON200.OverdueCount)
	require.Equal(t, int32(0), *breaches.JSON200.DueSoonCount)
	// A breach learned of 71½ hours ago: its notice is due within the hour, 0 hours left, written.
	known := time.Now().Add(-71*time.Hour - 30*time.Minute).UTC().Format(time.RFC3339)
	breach, err := c.BreachServiceCreateBreachWithBodyWithResponse(ctx, "jeongeup", "library", nil, "application/json", strings.NewReader(
		`{"type":"BREACH_TYPE_LOSS_THEFT","knownTime":"`+known+`","cause":"BREACH_CAUSE_LOSS_THEFT","subjectCount":40,
		"circumstances":"대출 기록 출력물 분실"}`), as(auth.RoleCPO, libraryUnit))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, breach.StatusCode(), string(breach.Body))
	duty := (*breach.JSON200.Duties)[0]
	require.NotNil(t, duty.HoursLeft, "hoursLeft 0 is written: %s", breach.Body)
	require.Equal(t, "0", *duty.HoursLeft)
	require.NotNil(t, duty.Overdue, "overdue: false is written")
	require.False(t, *duty.Overdue)

	// outbound: the tenant has no subscription
	subs, err := c.OutboundServiceListSubscriptionsWithResponse(ctx, "jeongeup", nil, admin)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, subs.StatusCode(), string(subs.Body))
	require.NotNil(t, subs.JSON200.Subscriptions, "an empty list is written")
	require.Empty(t, *subs.JSON200.Subscriptions)

	// access records, handed in by another of the body's systems with a service credential
	ingested, err := c.AccessRecordServiceIngestAccessRecordsWithBodyWithResponse(ctx, "jeongeup", "library", "application/json", strings.NewReader(
		`{"batchId":"saeol-1","records":[{"system":"새올행정시스템","account":"clerk001","accessTime":"2026-11-02T01:00:00Z",
		"remoteAddr":"10.1.2.3","subject":"민원 2026-000001","action":"조회"}]}`), as(auth.RoleService, "tenants/jeongeup"))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, ingested.StatusCode(), string(ingested.Body))
	require.Equal(t, "saeol-1", *ingested.JSON200.BatchId)
	require.Len(t, *ingested.JSON200.Indexes, 1)

	// access reviews: none recorded, an empty list
	reviews, err := c.AccessReviewServiceListAccessReviewsWithResponse(ctx, "jeongeup", "library", manager)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, reviews.StatusCode(), string(reviews.Body))
	require.NotNil(t, reviews.JSON200.Reviews, "an empty list is written")
	require.Empty(t, *reviews.JSON200.Reviews)
	require.NotNil(t, reviews.JSON200.OverdueCount, "the count is written, 0 or not")

	// role-grant history (S-5): the tenant's, a list written even when empty
	grants, err := c.RoleGrantServiceListRoleGrantsWithResponse(ctx, "jeongeup", nil, admin)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, grants.StatusCode(), string(grants.Body))
	require.NotNil(t, grants.JSON200.RoleGrants, "the list is written: %s", grants.Body)

	// the registers' obligations of the unit: the counts are written, 0 or not
	obligations, err := c.RegistryServiceListObligations2WithResponse(ctx, "jeongeup", "library", nil, manager)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, obligations.StatusCode(), string(obligations.Body))
	require.NotNil(t, obligations.JSON200.Obligations)
	require.NotNil(t, obligations.JSON200.DueCount)
	require.NotNil(t, obligations.JSON200.OverdueCount)
	require.NotNil(t, obligations.JSON200.Missing, "an empty list is written")
	require.Empty(t, *obligations.JSON200.Missing, "every source answered")
}

// The generated client holds an operation of every service that has REST mappings, so that
// TestGeneratedClient has one to call: a service added to the protos without one fails here.
func TestGeneratedClientCoversEveryService(t *testing.T) {
	b, err := os.ReadFile("internal/apiclient/oapi-codegen.yaml")
	require.NoError(t, err)
	var cfg struct {
		OutputOptions struct {
			IncludeOperationIDs []string `yaml:"include-operation-ids"`
		} `yaml:"output-options"`
	}
	require.NoError(t, yaml.Unmarshal(b, &cfg))
	included := map[string]bool{}
	for _, id := range cfg.OutputOptions.IncludeOperationIDs {
		service, _, _ := strings.Cut(id, "_")
		included[service] = true
	}
	services := map[string]bool{}
	for _, id := range httpRules(t) {
		service, _, _ := strings.Cut(id, "_")
		services[service] = true
		require.True(t, included[service], "the generated client calls no method of %s", service)
	}
	require.Len(t, services, 9, "registry, ledger, access records, access reviews, role grants, requests, breaches, outbound, retention")
}

func ptr[T any](v T) *T { return &v }
