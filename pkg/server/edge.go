package server

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"

	"github.com/pipa-kr/pipa/pkg/apierr"
)

// ContentSecurityPolicy is what an HTML page may load and who may frame it, on every answer whose
// handler does not set its own: styles inline, nothing else, and no framing (clickjacking). On a
// JSON answer it is inert, and setting it everywhere costs less than looking at each answer's type.
const ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// The security headers' values, shared by every answer (set without allocating); http.Header's
// Set and Add replace or copy a value, never change it in place.
var nosniff, csp = []string{"nosniff"}, []string{ContentSecurityPolicy}

// methods are those pipa routes use, in the order an Allow header lists them.
var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

type edgeKey struct{}

// edgeState is what the edge gives a request: a slot for the route it took, as "METHOD
// /template", which whichever handler served it fills (the gateway's middleware or a page's
// pattern) for telemetry; and the methods that have a route for it, for a 405's Allow.
type edgeState struct {
	route   string
	allowed func(*http.Request) []string
}

type probeKey struct{}

// probe asks the gateway whether it has a route for a request without serving it.
type probe struct{ matched bool }

// edge is what every request passes through before routing: the security headers (nosniff, and
// a Content-Security-Policy that a page may replace with its own), HEAD served as GET, and the
// route it took recorded on r for the telemetry around it (telemetry.HTTP reads r.Pattern for
// span names and the http.route attribute).
func edge(mux *http.ServeMux, gateway http.Handler, next http.Handler) http.Handler {
	allowed := func(r *http.Request) []string { return allowedMethods(mux, gateway, r) }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Content-Type-Options"], h["Content-Security-Policy"] = nosniff, csp
		st := &edgeState{allowed: allowed}
		in := r.WithContext(context.WithValue(r.Context(), edgeKey{}, st))
		if r.Method == http.MethodHead {
			// net/http drops the body of an answer to HEAD; the handlers answer it as GET.
			in.Method = http.MethodGet
		}
		next.ServeHTTP(w, in)
		r.Pattern = st.route
	})
}

func edgeOf(r *http.Request) *edgeState {
	st, _ := r.Context().Value(edgeKey{}).(*edgeState)
	return st
}

// page serves a hand-written route: its path and query must be UTF-8, and the pattern that
// served it (the innermost mux's, when h is a mux) names its route.
func page(pattern string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := pageUTF8(pattern, r); err != nil {
			writePageError(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
		if st := edgeOf(r); st != nil && r.Pattern != "" {
			st.route = r.Pattern
		}
	})
}

// pageUTF8 names the wildcard of pattern, or the query parameter, that is not UTF-8.
func pageUTF8(pattern string, r *http.Request) *apierr.Error {
	if !utf8.ValidString(r.URL.Path) {
		for _, seg := range strings.Split(pattern, "/") {
			if name, ok := strings.CutPrefix(seg, "{"); ok {
				name = strings.TrimSuffix(strings.TrimSuffix(name, "}"), "...")
				if !utf8.ValidString(r.PathValue(name)) {
					return notUTF8(name, "path parameter")
				}
			}
		}
		return notUTF8("path", "path")
	}
	return checkQueryUTF8(r)
}

// writePageError answers a refused page request as the page would: a Korean HTML page for the
// public pages under /p/ (naming the part of the address at fault), google.rpc.Status JSON
// elsewhere.
func writePageError(w http.ResponseWriter, r *http.Request, err *apierr.Error) {
	s := err.GRPCStatus()
	if strings.HasPrefix(r.URL.Path, "/p/") {
		what := "주소"
		if len(err.Violations) > 0 {
			what = "주소의 <code>" + html.EscapeString(err.Violations[0].Field) + "</code> 부분"
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "<!doctype html>\n<html lang=\"ko\"><head><meta charset=\"utf-8\"><title>잘못된 주소</title></head>\n"+
			"<body><main><h1>잘못된 주소입니다.</h1><p>%s에 쓸 수 없는 문자가 있습니다(UTF-8이 아닙니다).</p>"+
			"<p><a href=\"/p/\">게시 기관 목록으로</a></p></main></body></html>\n", what)
		return
	}
	b, _ := JSON.Marshal(s.Proto())
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(runtime.HTTPStatusFromCode(s.Code()))
	_, _ = w.Write(b)
}

// routingError answers a request the gateway has no route for: 405 with Allow when another
// method has one here (a page's or the gateway's), else 404.
func routingError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, code int) {
	if _, ok := r.Context().Value(probeKey{}).(*probe); ok {
		return
	}
	var allow []string
	if st := edgeOf(r); st != nil && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) {
		allow = st.allowed(r)
	}
	if len(allow) == 0 && code != http.StatusMethodNotAllowed {
		e := &apierr.Error{Kind: apierr.KindNotFound, Reason: "NO_ROUTE", Message: "no route for " + strings.ToValidUTF8(r.URL.Path, "\uFFFD")}
		if code != http.StatusNotFound {
			e = &apierr.Error{Kind: apierr.KindInvalid, Reason: "BAD_PATH", Message: "the path " + strings.ToValidUTF8(r.URL.Path, "\uFFFD") + " is not valid"}
		}
		writeError(ctx, mux, m, w, r, e.GRPCStatus().Err())
		return
	}
	msg := "method " + r.Method + " is not allowed here"
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		msg += "; allowed: " + strings.Join(allow, ", ")
	}
	writeError(ctx, mux, m, w, r, &runtime.HTTPStatusError{HTTPStatus: http.StatusMethodNotAllowed,
		Err: InfoStatus(codes.Unimplemented, "METHOD_NOT_ALLOWED", msg).Err()})
}

// allowedMethods are the methods with a route for r's path: a page's, or the gateway's, which is
// asked with a probe that its middleware stops before any handler runs.
func allowedMethods(mux *http.ServeMux, gateway http.Handler, r *http.Request) []string {
	var out []string
	for _, m := range methods {
		if m == http.MethodHead {
			continue
		}
		p := &probe{}
		req := r.Clone(context.WithValue(context.WithoutCancel(r.Context()), probeKey{}, p))
		req.Method, req.Body, req.ContentLength = m, http.NoBody, 0
		req.Header.Del("X-HTTP-Method-Override")
		req.Header.Del("Content-Type")
		if _, pattern := mux.Handler(req); pattern != "" && pattern != "/" {
			p.matched = true
		} else {
			gateway.ServeHTTP(discard{}, req)
		}
		if p.matched {
			out = append(out, m)
			if m == http.MethodGet {
				out = append(out, http.MethodHead)
			}
		}
	}
	return out
}

// probed stops a probe as soon as the gateway has matched its route.
func probed(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if p, ok := r.Context().Value(probeKey{}).(*probe); ok {
			p.matched = true
			return
		}
		next(w, r, params)
	}
}

// namedRoute records the gateway route a request took as its template.
func namedRoute(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if st := edgeOf(r); st != nil {
			if p, ok := runtime.HTTPPattern(r.Context()); ok {
				st.route = r.Method + " " + routeTemplate(p.String())
			}
		}
		next(w, r, params)
	}
}

// discard is a ResponseWriter for probes, which write nothing.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}
