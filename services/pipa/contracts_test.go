package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/auth"
	"github.com/pipa-kr/pipa/pkg/stacktest"
)

// What a department's frontend or another agency's system relies on at the REST edge, whatever
// the route: errors as google.rpc.Status with a reason, a body or URL that cannot be read refused
// as a 400 that says where, methods answered as HTTP says, and the security headers.

// apiError is a google.rpc.Status as the gateway writes it.
type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Type            string            `json:"@type"`
		Reason          string            `json:"reason"`
		Metadata        map[string]string `json:"metadata"`
		FieldViolations []struct {
			Field, Description, Reason string
		} `json:"fieldViolations"`
	} `json:"details"`
}

func (e apiError) reason() string {
	for _, d := range e.Details {
		if strings.HasSuffix(d.Type, "ErrorInfo") {
			return d.Reason
		}
	}
	return ""
}

func (e apiError) metadata() map[string]string {
	for _, d := range e.Details {
		if strings.HasSuffix(d.Type, "ErrorInfo") {
			return d.Metadata
		}
	}
	return nil
}

func (e apiError) field() (string, string) {
	for _, d := range e.Details {
		for _, v := range d.FieldViolations {
			return v.Field, v.Reason
		}
	}
	return "", ""
}

// call sends a request to s with the headers given (name, value pairs): its status, headers and body.
func call(t *testing.T, s *stack, method, path, body string, headers ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	r, err := s.HTTP.Do(req)
	require.NoError(t, err)
	return r.StatusCode, r.Header, stacktest.Body(t, r)
}

func decodeError(t *testing.T, body string) apiError {
	t.Helper()
	var e apiError
	require.NoError(t, json.Unmarshal([]byte(body), &e), body)
	return e
}

// A body that is not JSON for the method is a 400 MALFORMED_BODY naming the line, the column
// and the byte, and changes nothing.
func TestMalformedBody(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	bearer := "Bearer " + s.Token(auth.RoleTenantAdmin, auth.ScopeAll)
	sites := "/v1/" + libraryUnit + "/sites"
	_, _, before := call(t, s, http.MethodGet, sites, "", "Authorization", bearer)
	for _, c := range []struct {
		name, body                 string
		line, column, offset, want string
	}{
		{"a trailing comma", "{\n  \"displayName\": \"별관\",\n}", "3", "1", "29", "invalid character '}'"},
		{"an unknown field", "{\"displayName\": \"별관\",\n \"audio\": true}", "2", "2", "27", `unknown field "audio"`},
		{"a string for a number", `{"cameraCount": "six"}`, "1", "17", "16", "invalid value for int32 field cameraCount"},
		{"cut short", `{"displayName": "별`, "1", "19", "20", "not complete"},
		{"two values", `{} {}`, "1", "4", "3", "after the JSON value"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, body := call(t, s, http.MethodPost, sites+"?siteId=annex", c.body, "Authorization", bearer)
			require.Equal(t, http.StatusBadRequest, code, body)
			e := decodeError(t, body)
			require.Equal(t, 3, e.Code)
			require.Equal(t, "MALFORMED_BODY", e.reason(), body)
			require.Equal(t, map[string]string{"line": c.line, "column": c.column, "offset": c.offset}, e.metadata(), body)
			field, rule := e.field()
			require.Equal(t, "body", field)
			require.Equal(t, "json", rule)
			require.Contains(t, e.Message, c.want)
		})
	}
	_, _, after := call(t, s, http.MethodGet, sites, "", "Authorization", bearer)
	require.Equal(t, before, after, "a refused body changed nothing")
}

// A path or query value that is not UTF-8 is a 400 naming it, on every kind of route: the REST
// mappings, the public JSON, the public pages, the tiles. Never a 500 or a 503.
func TestInvalidUTF8(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	bearer := "Bearer " + s.Token(auth.RoleTenantAdmin, auth.ScopeAll)
	for _, c := range []struct{ path, field string }{
		{"/v1/tenants/%ff/units/library", "tenant"},
		{"/v1/tenants/jeongeup/units/li%c3brary/sites", "unit"},
		{"/v1/tenants/jeongeup/units/library/sites?pageToken=%ff", "pageToken"},
		{"/v1/tenants?%ff%fe=1", "\uFFFD"},
		{"/v1/public/tenants/%ff/units/library/policies/cctv", "tenant"},
		{"/v1/public/tenants/jeongeup/units/library/policies/cctv/versions/%ff", "number"},
		{"/v1/public/requests/R-2026-000001?secret=%ff", "secret"},
		{"/v1/public/tenants/jeongeup", ""},
		{"/v1/public/tenants/jeongeup/units/library/ledger/tiles/tile/0/%ff", "path"},
		{"/v1/tenants/jeongeup/units/library/ledger:export?format=%ff", "format"},
		// the routes added since: breaches, subscriptions, access reviews, the registers' export, PDFs
		{"/v1/tenants/jeongeup/units/library/breaches?pageToken=%ff", "pageToken"},
		{"/v1/tenants/jeongeup/units/library/breaches/%ff", "breach"},
		{"/v1/public/tenants/jeongeup/units/library/breaches/%ff/posting", "breach"},
		{"/v1/tenants/%ff/subscriptions", "tenant"},
		{"/v1/tenants/jeongeup/units/%ff/access-reviews", "unit"},
		{"/v1/tenants/jeongeup/files:exportRegistrations?format=%ff", "format"},
		{"/v1/tenants/jeongeup/units/library/requests/1/notices/%ff/pdf", "notice"},
	} {
		t.Run(c.path, func(t *testing.T) {
			code, _, body := call(t, s, http.MethodGet, c.path, "", "Authorization", bearer)
			if c.field == "" { // a control: the same route with valid values
				require.Equal(t, http.StatusOK, code, body)
				return
			}
			require.Equal(t, http.StatusBadRequest, code, body)
			e := decodeError(t, body)
			require.Equal(t, "INVALID_ARGUMENT", e.reason(), body)
			field, rule := e.field()
			require.Equal(t, c.field, field, body)
			require.Equal(t, "utf8", rule)
		})
	}
	// The public pages answer with a page naming it.
	for path, name := range map[string]string{"/p/%ff/library/cctv": "tenant", "/p/jeongeup/library/cctv/versions/%ff": "number",
		"/p/jeongeup/library/requests/new?type=%ff": "type", "/p/%ff": "tenant", "/p/jeongeup/library/notices/%ff": "breach"} {
		code, h, body := call(t, s, http.MethodGet, path, "")
		require.Equal(t, http.StatusBadRequest, code, path)
		require.True(t, strings.HasPrefix(h.Get("Content-Type"), "text/html"), path)
		require.Contains(t, body, "<code>"+name+"</code> 부분에 쓸 수 없는 문자", path)
	}
}

// A control character in a string of a body (a bell, an escape, a C1 control, or a bidirectional
// override that would print the sentence an officer's name is bound into backwards on the public
// page) is a 400 naming the field and the character, on every service, and changes nothing; tabs
// and line breaks are text.
func TestControlCharacters(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	bearer := "Bearer " + s.Token(auth.RoleTenantAdmin, auth.ScopeAll)
	officers := "/v1/" + libraryUnit + "/officers"
	requests := "/v1/" + libraryUnit + "/requests"
	_, _, officersBefore := call(t, s, http.MethodGet, officers, "", "Authorization", bearer)
	_, _, requestsBefore := call(t, s, http.MethodGet, requests, "", "Authorization", bearer)
	for _, c := range []struct{ name, path, body, field, char string }{
		{"a bell", officers + "?officerId=bell", `{"displayName":"김\u0007철수","roles":["OFFICER_ROLE_HANDLER"]}`,
			"officer.display_name", "U+0007"},
		{"a right-to-left override", officers + "?officerId=rlo", `{"displayName":"김철수\u202e","roles":["OFFICER_ROLE_HANDLER"]}`,
			"officer.display_name", "U+202E"},
		{"a C1 control", officers + "?officerId=c1", `{"displayName":"김철수","title":"주무관\u0085","roles":["OFFICER_ROLE_HANDLER"]}`,
			"officer.title", "U+0085"},
		{"an escape in a public request", "/v1/public/tenants/jeongeup/units/library/requests",
			`{"requestId":"ctl-1","request":{"type":"REQUEST_TYPE_ACCESS","accessItems":["ACCESS_ITEM_CONTENT"],
			"requester":{"name":"홍길동\u001b[2J","phone":"010-1234-5678"},"purpose":"열람"}}`, "request.requester.name", "U+001B"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, body := call(t, s, http.MethodPost, c.path, c.body, "Authorization", bearer)
			require.Equal(t, http.StatusBadRequest, code, body)
			e := decodeError(t, body)
			require.Equal(t, "INVALID_ARGUMENT", e.reason(), body)
			field, rule := e.field()
			require.Equal(t, c.field, field, body)
			require.Equal(t, "format", rule)
			require.Contains(t, e.Message, c.char)
		})
	}
	_, _, officersAfter := call(t, s, http.MethodGet, officers, "", "Authorization", bearer)
	require.Equal(t, officersBefore, officersAfter, "a refused officer changed nothing")
	_, _, requestsAfter := call(t, s, http.MethodGet, requests, "", "Authorization", bearer)
	require.Equal(t, requestsBefore, requestsAfter, "a refused request changed nothing")

	code, _, body := call(t, s, http.MethodPost, officers+"?officerId=tabs", `{"displayName":"김철수","affiliation":"교통정책과\n\t교통행정팀\r\n",`+
		`"roles":["OFFICER_ROLE_HANDLER"]}`, "Authorization", bearer)
	require.Equal(t, http.StatusOK, code, body)
}

// A method a route does not have is 405 with the methods it has; HEAD is served wherever GET is.
func TestMethods(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	bearer := "Bearer " + s.Token(auth.RoleTenantAdmin, auth.ScopeAll)
	for _, c := range []struct{ method, path, allow string }{
		{http.MethodPut, "/v1/tenants/jeongeup", "GET, HEAD, PATCH"},
		{http.MethodDelete, "/v1/tenants/jeongeup/units/library/sites", "GET, HEAD, POST"},
		{http.MethodPost, "/v1/tenants/jeongeup/units/library/ledger/checkpoint", "GET, HEAD"},
		{http.MethodDelete, "/p/jeongeup/library/cctv", "GET, HEAD"},
		{http.MethodPut, "/p/jeongeup/library/requests", "GET, HEAD, POST"},
		{http.MethodPost, "/openapi.json", "GET, HEAD"},
		{http.MethodPost, "/healthz", "GET, HEAD"},
		{http.MethodPatch, "/v1/public/tenants/jeongeup/units/library/ledger/tiles/checkpoint", "GET, HEAD"},
		{http.MethodDelete, "/v1/tenants/jeongeup/units/library/breaches", "GET, HEAD, POST"},
		{http.MethodPut, "/v1/tenants/jeongeup/subscriptions", "GET, HEAD, POST"},
		{http.MethodPost, "/v1/tenants/jeongeup/files:exportRegistrations", "GET, HEAD"},
		{http.MethodPost, "/v1/tenants/jeongeup/units/library/requests/1/notices/1/pdf", "GET, HEAD"},
		{http.MethodPost, "/p/jeongeup/library/notices/1", "GET, HEAD"},
	} {
		code, h, body := call(t, s, c.method, c.path, "", "Authorization", bearer)
		require.Equal(t, http.StatusMethodNotAllowed, code, "%s %s: %s", c.method, c.path, body)
		require.Equal(t, c.allow, h.Get("Allow"), "%s %s", c.method, c.path)
		require.Equal(t, "METHOD_NOT_ALLOWED", decodeError(t, body).reason())
	}
	code, _, body := call(t, s, http.MethodGet, "/v1/nothing/here", "")
	require.Equal(t, http.StatusNotFound, code)
	require.Equal(t, "NO_ROUTE", decodeError(t, body).reason())

	for _, path := range []string{"/v1/tenants/jeongeup", "/v1/public/tenants/jeongeup/units/library/policies/cctv",
		"/p/jeongeup/library/cctv", "/healthz", "/openapi.json", "/v1/public/tenants/jeongeup/units/library/ledger/tiles/checkpoint",
		"/v1/tenants/jeongeup/subscriptions", "/v1/tenants/jeongeup/obligations", "/v1/tenants/jeongeup/files:exportRegistrations"} {
		_, getHeaders, getBody := call(t, s, http.MethodGet, path, "", "Authorization", bearer)
		code, h, body := call(t, s, http.MethodHead, path, "", "Authorization", bearer)
		require.Equal(t, http.StatusOK, code, path)
		require.Empty(t, body, path)
		require.NotEmpty(t, getBody, path)
		require.Equal(t, getHeaders.Get("Content-Type"), h.Get("Content-Type"), path)
	}
}

// Every answer says nosniff; every HTML page, a Content-Security-Policy that forbids framing.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	bearer := "Bearer " + s.Token(auth.RoleAuditor, "tenants/jeongeup")
	html := 0
	for _, path := range []string{
		"/v1/tenants/jeongeup/units", "/v1/tenants/jeongeup/units/nobody", "/v1/nothing", "/healthz", "/openapi.json",
		"/v1/public/tenants/jeongeup/units/library/policies/cctv", "/v1/public/tenants/jeongeup/units/library/ledger/tiles/checkpoint",
		"/v1/tenants/jeongeup/units/library/ledger:export",
		"/p/", "/p/jeongeup", "/p/jeongeup/library", "/p/jeongeup/library/cctv", "/p/jeongeup/library/cctv/versions/1",
		"/p/jeongeup/library/privacy", "/p/nowhere/at/all/here", "/p/jeongeup/library/requests/new", "/p/requests/status",
	} {
		_, h, _ := call(t, s, http.MethodGet, path, "", "Authorization", bearer)
		require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), path)
		if strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			html++
			require.Contains(t, h.Get("Content-Security-Policy"), "frame-ancestors 'none'", path)
			require.Contains(t, h.Get("Content-Security-Policy"), "default-src 'none'", path)
		}
	}
	require.GreaterOrEqual(t, html, 9, "the pages were HTML")

	// The routes added since: breaches (the posting page and its JSON), subscriptions, access
	// reviews, obligations, a notice's PDF, a ledger tile; each answers nosniff, and the posting
	// page, an HTML page even when there is no such notice, its CSP.
	for _, path := range []string{
		"/v1/tenants/jeongeup/units/library/breaches", "/v1/tenants/jeongeup/subscriptions",
		"/v1/tenants/jeongeup/units/library/access-reviews", "/v1/tenants/jeongeup/obligations",
		"/v1/public/tenants/jeongeup/units/library/breaches/1/posting",
		"/v1/tenants/jeongeup/units/library/requests/1/notices/1/pdf",
		"/v1/public/tenants/jeongeup/units/library/ledger/tiles/tile/entries/000",
	} {
		_, h, _ := call(t, s, http.MethodGet, path, "", "Authorization", bearer)
		require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), path)
	}
	code, h, body := call(t, s, http.MethodGet, "/p/jeongeup/library/notices/1", "")
	require.Equal(t, http.StatusNotFound, code, body)
	require.True(t, strings.HasPrefix(h.Get("Content-Type"), "text/html"), h.Get("Content-Type"))
	require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
	require.Contains(t, h.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	// The exports, as CSV and as XLSX: files a browser must not sniff into something else.
	admin := "Bearer " + s.Token(auth.RoleTenantAdmin, auth.ScopeAll)
	for path, mediaType := range map[string]string{
		"/v1/tenants/jeongeup/units/library/ledger:export?format=csv":  "text/csv",
		"/v1/tenants/jeongeup/units/library/ledger:export?format=xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"/v1/tenants/jeongeup/files:exportRegistrations?format=csv":    "text/csv",
		"/v1/tenants/jeongeup/files:exportRegistrations?format=xlsx":   "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	} {
		code, h, body := call(t, s, http.MethodGet, path, "", "Authorization", admin)
		require.Equal(t, http.StatusOK, code, "%s: %s", path, body)
		require.True(t, strings.HasPrefix(h.Get("Content-Type"), mediaType), "%s: %s", path, h.Get("Content-Type"))
		require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), path)
	}
	// A form's answer too.
	req, err := http.NewRequest(http.MethodPost, s.URL+"/p/requests/status", strings.NewReader("receipt=R-2026-000001&secret=x"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r, err := s.HTTP.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, r.Body)
	r.Body.Close()
	require.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"))
	require.Contains(t, r.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
}
