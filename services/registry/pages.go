package registry

import (
	"context"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
)

// pageTTL bounds how long a public page may lag behind an announcement.
const pageTTL = 2 * time.Second

// Pages serves the public HTML pages of published policies — GET /p/{t}/{u}/{kind} (the version in
// force) and GET /p/{t}/{u}/{kind}/versions/{n} — through the registry's gRPC API, so the gateway
// needs no database. Responses carry the document's ETag; a matching If-None-Match costs a 304.
func Pages(client registryv1.RegistryServiceClient) http.Handler {
	mux := http.NewServeMux()
	cache := newMicrocache[*registryv1.PublishedPolicy](4096, pageTTL)
	mux.HandleFunc("GET /p/{t}/{u}/{kind}", func(w http.ResponseWriter, r *http.Request) {
		// The cache fill must not die with the first caller's request.
		ctx := context.WithoutCancel(r.Context())
		p, err := cache.get(r.URL.Path, func() (*registryv1.PublishedPolicy, error) {
			return client.GetPublishedPolicy(ctx, &registryv1.GetPublishedPolicyRequest{
				Tenant: r.PathValue("t"), Unit: r.PathValue("u"), Kind: r.PathValue("kind")})
		})
		writePage(w, r, p, err, "public, max-age=60")
	})
	mux.HandleFunc("GET /p/{t}/{u}/{kind}/versions/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.PathValue("n"), 10, 32)
		if err != nil {
			writeError(w, http.StatusNotFound, "해당 버전을 찾을 수 없습니다.")
			return
		}
		ctx := context.WithoutCancel(r.Context())
		p, err := cache.get(r.URL.Path, func() (*registryv1.PublishedPolicy, error) {
			return client.GetPublishedPolicyVersion(ctx, &registryv1.GetPublishedPolicyVersionRequest{
				Tenant: r.PathValue("t"), Unit: r.PathValue("u"), Kind: r.PathValue("kind"), Number: int32(n)})
		})
		writePage(w, r, p, err, "public, max-age=300")
	})
	return mux
}

func writePage(w http.ResponseWriter, r *http.Request, p *registryv1.PublishedPolicy, err error, cache string) {
	if err != nil {
		switch status.Code(err) {
		case codes.NotFound, codes.InvalidArgument:
			writeError(w, http.StatusNotFound, "게시된 방침을 찾을 수 없습니다.")
		case codes.ResourceExhausted:
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusTooManyRequests, "요청이 너무 많습니다. 잠시 후 다시 시도해 주십시오.")
		default:
			writeError(w, http.StatusServiceUnavailable, "일시적으로 방침을 표시할 수 없습니다.")
		}
		return
	}
	h := w.Header()
	h.Set("ETag", p.GetEtag())
	h.Set("Cache-Control", cache)
	if match := r.Header.Get("If-None-Match"); match != "" && match == p.GetEtag() {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write([]byte(p.GetHtml()))
}

var errorPage = template.Must(template.New("e").Parse(`<!doctype html>
<html lang="ko"><head><meta charset="utf-8"><title>{{.}}</title></head>
<body><main><h1>{{.}}</h1><p><a href="/">처음으로</a></p></main></body></html>
`))

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_ = errorPage.Execute(w, msg)
}
