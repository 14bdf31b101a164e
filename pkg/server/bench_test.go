package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	noopmetric "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/telemetry"
)

// The edge's cost per request (pkg/server/BENCHMARKS.md): a small page served by a bare mux, by
// the mux behind otelhttp alone (what the edge was before issue 13), behind telemetry.HTTP alone
// (what replaced otelhttp in issue 18), and behind Handler (telemetry.HTTP, the security headers,
// HEAD, the route's name, the UTF-8 check), with a tracer that
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
		{"telemetry", telemetry.HTTP(bare, noop.NewTracerProvider()), "/p/jeongeup/library/cctv"},
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

// appendEcho answers AppendEntry as the ledger does (the entry with its name, index, leaf hash,
// tree size and commit time) without a store: BenchmarkEdgeAppend measures what the edge costs an
// append, not the ledger.
type appendEcho struct {
	ledgerv1.UnimplementedLedgerServiceServer
}

func (appendEcho) AppendEntry(_ context.Context, req *ledgerv1.AppendEntryRequest) (*ledgerv1.Entry, error) {
	e := proto.CloneOf(req.GetEntry())
	e.Name, e.Index, e.TreeSize, e.LeafHash = req.GetParent()+"/entries/41", 41, 42, make([]byte, 32)
	e.CommitTime = timestamppb.Now()
	return e, nil
}

// What the edge costs one append over REST and over the in-process channel, in one process with
// no network and no store (services/ledger/BENCHMARKS.md, issue 18, third session): the request
// that loadbench sends (a bearer token, a JSON entry, a request id) through Handler (telemetry.HTTP,
// the security headers, the limits), the gateway (routing, metadata, decoding, the answer's JSON)
// and the in-process channel (the server stats handler, the interceptors: deadline, recovery,
// authentication with its cache, error translation, the control-character check), as pipa runs
// it: traces not sampled, metrics aggregated. And the same call over the in-process channel alone (gRPC's share
// without HTTP/2).
func BenchmarkEdgeAppend(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	otel.SetMeterProvider(mp)
	defer otel.SetMeterProvider(noopmetric.NewMeterProvider())
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := auth.Mint(key, auth.Principal{Subject: "bench", Grants: []auth.Grant{{Role: auth.RoleHandler, Scope: "*"}}}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	ch := InProcess(GRPCOptions{Verifier: auth.Cached(auth.NewDevVerifier(pub), 100, time.Now), Tracer: tp, Timeout: time.Minute})
	ledgerv1.RegisterLedgerServiceServer(ch, appendEcho{})
	mux := NewGatewayMux()
	if err := ledgerv1.RegisterLedgerServiceHandlerClient(b.Context(), mux, ledgerv1.NewLedgerServiceClient(ch)); err != nil {
		b.Fatal(err)
	}
	h := Handler(HTTPOptions{Gateway: mux, Tracer: tp, Limits: DefaultLimits}, nil)
	e := &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_PROVISION, OccurTime: timestamppb.New(time.Now().Add(-time.Hour)),
		FileName: "중앙도서관 주차장 CH03 2026-11-20 14:00~15:00", FileFormat: "mp4", Handler: "주무관 송승학",
		Purpose: "차량 파손 사건 수사", Counterparty: "정읍경찰서", CounterpartyOfficer: "경위 홍길동",
		LegalBasis: "개인정보 보호법 제18조 제2항 제7호", Form: "USB 사본 제공", Period: "2026. 11. 20. ~ 2026. 12. 20.",
		DestructionDueDate: "2026-12-20", Items: []string{"영상(얼굴, 차량번호)"}, SafetyRequests: "수사 목적 외 이용 금지"}
	body, err := protojson.Marshal(e)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("rest", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			req := httptest.NewRequest(http.MethodPost, "/v1/tenants/jeongeup/units/library/ledger/entries?requestId=bench-1", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatal(w.Code, w.Body.String())
			}
		}
	})
	b.Run("inprocess", func(b *testing.B) {
		client := ledgerv1.NewLedgerServiceClient(ch)
		ctx := metadata.AppendToOutgoingContext(b.Context(), "authorization", "Bearer "+tok)
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			if _, err := client.AppendEntry(ctx, &ledgerv1.AppendEntryRequest{Parent: "tenants/jeongeup/units/library", Entry: e, RequestId: "bench-1"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// reportCPU reports the process's CPU time per operation (user and system, every goroutine's, the
// garbage collector's included) from now to the call of what it returns: on a shared machine
// ns/op is mostly time spent waiting for a core, CPU per operation is not.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/1000/float64(b.N), "cpu-µs/op")
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
