// Package apidoc builds the OpenAPI documents pipa serves, at `make generate` time: one per
// service and one merged, each in Swagger 2.0 (/openapi.json, what protoc-gen-openapiv2 writes)
// and OpenAPI 3.1 (/openapi.v3.json). It starts from protoc-gen-openapiv2's documents of the REST
// mappings (with expand_slashed_path_patterns, so that every id is a path parameter of its own)
// and adds what only pipa knows: the hand-written routes each module documents (Module.OpenAPI:
// exports, tiles, pages, health), the bearer security scheme with the public operations marked as
// needing none (Module.Public), the errors each operation can answer as google.rpc.Status with
// ErrorInfo, with examples written by pkg/apierr itself, and path parameters named as the
// telemetry names routes (server.RouteTemplate).
//
// The 3.1 rendering is converted by kin-openapi (openapi2conv, then openapi3conv's 3.0 → 3.1
// rewrites) rather than by hand, and validated by it; go-openapi/validate checks the 2.0 ones in
// the tests.
package apidoc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3conv"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"gopkg.in/yaml.v3"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/server"
)

// doc is a Swagger 2.0 document as JSON values, which keeps what the typed models drop (an
// operation's empty `security: []`).
type doc = map[string]any

// Files are the documents by file name: pipa.json and pipa.v3.json (every service), and
// {service}.json and {service}.v3.json.
type Files map[string][]byte

// Build makes the documents of built from protoc, the directory of protoc-gen-openapiv2's
// {service}.swagger.json.
func Build(built []modules.Module, protoc fs.FS) (Files, error) {
	edge, err := fragment(modules.EdgeOpenAPI)
	if err != nil {
		return nil, fmt.Errorf("edge routes: %w", err)
	}
	merged := newDoc("pipa", "Every pipa service's REST API, public pages, exports and ledger tiles.")
	files := Files{}
	for _, m := range built {
		d, err := serviceDoc(m, protoc, edge)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name, err)
		}
		if err := merge(merged, d); err != nil {
			return nil, fmt.Errorf("merging %s: %w", m.Name, err)
		}
		if err := files.add(m.Name, d); err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name, err)
		}
	}
	if err := files.add("pipa", merged); err != nil {
		return nil, err
	}
	return files, nil
}

func newDoc(title, description string) doc {
	return doc{
		"swagger": "2.0",
		"info": map[string]any{"title": title, "version": "v1", "description": description +
			" Errors are google.rpc.Status with an ErrorInfo (domain pipa) whose reason is stable; a rule of" +
			" the law a request breaks is named in a BadRequest field violation's reason and in the" +
			" ErrorInfo's metadata (rule), as LAW.md ids such as STD-41-2."},
		"consumes": []any{"application/json"},
		"produces": []any{"application/json"},
		"securityDefinitions": map[string]any{"bearer": map[string]any{
			"type": "apiKey", "in": "header", "name": "Authorization",
			"description": `"Bearer " and a JWT from the body's OpenID Provider (or, in development, from pipa token), whose roles claim grants pipa roles on tenants and units.`,
		}},
		"security":    []any{map[string]any{"bearer": []any{}}},
		"responses":   errorResponses(),
		"tags":        []any{},
		"paths":       map[string]any{},
		"definitions": map[string]any{},
	}
}

// serviceDoc is m's document: its REST mapping, its pages and the edge's routes.
func serviceDoc(m modules.Module, protoc fs.FS, edge doc) (doc, error) {
	b, err := fs.ReadFile(protoc, m.Name+".swagger.json")
	if err != nil {
		return nil, err
	}
	var gen doc
	if err := json.Unmarshal(b, &gen); err != nil {
		return nil, err
	}
	d := newDoc("pipa "+m.Name, "The "+m.Name+" service ("+m.Service+").")
	d["tags"] = gen["tags"]
	d["definitions"] = gen["definitions"]
	// protoc-gen-openapiv2 names an operation {Service}_{Method}; Public has /{package}.{Service}/{Method}.
	public := map[string]bool{}
	for full := range m.Public {
		service, method, _ := strings.Cut(strings.TrimPrefix(full, "/"), "/")
		public[service[strings.LastIndex(service, ".")+1:]+"_"+method] = true
	}
	paths := d["paths"].(map[string]any)
	for path, item := range gen["paths"].(map[string]any) {
		renamed, names := renamePath(path)
		for method, o := range item.(map[string]any) {
			op := o.(map[string]any)
			for _, p := range list(op["parameters"]) {
				if p := p.(map[string]any); p["in"] == "path" {
					p["name"] = names[p["name"].(string)]
					p["description"] = cmpOr(p["description"], "The "+p["name"].(string)+"'s id.")
				}
			}
			delete(op["responses"].(map[string]any), "default")
			if public[op["operationId"].(string)] {
				op["security"] = []any{}
			}
			addErrors(op, gatewayErrors(method, op, public[op["operationId"].(string)], d["definitions"].(map[string]any)))
			setOp(paths, renamed, method, op)
		}
	}
	for _, f := range [][]byte{m.OpenAPI, nil} {
		frag := edge
		if f != nil {
			if frag, err = fragment(f); err != nil {
				return nil, err
			}
		}
		if err := merge(d, frag); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// renamePath names the ids protoc-gen-openapiv2 expanded from a resource name (tenants/{tenant},
// ledger/entries/{entrie}) as server.RouteTemplate does (ledger/entries/{entry}), and says what
// each parameter was renamed to.
func renamePath(path string) (string, map[string]string) {
	names := map[string]string{}
	segs := strings.Split(path, "/")
	for i, s := range segs {
		name, ok := strings.CutPrefix(s, "{")
		if !ok {
			continue
		}
		name, verb, _ := strings.Cut(name, "}")
		to := name
		if i > 0 && name == strings.TrimSuffix(segs[i-1], "s") { // the plugin's singular
			to = server.ParamName(segs[i-1])
		}
		names[name] = to
		segs[i] = "{" + to + "}" + verb
	}
	return strings.Join(segs, "/"), names
}

// fragment reads a module's YAML fragment, its x- keys (anchors' homes) dropped.
func fragment(b []byte) (doc, error) {
	var y map[string]any
	if err := yaml.Unmarshal(b, &y); err != nil {
		return nil, err
	}
	// Through JSON, so that the values are what json.Unmarshal gives (yaml.v3 has ints).
	j, err := json.Marshal(y)
	if err != nil {
		return nil, err
	}
	var d doc
	if err := json.Unmarshal(j, &d); err != nil {
		return nil, err
	}
	for k := range d {
		if strings.HasPrefix(k, "x-") {
			delete(d, k)
		}
	}
	for _, item := range mapOf(d["paths"]) {
		for _, o := range item.(map[string]any) {
			op := o.(map[string]any)
			var statuses []int
			for _, c := range list(op["x-errors"]) {
				statuses = append(statuses, int(c.(float64)))
			}
			delete(op, "x-errors")
			addErrors(op, statuses)
		}
	}
	return d, nil
}

// merge adds from's paths, definitions and tags to into; an operation or a definition twice with
// two meanings is an error (the edge's routes are in every service's document, the same).
func merge(into, from doc) error {
	paths := into["paths"].(map[string]any)
	for path, item := range mapOf(from["paths"]) {
		for method, op := range item.(map[string]any) {
			if old, dup := mapOf(paths[path])[method]; dup && !jsonEqual(old, op) {
				return fmt.Errorf("%s %s is documented twice", strings.ToUpper(method), path)
			}
			setOp(paths, path, method, op)
		}
	}
	defs := into["definitions"].(map[string]any)
	for name, def := range mapOf(from["definitions"]) {
		if old, ok := defs[name]; ok && !jsonEqual(old, def) {
			return fmt.Errorf("definition %s differs between services", name)
		}
		defs[name] = def
	}
	tags := list(into["tags"])
	for _, t := range list(from["tags"]) {
		if !slices.ContainsFunc(tags, func(o any) bool { return o.(map[string]any)["name"] == t.(map[string]any)["name"] }) {
			tags = append(tags, t)
		}
	}
	into["tags"] = tags
	return nil
}

func setOp(paths map[string]any, path, method string, op any) {
	item, ok := paths[path].(map[string]any)
	if !ok {
		item = map[string]any{}
		paths[path] = item
	}
	item[method] = op
}

// gatewayErrors are the statuses a REST mapping's operation can answer with: any request can be
// invalid (400) or meet a service that is down (503); one that needs a token can be refused it
// (401, 403); one that names a resource can find none (404); one that changes something can meet
// an existing id or a concurrent change (409), and a stale etag if it sends one (412); a public
// one is rate-limited (429).
func gatewayErrors(method string, op map[string]any, public bool, defs map[string]any) []int {
	statuses := []int{http.StatusBadRequest}
	if !public {
		statuses = append(statuses, http.StatusUnauthorized, http.StatusForbidden)
	}
	named := false
	etag := false
	for _, p := range list(op["parameters"]) {
		p := p.(map[string]any)
		named = named || p["in"] == "path"
		etag = etag || p["name"] == "etag" || (p["in"] == "body" && hasEtag(p["schema"], defs))
	}
	if named {
		statuses = append(statuses, http.StatusNotFound)
	}
	if method != "get" {
		statuses = append(statuses, http.StatusConflict)
	}
	if etag {
		statuses = append(statuses, http.StatusPreconditionFailed)
	}
	if public {
		statuses = append(statuses, http.StatusTooManyRequests)
	}
	return append(statuses, http.StatusServiceUnavailable)
}

// hasEtag says whether a body schema (or the definition it refers to) has an etag field.
func hasEtag(schema any, defs map[string]any) bool {
	s := mapOf(schema)
	if ref, ok := s["$ref"].(string); ok {
		s = mapOf(defs[strings.TrimPrefix(ref, "#/definitions/")])
	}
	_, ok := mapOf(s["properties"])["etag"]
	return ok
}

// errorAnswers say, for each status, what it means and an example as pipa writes it; the
// documents hold each once, under responses, and the operations refer to them.
var errorAnswers = map[int]struct {
	name, description string
	example           *status.Status
}{
	http.StatusBadRequest: {"BadRequest", "The request is invalid: a field breaks a rule (BadRequest field " +
		"violations; the ErrorInfo's metadata names the LAW.md rule), the body is not JSON for this method " +
		"(MALFORMED_BODY, with its line, column and byte offset), a path or query value is not UTF-8, or the " +
		"resource's state does not allow the change (FailedPrecondition, e.g. POLICY_INCOMPLETE). Nothing was changed.",
		apierr.Invalid(apierr.Violation{Field: "site.retention_days", Rule: "STD-41-2",
			Description: "45 days is more than the 30 days a public body keeps CCTV footage; give site.retention_reason"}).GRPCStatus()},
	http.StatusUnauthorized: {"Unauthenticated", "No bearer token, or one that is malformed (TOKEN_MALFORMED), " +
		"expired (TOKEN_EXPIRED) or not issued by the configured OpenID Provider (TOKEN_INVALID).",
		apierr.Unauthenticated("TOKEN_EXPIRED", "bearer token expired").GRPCStatus()},
	http.StatusForbidden: {"PermissionDenied", "The token's roles do not cover this resource (PERMISSION_DENIED).",
		apierr.Denied("handler on tenants/jeongeup/units/library does not cover tenants/iksan/units/civil-safety").GRPCStatus()},
	http.StatusNotFound: {"NotFound", "No such resource (NOT_FOUND, metadata resource), or it is not visible to the caller.",
		apierr.NotFound("tenants/jeongeup/units/library/sites/annex").GRPCStatus()},
	http.StatusConflict: {"Conflict", "The resource exists already (ALREADY_EXISTS; a retry with the same " +
		"request_id returns the first answer instead), or a concurrent change won (CONCURRENT_CHANGE): read and retry.",
		apierr.AlreadyExists("tenants/jeongeup/units/library/sites/annex").GRPCStatus()},
	http.StatusPreconditionFailed: {"PreconditionFailed", "The etag sent is not the resource's current one " +
		"(ETAG_MISMATCH): someone changed it since it was read. Read it again and retry.",
		apierr.EtagMismatch("tenants/jeongeup/units/library/sites/annex").GRPCStatus()},
	http.StatusTooManyRequests: {"RateLimited", "The per-client rate limit of public endpoints (RATE_LIMITED); " +
		"Retry-After says in how many seconds to retry.",
		apierr.RateLimited("rate limit exceeded, retry later").GRPCStatus()},
	http.StatusServiceUnavailable: {"Unavailable", "A service or the database this call needs cannot be " +
		"reached (UNAVAILABLE): retry later.",
		server.InfoStatus(codes.Unavailable, "UNAVAILABLE", "the ledger service cannot be reached; retry later")},
	0: {"Unexpected", "An unexpected error (INTERNAL): the server logs it; retry later.",
		server.InfoStatus(codes.Internal, "INTERNAL", "internal error")},
}

var errorHeaders = map[int]map[string]any{
	http.StatusUnauthorized:    {"WWW-Authenticate": map[string]any{"type": "string", "description": "RFC 6750's Bearer challenge."}},
	http.StatusTooManyRequests: {"Retry-After": map[string]any{"type": "integer", "description": "Seconds to wait."}},
}

// errorResponses are the documents' shared error answers, by name.
func errorResponses() map[string]any {
	out := map[string]any{}
	for c, a := range errorAnswers {
		b, err := server.JSON.Marshal(a.example.Proto())
		if err != nil {
			panic(err)
		}
		var ex any
		_ = json.Unmarshal(b, &ex)
		r := map[string]any{
			"description": a.description,
			"schema":      map[string]any{"$ref": "#/definitions/rpcStatus"},
			"examples":    map[string]any{"application/json": ex},
		}
		if h, ok := errorHeaders[c]; ok {
			r["headers"] = h
		}
		out[a.name] = r
	}
	return out
}

// addErrors refers op to the error answers of statuses, and to the unexpected one as its default.
func addErrors(op map[string]any, statuses []int) {
	if len(statuses) == 0 {
		return
	}
	rs, ok := op["responses"].(map[string]any)
	if !ok {
		rs = map[string]any{}
		op["responses"] = rs
	}
	for _, c := range statuses {
		a, ok := errorAnswers[c]
		if !ok {
			panic(fmt.Sprintf("apidoc: no error answer for %d", c))
		}
		rs[strconv.Itoa(c)] = map[string]any{"$ref": "#/responses/" + a.name}
	}
	rs["default"] = map[string]any{"$ref": "#/responses/" + errorAnswers[0].name}
}

// add writes d and its 3.1 rendering as name.json and name.v3.json.
func (f Files) add(name string, d doc) error {
	b, err := marshal(d)
	if err != nil {
		return err
	}
	var v2 openapi2.T
	if err := json.Unmarshal(b, &v2); err != nil {
		return err
	}
	v3, err := openapi2conv.ToV3(&v2)
	if err != nil {
		return fmt.Errorf("converting to OpenAPI 3: %w", err)
	}
	// OpenAPI 3 has the bearer scheme that Swagger 2.0 could only describe as an apiKey.
	v3.Components.SecuritySchemes["bearer"] = &openapi3.SecuritySchemeRef{Value: &openapi3.SecurityScheme{
		Type: "http", Scheme: "bearer", BearerFormat: "JWT",
		Description: v3.Components.SecuritySchemes["bearer"].Value.Description,
	}}
	exampleParams(v3)
	ctx := context.Background()
	if err := v3.Validate(ctx); err != nil {
		return fmt.Errorf("OpenAPI 3.0 rendering: %w", err)
	}
	openapi3conv.Upgrade(v3)
	v3.OpenAPI = "3.1.1" // openapi3conv writes its latest 3.x; the document uses nothing after 3.1
	if err := v3.Validate(ctx); err != nil {
		return fmt.Errorf("OpenAPI 3.1 rendering: %w", err)
	}
	b3, err := marshal(v3)
	if err != nil {
		return err
	}
	f[name+".json"], f[name+".v3.json"] = b, b3
	return nil
}

// paramExamples are example values of the path parameters, from the seeds' Jeongeup library.
var paramExamples = map[string]any{
	"tenant": "jeongeup", "unit": "library", "kind": "cctv", "site": "central", "number": 2,
	"version": "2", "entry": "0", "request": "R-2026-000001", "receipt": "R-2026-000001",
}

// exampleParams gives the path parameters of v3 examples (OpenAPI 3 allows them on parameters).
func exampleParams(v3 *openapi3.T) {
	for _, item := range v3.Paths.Map() {
		for _, op := range item.Operations() {
			for _, p := range op.Parameters {
				if ex, ok := paramExamples[p.Value.Name]; ok && p.Value.In == "path" && p.Value.Schema != nil {
					if p.Value.Schema.Value.Type.Is("integer") {
						ex = json.Number(fmt.Sprint(ex))
					} else {
						ex = fmt.Sprint(ex)
					}
					p.Value.Example = ex
				}
			}
		}
	}
}

// marshal is indented JSON with sorted keys, so that the files are stable and diffable.
func marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

func mapOf(v any) map[string]any { m, _ := v.(map[string]any); return m }
func list(v any) []any           { l, _ := v.([]any); return l }

func cmpOr(v any, def string) any {
	if s, _ := v.(string); s != "" {
		return s
	}
	return def
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
