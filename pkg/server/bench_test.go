package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/trace/noop"
)

// The edge's cost per request (pkg/server/BENCHMARKS.md): a small page served by a bare mux, by
// the mux behind otelhttp alone (what the edge was before issue 13), and behind Handler
// (otelhttp, the security headers, HEAD, the route's name, the UTF-8 check), with a tracer that
// records nothing as a process that exports no traces has, in one process with no network.
func BenchmarkEdge(b *testing.B) {
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><title>방침</title><p>개인정보 처리방침</p>"))
	})
	bare := http.NewServeMux()
	bare.Handle("GET /p/{tenant}/{unit}/{kind}", page)
	edge := Handler(HTTPOptions{Gateway: NewGatewayMux(), Pages: map[string]http.Handler{"GET /p/{tenant}/{unit}/{kind}": page},
		Tracer: noop.NewTracerProvider()}, nil)
	for _, c := range []struct {
		name string
		h    http.Handler
		path string
	}{
		{"bare", bare, "/p/jeongeup/library/cctv"},
		{"otelhttp", otelhttp.NewHandler(bare, "pipa.http", otelhttp.WithTracerProvider(noop.NewTracerProvider())), "/p/jeongeup/library/cctv"},
		{"edge", edge, "/p/jeongeup/library/cctv"},
		{"edge-query", edge, "/p/jeongeup/library/cctv?v=%EC%A0%95"},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, c.path, nil)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				c.h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
