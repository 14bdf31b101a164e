package registry

import (
	"context"
	"html/template"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
)

const (
	// pageTTL bounds how long a public page may lag behind an announcement.
	pageTTL = 2 * time.Second
	// fillTimeout bounds a cache fill, which callers share.
	fillTimeout = 10 * time.Second
)

// Pages serves the published policies to the public, through the registry's gRPC API so that
// the gateway needs no database: the HTML pages GET /p/{t}/{u}/{kind} (the version in force)
// and /p/{t}/{u}/{kind}/versions/{n}, and their JSON twins under /v1/public/ (the same bodies
// grpc-gateway would give, plus caching). Every answer carries the document's ETag and
// Cache-Control; a matching If-None-Match costs a 304. Answers are shared for pageTTL.
func Pages(client registryv1.RegistryServiceClient, opts ...PageOption) http.Handler {
	var o pageOptions
	for _, opt := range opts {
		opt(&o)
	}
	keys := newMicrocache[LedgerKey](4096, pageTTL, func(error) bool { return false })
	cache := newMicrocache[published](4096, pageTTL, func(err error) bool {
		c := status.Code(err)
		return c == codes.NotFound || c == codes.InvalidArgument
	})
	fetch := func(r *http.Request) (published, error) {
		t, u, kind, n := r.PathValue("t"), r.PathValue("u"), r.PathValue("kind"), int64(0)
		if v := r.PathValue("n"); v != "" {
			var err error
			if n, err = strconv.ParseInt(v, 10, 32); err != nil || n < 1 {
				return published{}, status.Error(codes.NotFound, "no such version")
			}
		}
		key := t + "/" + u + "/" + kind + "/" + strconv.FormatInt(n, 10)
		// The fill is shared by every caller of key: it must not end with the first one.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), fillTimeout)
		defer cancel()
		ctx = metadata.AppendToOutgoingContext(ctx, "x-forwarded-for", clientChain(r))
		return cache.get(key, func() (published, error) {
			var p *registryv1.PublishedPolicy
			var err error
			if n == 0 {
				p, err = client.GetPublishedPolicy(ctx, &registryv1.GetPublishedPolicyRequest{Tenant: t, Unit: u, Kind: kind})
			} else {
				p, err = client.GetPublishedPolicyVersion(ctx, &registryv1.GetPublishedPolicyVersionRequest{
					Tenant: t, Unit: u, Kind: kind, Number: int32(n)})
			}
			if err != nil {
				return published{}, err
			}
			b, err := protojson.Marshal(p)
			return published{policy: p, html: []byte(p.GetHtml()), json: b}, err
		})
	}
	mux := http.NewServeMux()
	page := func(cacheControl string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			p, err := fetch(r)
			if err != nil {
				writeErrorPage(w, err)
				return
			}
			if notModified(w, r, p.policy, cacheControl) {
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(o.withLedgerKey(r.Context(), keys, r.PathValue("t"), r.PathValue("u"), p.html))
		}
	}
	data := func(cacheControl string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			p, err := fetch(r)
			if err != nil {
				st := status.Convert(err)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(httpStatus(st.Code()))
				b, _ := protojson.Marshal(st.Proto())
				_, _ = w.Write(b)
				return
			}
			if notModified(w, r, p.policy, cacheControl) {
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(p.json)
		}
	}
	// The version in force changes by date; a numbered version only by its period's end.
	mux.Handle("GET /p/{t}/{u}/{kind}", page("public, max-age=60"))
	mux.Handle("GET /p/{t}/{u}/{kind}/versions/{n}", page("public, max-age=300"))
	mux.Handle("GET /v1/public/tenants/{t}/units/{u}/policies/{kind}", data("public, max-age=60"))
	mux.Handle("GET /v1/public/tenants/{t}/units/{u}/policies/{kind}/versions/{n}", data("public, max-age=300"))
	return mux
}

// published is a cached answer: the document, and the bytes of its page and of its JSON.
type published struct {
	policy     *registryv1.PublishedPolicy
	html, json []byte
}

// PagePatterns are the paths Pages serves, for mounting it beside the REST gateway.
var PagePatterns = []string{"GET /p/", "GET /v1/public/tenants/{t}/units/{u}/policies/{kind}",
	"GET /v1/public/tenants/{t}/units/{u}/policies/{kind}/versions/{n}"}

// clientChain is the X-Forwarded-For the registry sees: the hops so far, then this request's peer.
func clientChain(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if prior := r.Header.Get("X-Forwarded-For"); prior != "" {
		return prior + ", " + host
	}
	return host
}

// notModified sets the caching headers and answers 304 when the client's copy is current.
func notModified(w http.ResponseWriter, r *http.Request, p *registryv1.PublishedPolicy, cacheControl string) bool {
	h := w.Header()
	h.Set("ETag", p.GetEtag())
	h.Set("Cache-Control", cacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	for _, tag := range strings.Split(r.Header.Get("If-None-Match"), ",") {
		if t := strings.TrimSpace(tag); t == p.GetEtag() || t == "*" {
			w.WriteHeader(http.StatusNotModified)
			return true
		}
	}
	return false
}

func httpStatus(c codes.Code) int {
	switch c {
	case codes.NotFound:
		return http.StatusNotFound
	case codes.InvalidArgument:
		return http.StatusBadRequest
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.DeadlineExceeded, codes.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

var errorPage = template.Must(template.New("e").Parse(`<!doctype html>
<html lang="ko"><head><meta charset="utf-8"><title>{{.}}</title></head>
<body><main><h1>{{.}}</h1><p><a href="/">처음으로</a></p></main></body></html>
`))

func writeErrorPage(w http.ResponseWriter, err error) {
	code, msg := http.StatusServiceUnavailable, "일시적으로 방침을 표시할 수 없습니다."
	switch status.Code(err) {
	case codes.NotFound, codes.InvalidArgument:
		code, msg = http.StatusNotFound, "게시된 방침을 찾을 수 없습니다."
	case codes.ResourceExhausted:
		w.Header().Set("Retry-After", "1")
		code, msg = http.StatusTooManyRequests, "요청이 너무 많습니다. 잠시 후 다시 시도해 주십시오."
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_ = errorPage.Execute(w, msg)
}
