package registry

import (
	"bytes"
	"compress/gzip"
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
	"google.golang.org/protobuf/proto"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/server"
	"github.com/pipa-kr/pipa/services/registry/render"
)

const (
	// pageTTL bounds how long a public page may lag behind an announcement.
	pageTTL = 2 * time.Second
	// fillTimeout bounds a cache fill, which callers share.
	fillTimeout = 10 * time.Second
)

// Pages are the public pages by pattern, served through the registry's gRPC API so that the
// gateway needs no database: the bare host (/, sent to /p/), the bodies (/p/), a body's index
// (/p/{tenant}), a unit's page (/p/{tenant}/{unit}, with the notices it has posted up now:
// outsourcing, and breaches with WithPostings), the policy in force (/p/{tenant}/{unit}/{kind}), any published version
// (…/versions/{number}) and its frozen document as published (…/versions/{number}/document.html
// and .txt, the bytes whose SHA-256 the ledger holds), and the JSON twins under /v1/public/
// (GetPublicIndex, GetPublishedPolicy and GetPublishedPolicyVersion's, cached). Every answer
// carries an ETag and Cache-Control; a matching If-None-Match costs a 304. Answers are shared for
// pageTTL. Errors are Korean pages with a way back. With WithLedgerKeys, policy pages show the
// unit's ledger key.
func Pages(client registryv1.RegistryServiceClient, opts ...PageOption) map[string]http.Handler {
	p := &pages{client: client, cache: newMicrocache[answer](4096, pageTTL, func(err error) bool {
		c := status.Code(err)
		return c == codes.NotFound || c == codes.InvalidArgument
	}), keys: newMicrocache[LedgerKey](4096, pageTTL, func(error) bool { return false }),
		posts: newMicrocache[[]render.Posting](4096, pageTTL, func(error) bool { return false })}
	for _, opt := range opts {
		opt(&p.opts)
	}
	html := func(maxAge string, get func(r *http.Request) (answer, error)) http.HandlerFunc {
		cc := cacheControl(maxAge)
		return func(w http.ResponseWriter, r *http.Request) {
			a, err := get(r)
			if err != nil {
				p.errorPage(w, r, err)
				return
			}
			a.write(w, r, cc, false)
		}
	}
	data := func(maxAge string, get func(r *http.Request) (answer, error)) http.HandlerFunc {
		cc := cacheControl(maxAge)
		return func(w http.ResponseWriter, r *http.Request) {
			a, err := get(r)
			if err != nil {
				st := status.Convert(err)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(httpStatus(st.Code()))
				b, _ := server.JSON.Marshal(st.Proto())
				_, _ = w.Write(b)
				return
			}
			a.write(w, r, cc, true)
		}
	}
	// The version in force changes by date; a numbered version only by its period's end; a frozen
	// document never.
	return map[string]http.Handler{
		"GET /p/{$}":                                             html("public, max-age=60", p.bodies),
		"GET /p/{tenant}":                                        html("public, max-age=60", p.index),
		"GET /p/{tenant}/{unit}":                                 html("public, max-age=60", p.unit),
		"GET /p/{tenant}/{unit}/{kind}":                          html("public, max-age=60", p.policyPage),
		"GET /p/{tenant}/{unit}/{kind}/versions/{number}":        html("public, max-age=300", p.policyPage),
		"GET /p/{tenant}/{unit}/{kind}/versions/{number}/{file}": html("public, max-age=86400, immutable", p.document),
		"GET /p/{tenant}/{unit}/outsourcing/{notice}":            html("public, max-age=60", p.posting),
		"GET /{$}": http.HandlerFunc(home),
		"GET /p/": html("", func(*http.Request) (answer, error) {
			return answer{}, status.Error(codes.NotFound, "no such page")
		}),
		"GET /v1/public/tenants/{tenant}":                                                data("public, max-age=60", p.index),
		"GET /v1/public/tenants/{tenant}/units/{unit}/policies/{kind}":                   data("public, max-age=60", p.policy),
		"GET /v1/public/tenants/{tenant}/units/{unit}/policies/{kind}/versions/{number}": data("public, max-age=300", p.policy),
	}
}

// home answers the bare host: a browser is sent to the list of bodies, and the answer is Korean
// HTML (the API is under /v1/ and answers JSON, the gateway's 404 included).
func home(w http.ResponseWriter, _ *http.Request) {
	body := render.Home()
	h := w.Header()
	h.Set("Location", "/p/")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusFound)
	_, _ = w.Write([]byte(body))
}

// answer is a cached page: its HTML (or other content), its JSON twin and its ETag; for a page
// kept as a file (compressed), the HTML's gzip too.
type answer struct {
	etag        string
	contentType string
	// cacheControl, when set, replaces the route's (a page made without all its parts is not kept).
	cacheControl string
	body, json   []byte
	gz           []byte
	// msg is the message the answer was made from (a published policy, a body's index), decoded
	// once and shared by every reader of the cache: read only.
	msg proto.Message
	// hv are its header values, made once for an answer kept as a file (compressed).
	hv *answerHeaders
}

// answerHeaders are the values of an answer's headers as net/http keeps them ([]string), made
// once so that serving a kept page allocates none: they are shared by every answer and must not
// be changed in place (http.Header's Set and Add replace or copy them).
type answerHeaders struct {
	etag, gzETag, contentType, length, gzLength, jsonLength []string
}

// Header values that never change, shared as answerHeaders are.
var (
	varyEncoding = headerValue("Accept-Encoding")
	gzipEncoding = headerValue("gzip")
	jsonType     = headerValue("application/json")
	htmlType     = headerValue("text/html; charset=utf-8")
)

// headerValue is v as one header value; see answerHeaders.
func headerValue(v string) []string { return []string{v} }

// cacheControl is a route's Cache-Control value: none when empty.
func cacheControl(v string) []string {
	if v == "" {
		return nil
	}
	return headerValue(v)
}

// headers are a's header values: those made with it, or made now.
func (a answer) headers() *answerHeaders {
	if a.hv != nil {
		return a.hv
	}
	hv := &answerHeaders{etag: headerValue(a.etag), contentType: htmlType,
		length: headerValue(strconv.Itoa(len(a.body))), jsonLength: headerValue(strconv.Itoa(len(a.json)))}
	if a.contentType != "" {
		hv.contentType = headerValue(a.contentType)
	}
	if a.gz != nil {
		hv.gzETag, hv.gzLength = headerValue(strings.TrimSuffix(a.etag, `"`)+`-gzip"`), headerValue(strconv.Itoa(len(a.gz)))
	}
	return hv
}

// compressed is a with the gzip of its body, made once so that every reader that accepts gzip
// gets those bytes as from a file (precompressed, as a static file server serves page.html.gz),
// and with its header values.
func (a answer) compressed() answer {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	_, _ = zw.Write(a.body)
	if zw.Close() == nil && b.Len() < len(a.body) {
		a.gz = b.Bytes()
	}
	a.hv = a.headers()
	return a
}

// write answers with the page as a static file server would: its ETag (with a -gzip suffix for
// the gzip representation, RFC 9110 8.8.3), 304 for a matching If-None-Match, its length, and
// the gzip bytes when the client accepts them. cc is the route's Cache-Control value.
func (a answer) write(w http.ResponseWriter, r *http.Request, cc []string, asJSON bool) {
	h, hv := w.Header(), a.headers()
	body, etag, length := a.body, hv.etag, hv.length
	if asJSON {
		body, length = a.json, hv.jsonLength
	} else if a.gz != nil {
		h["Vary"] = varyEncoding
		if acceptsGzip(r) {
			body, etag, length = a.gz, hv.gzETag, hv.gzLength
			h["Content-Encoding"] = gzipEncoding
		}
	}
	h["Etag"] = etag
	if a.cacheControl != "" {
		cc = headerValue(a.cacheControl)
	}
	if cc != nil {
		h["Cache-Control"] = cc
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for tag := range strings.SplitSeq(inm, ",") {
			if t := strings.TrimSpace(tag); t == etag[0] || t == "*" {
				h.Del("Content-Encoding")
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
	}
	if asJSON {
		h["Content-Type"] = jsonType
	} else {
		h["Content-Type"] = hv.contentType
	}
	h["Content-Length"] = length
	_, _ = w.Write(body)
}

// acceptsGzip reports whether r's Accept-Encoding takes gzip (not with q=0).
func acceptsGzip(r *http.Request) bool {
	for e := range strings.SplitSeq(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(e), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			q := strings.ReplaceAll(params, " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

type pages struct {
	client registryv1.RegistryServiceClient
	cache  *microcache[answer]
	opts   pageOptions
	keys   *microcache[LedgerKey]
	posts  *microcache[[]render.Posting]
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
		b, err := server.JSON.Marshal(x)
		return answer{etag: x.GetEtag(), body: []byte(render.Index(t, x.GetDisplayName(), units)), json: b, msg: x}, err
	})
	if err != nil {
		return nil, answer{}, err
	}
	return a.msg.(*registryv1.PublicIndex), a, nil
}

func (p *pages) index(r *http.Request) (answer, error) {
	_, a, err := p.indexOf(r, r.PathValue("tenant"))
	return a, err
}

func (p *pages) unit(r *http.Request) (answer, error) {
	t, u := r.PathValue("tenant"), r.PathValue("unit")
	idx, _, err := p.indexOf(r, t)
	if err != nil {
		return answer{}, err
	}
	for _, x := range idx.GetUnits() {
		if x.GetUnit() == u {
			ps, ok := p.postingsOf(r, t, u)
			body := render.Unit(t, idx.GetDisplayName(), render.IndexUnit{ID: u, FullName: x.GetFullName(), Policies: x.GetPolicies()}, ps, ok)
			a := answer{etag: etagOf(body), body: []byte(body)}
			if !ok {
				a.cacheControl = "no-store"
			}
			return a, nil
		}
	}
	return answer{}, status.Error(codes.NotFound, "no unit "+u+" in "+t)
}

// posting fetches a notice's posting (DEC-28-5) while it is up: {notice} is "{processor}.{n}"
// (NoticePostingPath; a processor's id has no dot).
func (p *pages) posting(r *http.Request) (answer, error) {
	t, u := r.PathValue("tenant"), r.PathValue("unit")
	proc, num, _ := strings.Cut(r.PathValue("notice"), ".")
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 1 {
		return answer{}, status.Error(codes.NotFound, "no such notice")
	}
	return p.call(r, "notice/"+t+"/"+u+"/"+proc+"/"+strconv.FormatInt(n, 10), func(ctx context.Context) (answer, error) {
		x, err := p.client.GetNoticePosting(ctx, &registryv1.GetNoticePostingRequest{Tenant: t, Unit: u, Processor: proc, Notice: n})
		if err != nil {
			return answer{}, err
		}
		body := render.NoticePosting(t, u, x)
		return answer{etag: etagOf(body), body: []byte(body)}, nil
	})
}

// published fetches a policy page: the version in force, or version n.
func (p *pages) published(r *http.Request) (answer, error) {
	t, u, kind := r.PathValue("tenant"), r.PathValue("unit"), r.PathValue("kind")
	n := int64(0)
	if v := r.PathValue("number"); v != "" {
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
		b, err := server.JSON.Marshal(x)
		return answer{etag: x.GetEtag(), body: []byte(x.GetHtml()), json: b, msg: x}, err
	})
}

func (p *pages) policy(r *http.Request) (answer, error) {
	return p.published(r)
}

// policyPage is a policy page, with the unit's ledger key when the ledger runs. The page as
// served is made once per pageTTL and kept as a file server keeps a file: its final bytes, their
// gzip, their ETag (see answer.write).
func (p *pages) policyPage(r *http.Request) (answer, error) {
	return p.cache.get("page "+r.PathValue("tenant")+"/"+r.PathValue("unit")+"/"+r.PathValue("kind")+"/"+r.PathValue("number"), func() (answer, error) {
		a, err := p.published(r)
		if err != nil {
			return a, err
		}
		// The ETag stays the version's, which the JSON twin has too (STD-20).
		a.body = p.opts.withLedgerKey(r.Context(), p.keys, r.PathValue("tenant"), r.PathValue("unit"), a.body)
		return a.compressed(), nil
	})
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
	if t := r.PathValue("tenant"); t != "" && names.ValidID(t) {
		if idx, _, err := p.indexOf(r, t); err == nil {
			back, label = "/p/"+t, idx.GetDisplayName()+" 방침 목록으로"
			if u := r.PathValue("unit"); u != "" {
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
