package server

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Routes are named by their template, each id by its collection, as the OpenAPI document names them.
func TestRouteTemplate(t *testing.T) {
	for pattern, want := range map[string]string{
		"/v1/{parent=tenants/*/units/*}/requests":                  "/v1/tenants/{tenant}/units/{unit}/requests",
		"/v1/{name=tenants/*/units/*/policies/*/versions/*}:check": "/v1/tenants/{tenant}/units/{unit}/policies/{kind}/versions/{version}:check",
		"/v1/{name=tenants/*/units/*/ledger/entries/*}:prove":      "/v1/tenants/{tenant}/units/{unit}/ledger/entries/{entry}:prove",
		"/v1/{name=tenants/*/units/*/copies/*}:recordOutcome":      "/v1/tenants/{tenant}/units/{unit}/copies/{copy}:recordOutcome",
		"/v1/{settings.name=tenants/*/ledgerSettings}":             "/v1/tenants/{tenant}/ledgerSettings",
		"/v1/public/requests/{receipt=*}":                          "/v1/public/requests/{receipt}",
		"/v1/public/tenants/{tenant=*}/units/{unit=*}/ledger/key":  "/v1/public/tenants/{tenant}/units/{unit}/ledger/key",
		"/v1/tenants": "/v1/tenants",
		"/v1/{parent=tenants/*/units/*/requests/*}/notices": "/v1/tenants/{tenant}/units/{unit}/requests/{request}/notices",
		"/v1/{name=tenants/*/units/*/breaches/*}:notify":    "/v1/tenants/{tenant}/units/{unit}/breaches/{breach}:notify",
	} {
		require.Equal(t, want, RouteTemplate(pattern), pattern)
	}
}
