package apidoc

import (
	"context"
	"encoding/json"
	"io/fs"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-openapi/loads"
	"github.com/go-openapi/strfmt"
	"github.com/go-openapi/validate"
	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/gen/openapi"
)

// documents are the served documents by file name.
func documents(t *testing.T) map[string][]byte {
	t.Helper()
	names, err := fs.Glob(openapi.FS, "*.json")
	require.NoError(t, err)
	require.Len(t, names, 10, "pipa and the four services, each in 2.0 and 3.1")
	out := map[string][]byte{}
	for _, n := range names {
		b, err := fs.ReadFile(openapi.FS, n)
		require.NoError(t, err)
		out[n] = b
	}
	return out
}

// Every document is valid: the Swagger 2.0 ones under go-openapi/validate (the spec's JSON Schema
// and its semantic rules: unique operation ids, path parameters declared, references resolved,
// examples matching their schemas), the 3.1 ones under kin-openapi. go-openapi takes some 8 s of
// CPU for the five; the subtests do not run in parallel, which would only share the same cores.
func TestDocumentsAreValid(t *testing.T) {
	for name, b := range documents(t) {
		t.Run(name, func(t *testing.T) {
			if strings.HasSuffix(name, ".v3.json") {
				doc, err := openapi3.NewLoader().LoadFromData(b)
				require.NoError(t, err)
				require.Equal(t, "3.1.1", doc.OpenAPI)
				require.NoError(t, doc.Validate(context.Background()))
				return
			}
			doc, err := loads.Analyzed(b, "2.0")
			require.NoError(t, err)
			v := validate.NewSpecValidator(doc.Schema(), strfmt.Default)
			v.Options.SkipSchemataResult = true // what matched is not needed, only whether it did
			errs, _ := v.Validate(doc)
			require.True(t, errs.IsValid(), "%v", errs.Errors)
		})
	}
}

type operation struct {
	OperationID string                     `json:"operationId"`
	Security    *[]map[string][]string     `json:"security"`
	Responses   map[string]json.RawMessage `json:"responses"`
}

func operations(t *testing.T, b []byte) map[string]operation {
	t.Helper()
	var d struct {
		Paths map[string]map[string]operation `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(b, &d))
	out := map[string]operation{}
	for _, item := range d.Paths {
		for _, op := range item {
			out[op.OperationID] = op
		}
	}
	return out
}

// The bearer scheme holds everywhere but on the public operations, which say they need none; the
// error answers follow what each operation can meet.
func TestSecurityAndErrors(t *testing.T) {
	ops := operations(t, documents(t)["pipa.json"])
	statuses := func(op operation) []string {
		var out []string
		for code := range op.Responses {
			out = append(out, code)
		}
		return out
	}
	// Public: no token, rate-limited, never 401 or 403.
	for _, id := range []string{"RegistryService_GetPublishedPolicy", "RequestService_SubmitRequest",
		"RequestService_GetRequestStatus", "LedgerService_GetVerifierKey", "LedgerTiles_GetPublicTile"} {
		op := ops[id]
		require.NotNil(t, op.Security, id)
		require.Empty(t, *op.Security, id)
		require.Contains(t, statuses(op), "429", id)
		require.NotContains(t, statuses(op), "401", id)
	}
	// Staff: the document's bearer scheme, 401 and 403; an update sending an etag can be 412.
	site := ops["RegistryService_UpdateSite"]
	require.Nil(t, site.Security, "inherits the bearer scheme")
	require.Subset(t, statuses(site), []string{"400", "401", "403", "404", "409", "412", "503", "default"})
	require.NotContains(t, statuses(site), "429")
	require.NotContains(t, statuses(ops["RegistryService_ListTenants"]), "404", "names no resource")
	require.NotContains(t, statuses(ops["RegistryService_GetUnit"]), "409", "changes nothing")
	require.Equal(t, json.RawMessage(`{"$ref":"#/responses/PreconditionFailed"}`), compact(t, site.Responses["412"]))
}

// The shared error answers' examples are what pipa writes: a google.rpc.Status with an ErrorInfo.
func TestErrorExamples(t *testing.T) {
	var d struct {
		Responses map[string]struct {
			Examples map[string]struct {
				Code    int `json:"code"`
				Details []struct {
					Type   string `json:"@type"`
					Reason string `json:"reason"`
					Domain string `json:"domain"`
				} `json:"details"`
			} `json:"examples"`
		} `json:"responses"`
	}
	require.NoError(t, json.Unmarshal(documents(t)["pipa.json"], &d))
	want := map[string]string{"BadRequest": "INVALID_ARGUMENT", "Unauthenticated": "TOKEN_EXPIRED",
		"PermissionDenied": "PERMISSION_DENIED", "NotFound": "NOT_FOUND", "Conflict": "ALREADY_EXISTS",
		"PreconditionFailed": "ETAG_MISMATCH", "RateLimited": "RATE_LIMITED", "Unavailable": "UNAVAILABLE",
		"Unexpected": "INTERNAL"}
	require.Len(t, d.Responses, len(want))
	for name, reason := range want {
		ex := d.Responses[name].Examples["application/json"]
		require.NotZero(t, ex.Code, name)
		require.Equal(t, "type.googleapis.com/google.rpc.ErrorInfo", ex.Details[0].Type, name)
		require.Equal(t, reason, ex.Details[0].Reason, name)
		require.Equal(t, "pipa", ex.Details[0].Domain, name)
	}
}

// Ids are named after their collection, as the telemetry names routes.
func TestRenamePath(t *testing.T) {
	for in, want := range map[string]string{
		"/v1/tenants/{tenant}/units/{unit}/ledger/entries/{entrie}:prove":            "/v1/tenants/{tenant}/units/{unit}/ledger/entries/{entry}:prove",
		"/v1/tenants/{tenant}/units/{unit}/policies/{policie}/versions":              "/v1/tenants/{tenant}/units/{unit}/policies/{kind}/versions",
		"/v1/tenants/{tenant}/units/{unit}/copies/{copie}":                           "/v1/tenants/{tenant}/units/{unit}/copies/{copy}",
		"/v1/tenants/{tenant}/units/{unit}/breaches/{breache}:notify":                "/v1/tenants/{tenant}/units/{unit}/breaches/{breach}:notify",
		"/v1/public/requests/{receipt}":                                              "/v1/public/requests/{receipt}",
		"/v1/public/tenants/{tenant}/units/{unit}/policies/{kind}/versions/{number}": "/v1/public/tenants/{tenant}/units/{unit}/policies/{kind}/versions/{number}",
	} {
		got, _ := renamePath(in)
		require.Equal(t, want, got)
	}
}

func compact(t *testing.T, b json.RawMessage) json.RawMessage {
	var v any
	require.NoError(t, json.Unmarshal(b, &v))
	out, err := json.Marshal(v)
	require.NoError(t, err)
	return out
}
