package registry

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/registry/render"
)

const (
	// pageTTL bounds how long a public page may lag behind an announcement.
	pageTTL = 2 * time.Second
	// fillTimeout bounds a cache fill, which callers share.
	fillTimeout = 10 * time.Second
)

// Pages serves the public pages through the registry's gRPC API, so that the gateway needs no
// database: the bodies (/p/), a body's index (/p/{t}), a unit's page (/p/{t}/{u}), the policy
// in force (/p/{t}/{u}/{kind}), any published version (…/versions/{n}) and its frozen document
// as published (…/versions/{n}/document.html and .txt, the bytes whose SHA-256 the ledger holds),
// and the JSON twins under /v1/public/. Every answer carries an ETag and Cache-Control; a
// matching If-None-Match costs a 304. Answers are shared for pageTTL. Errors are Korean pages
// with a way back. With WithLedgerKeys, policy pages show the unit's ledger key.
func Pages(client registryv1.RegistryServiceClient, opts ...PageOption) http.Handler {
	p := &pages{client: client, cache: newMicrocache[answer](4096, pageTTL, func(err error) bool {
		c := status.Code(err)
		return c == codes.NotFound || c == codes.InvalidArgument
	}), keys: newMicrocache[LedgerKey](4096, pageTTL, func(error) bool { return false })}
	for _, opt := range opts {
		opt(&p.opts)
	}
	mux := http.NewServeMux()
	html := func(maxAge string, get func(r *http.Request) (answer, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			a, err := get(r)
			if err != nil {
				p.errorPage(w, r, err)
				return
			}
			a.write(w, r, maxAge, false)
		}
	}
	data := func(maxAge string, get func(r *http.Request) (answer, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			a, err := get(r)
			if err != nil {
				st := status.Convert(err)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(httpStatus(st.Code()))
				b, _ := protojson.Marshal(st.Proto())
				_, _ = w.Write(b)
				return
			}
			a.write(w, r, maxAge, true)
		}
	}
	// The version in force changes by date; a numbered version only by its period's end; a frozen
	// document never.
	mux.Handle("GET /p/{$}", html("public, max-age=60", p.bodies))
	mux.Handle("GET /p/{t}", html("public, max-age=60", p.index))
	mux.Handle("GET /p/{t}/{u}", html("public, max-age=60", p.unit))
	mux.Handle("GET /p/{t}/{u}/{kind}", html("public, max-age=60", p.policyPage))
	mux.Handle("GET /p/{t}/{u}/{kind}/versions/{n}", html("public, max-age=300", p.policyPage))
	mux.Handle("GET /p/{t}/{u}/{kind}/versions/{n}/{file}", html("public, max-age=86400, immutable", p.document))
	mux.Handle("GET /p/", html("", func(*http.Request) (answer, error) {
		return answer{}, status.Error(codes.NotFound, "no such page")
	}))
	mux.Handle("GET /v1/public/tenants/{t}", data("public, max-age=60", p.index))
	mux.Handle("GET /v1/public/tenants/{t}/units/{u}/policies/{kind}", data("public, max-age=60", p.policy))
	mux.Handle("GET /v1/public/tenants/{t}/units/{u}/policies/{kind}/versions/{n}", data("public, max-age=300", p.policy))
	return mux
}

// PagePatterns are the paths Pages serves, for mounting it beside the REST gateway.
var PagePatterns = []string{"GET /p/", "GET /v1/public/tenants/{t}", "GET /v1/public/tenants/{t}/units/{u}/policies/{kind}",
	"GET /v1/public/tenants/{t}/units/{u}/policies/{kind}/versions/{n}"}

// answer is a cached page: its HTML (or other content), its JSON twin and its ETag.
type answer struct {
	etag        string
	contentType string
	body, json  []byte
	// msg is the message the answer was made from (a published policy, a body's index), decoded
	// once and shared by every reader of the cache: read only.
	msg proto.Message
}

func (a answer) write(w http.ResponseWriter, r *http.Request, cacheControl string, asJSON bool) {
	h := w.Header()
	h.Set("ETag", a.etag)
	if cacheControl != "" {
		h.Set("Cache-Control", cacheControl)
	}
	h.Set("X-Content-Type-Options", "nosniff")
	for _, tag := range strings.Split(r.Header.Get("If-None-Match"), ",") {
		if t := strings.TrimSpace(tag); t == a.etag || t == "*" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	if asJSON {
		h.Set("Content-Type", "application/json")
		_, _ = w.Write(a.json)
		return
	}
	h.Set("Content-Type", cmp.Or(a.contentType, "text/html; charset=utf-8"))
	_, _ = w.Write(a.body)
}

type pages struct {
	client registryv1.RegistryServiceClient
	cache  *microcache[answer]
	opts   pageOptions
	keys   *microcache[LedgerKey]
}

// call runs a cached fill for key with a context that outlives the request (the fill is shared by
// every caller of key) and carries the client's address for the rate limits.
func (p *pages) call(r *http.Request, key string, fill func(ctx context.Context) (answer, error)) (answer, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), fillTimeout)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "x-forwarded-for", clientChain(r))
	return p.cache.get(key, func() (answer, error) { return fill(ctx) })
}

func (p *pages) bodies(r *http.Request) (answer, error) {
	return p.call(r, "bodies", func(ctx context.Context) (answer, error) {
		var all []*registryv1.PublicIndex
		for token := ""; ; {
			resp, err := p.client.ListPublicBodies(ctx, &registryv1.ListPublicBodiesRequest{PageSize: 500, PageToken: token})
			if err != nil {
				return answer{}, err
			}
			all = append(all, resp.GetBodies()...)
			if token = resp.GetNextPageToken(); token == "" {
				break
			}
		}
		body := render.Bodies(all)
		return answer{etag: etagOf(body), body: []byte(body)}, nil
	})
}

func (p *pages) indexOf(r *http.Request, t string) (*registryv1.PublicIndex, answer, error) {
	a, err := p.call(r, "index/"+t, func(ctx context.Context) (answer, error) {
		x, err := p.client.GetPublicIndex(ctx, &registryv1.GetPublicIndexRequest{Tenant: t})
		if err != nil {
			return answer{}, err
		}
		var units []render.IndexUnit
		for _, u := range x.GetUnits() {
			units = append(units, render.IndexUnit{ID: u.GetUnit(), FullName: u.GetFullName(), Depth: u.GetDepth(), Policies: u.GetPolicies()})
		}
		b, err := protojson.Marshal(x)
		return answer{etag: x.GetEtag(), body: []byte(render.Index(t, x.GetDisplayName(), units)), json: b, msg: x}, err
	})
	if err != nil {
		return nil, answer{}, err
	}
	return a.msg.(*registryv1.PublicIndex), a, nil
}

func (p *pages) index(r *http.Request) (answer, error) {
	_, a, err := p.indexOf(r, r.PathValue("t"))
	return a, err
}

func (p *pages) unit(r *http.Request) (answer, error) {
	t, u := r.PathValue("t"), r.PathValue("u")
	idx, a, err := p.indexOf(r, t)
	if err != nil {
		return answer{}, err
	}
	for _, x := range idx.GetUnits() {
		if x.GetUnit() == u {
			body := render.Unit(t, idx.GetDisplayName(), render.IndexUnit{ID: u, FullName: x.GetFullName(), Policies: x.GetPolicies()})
			return answer{etag: `"u` + strings.Trim(a.etag, `"`) + `"`, body: []byte(body)}, nil
		}
	}
	return answer{}, status.Error(codes.NotFound, "no unit "+u+" in "+t)
}

// published fetches a policy page: the version in force, or version n.
func (p *pages) published(r *http.Request) (answer, error) {
	t, u, kind := r.PathValue("t"), r.PathValue("u"), r.PathValue("kind")
	n := int64(0)
	if v := r.PathValue("n"); v != "" {
		var err error
		if n, err = strconv.ParseInt(v, 10, 32); err != nil || n < 1 {
			return answer{}, status.Error(codes.NotFound, "no such version")
		}
	}
	return p.call(r, t+"/"+u+"/"+kind+"/"+strconv.FormatInt(n, 10), func(ctx context.Context) (answer, error) {
		var x *registryv1.PublishedPolicy
		var err error
		if n == 0 {
			x, err = p.client.GetPublishedPolicy(ctx, &registryv1.GetPublishedPolicyRequest{Tenant: t, Unit: u, Kind: kind})
		} else {
			x, err = p.client.GetPublishedPolicyVersion(ctx, &registryv1.GetPublishedPolicyVersionRequest{Tenant: t, Unit: u, Kind: kind, Number: int32(n)})
		}
		if err != nil {
			return answer{}, err
		}
		b, err := protojson.Marshal(x)
		return answer{etag: x.GetEtag(), body: []byte(x.GetHtml()), json: b, msg: x}, err
	})
}

func (p *pages) policy(r *http.Request) (answer, error) {
	return p.published(r)
}

// policyPage is a policy page, with the unit's ledger key when the ledger runs.
func (p *pages) policyPage(r *http.Request) (answer, error) {
	a, err := p.published(r)
	if err == nil {
		a.body = p.opts.withLedgerKey(r.Context(), p.keys, r.PathValue("t"), r.PathValue("u"), a.body)
	}
	return a, err
}

// document serves a frozen document's exact bytes: document.html or document.txt.
func (p *pages) document(r *http.Request) (answer, error) {
	file := r.PathValue("file")
	if file != "document.html" && file != "document.txt" {
		return answer{}, status.Error(codes.NotFound, "no such file")
	}
	a, err := p.published(r)
	if err != nil {
		return answer{}, err
	}
	d := a.msg.(*registryv1.PublishedPolicy).GetVersion().GetDocument()
	if d == nil {
		return answer{}, status.Error(codes.NotFound, "pipa holds no text of this version")
	}
	if file == "document.txt" {
		return answer{etag: `"` + d.GetTextSha256() + `"`, contentType: "text/plain; charset=utf-8", body: []byte(d.GetText())}, nil
	}
	return answer{etag: `"` + d.GetHtmlSha256() + `"`, body: []byte(d.GetHtml())}, nil
}

func etagOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return `"` + hex.EncodeToString(h[:16]) + `"`
}

// errorPage answers an error in Korean, with a way back: to the body's index when the address
// names a body that exists, else to the list of bodies.
func (p *pages) errorPage(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := http.StatusServiceUnavailable, "일시적으로 페이지를 표시할 수 없습니다. 잠시 후 다시 시도해 주십시오."
	switch status.Code(err) {
	case codes.NotFound, codes.InvalidArgument:
		code, msg = http.StatusNotFound, "요청하신 페이지를 찾을 수 없습니다."
	case codes.ResourceExhausted:
		w.Header().Set("Retry-After", "1")
		code, msg = http.StatusTooManyRequests, "요청이 너무 많습니다. 잠시 후 다시 시도해 주십시오."
	}
	back, label := "/p/", "게시 기관 목록으로"
	if t := r.PathValue("t"); t != "" && names.ValidID(t) {
		if idx, _, err := p.indexOf(r, t); err == nil {
			back, label = "/p/"+t, idx.GetDisplayName()+" 방침 목록으로"
			if u := r.PathValue("u"); u != "" {
				for _, x := range idx.GetUnits() {
					if x.GetUnit() == u {
						back, label = "/p/"+t+"/"+u, x.GetFullName()+" 페이지로"
					}
				}
			}
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(render.ErrorPage(msg, back, label)))
}

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
