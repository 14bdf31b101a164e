// Package verifytest serves units' ledgers over pipa's REST API for the tests of the verifiers
// (package verify and cmd/checkproof): the real ledger server, store and gateway over a fresh
// PostgreSQL database, and besides them what a dishonest operator could do — sign leaves of its
// own making into a log, and answer for one resource with another's.
package verifytest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/pgtest"
	"github.com/pipa-kr/pipa/pkg/seal"
	"github.com/pipa-kr/pipa/pkg/server"
	"github.com/pipa-kr/pipa/services/ledger"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// Ledger is a ledger served over REST and as tlog-tiles at URL.
type Ledger struct {
	// URL is the gateway, e.g. http://127.0.0.1:41234.
	URL string
	// Token is an auditor's, on every tenant.
	Token string

	t      testing.TB
	store  *pg.Store
	pool   *pgxpool.Pool
	client ledgerv1.LedgerServiceClient
	staff  context.Context
	cpo    context.Context

	mu     sync.Mutex
	routes map[string]string
}

// New serves an empty ledger until the test ends. It needs DATABASE_URL (see pkg/pgtest).
func New(t testing.TB) *Ledger {
	t.Helper()
	dataKey := make([]byte, seal.KeySize)
	_, _ = rand.Read(dataKey)
	box, err := seal.New(map[string][]byte{"test": dataKey}, "test")
	if err != nil {
		t.Fatal(err)
	}
	key, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "dev.pem"))
	if err != nil {
		t.Fatal(err)
	}
	mint := func(role auth.Role) string {
		tok, err := auth.Mint(key, auth.Principal{Subject: "verifytest-" + string(role),
			Grants: []auth.Grant{{Role: role, Scope: auth.ScopeAll}}}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	reg := grpc.NewServer()
	registryv1.RegisterRegistryServiceServer(reg, everyUnit{})
	g := server.NewGRPC(server.GRPCOptions{
		Verifier: auth.NewDevVerifier(key.Public().(ed25519.PublicKey)),
		Public:   func(m string) bool { return ledger.PublicMethods[m] },
	})
	pool := pgtest.New(t, pg.Schema, pg.Migrations)
	store := pg.New(pool, box)
	srv, err := ledger.Open(context.Background(), store, box, registryv1.NewRegistryServiceClient(serve(t, reg)))
	if err != nil {
		t.Fatal(err)
	}
	ledgerv1.RegisterLedgerServiceServer(g, srv)
	conn := serve(t, g)
	gw := server.NewGatewayMux()
	if err := ledgerv1.RegisterLedgerServiceHandler(context.Background(), gw, conn); err != nil {
		t.Fatal(err)
	}
	client := ledgerv1.NewLedgerServiceClient(conn)
	mux := http.NewServeMux()
	mux.Handle("/", gw)
	mux.Handle(ledger.TilesPattern, ledger.Tiles(store, client, ledger.TilesOptions{}))
	mux.Handle(ledger.PublicTilesPattern, ledger.Tiles(store, client, ledger.TilesOptions{Public: true}))

	l := &Ledger{Token: mint(auth.RoleAuditor), t: t, store: store, pool: pool, client: client,
		cpo:    metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+mint(auth.RoleCPO)),
		staff:  metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+mint(auth.RoleHandler)),
		routes: map[string]string{}}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.reroute(r)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	l.URL = hs.URL
	return l
}

// everyUnit is a registry that knows every unit, none with a parent.
type everyUnit struct {
	registryv1.UnimplementedRegistryServiceServer
}

func (everyUnit) GetUnit(_ context.Context, req *registryv1.GetUnitRequest) (*registryv1.Unit, error) {
	return &registryv1.Unit{Name: req.GetName()}, nil
}

func serve(t testing.TB, g *grpc.Server) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// Append appends an honest entry (a provision to the police, STD-42-1) to log
// (tenants/{t}/units/{u}) through the API and returns its index.
func (l *Ledger) Append(log string) int64 {
	l.t.Helper()
	e, err := l.client.AppendEntry(l.staff, &ledgerv1.AppendEntryRequest{Parent: log, Entry: &ledgerv1.Entry{
		Kind: ledgerv1.EntryKind_ENTRY_KIND_PROVISION, OccurTime: timestamppb.New(time.Now().Add(-time.Hour)),
		FileName: "주차장 CH03", FileFormat: "mp4", Handler: "주무관 송승학", Purpose: "차량 파손 사건 수사",
		Counterparty: "정읍경찰서", CounterpartyOfficer: "경위 홍길동", LegalBasis: "개인정보 보호법 제18조 제2항 제7호",
		Form: "USB 사본 제공", Period: "2026-11-21 ~ 2026-12-20", DestructionDueDate: "2026-12-20",
		Items: []string{"영상(얼굴, 차량번호)"}, SafetyRequests: "수사 목적 외 이용 금지",
	}})
	if err != nil {
		l.t.Fatal(err)
	}
	return e.GetIndex()
}

// Redact erases the personal values of entry index of log through the API (a REDACTION entry).
func (l *Ledger) Redact(log string, index int64) {
	l.t.Helper()
	if _, err := l.client.RedactEntry(l.cpo, &ledgerv1.RedactEntryRequest{Name: entryName(log, index),
		Reason: "보유기간 경과"}); err != nil {
		l.t.Fatal(err)
	}
}

// Exec runs SQL on the ledger's database, as an operator with access to it could.
func (l *Ledger) Exec(sql string, args ...any) {
	l.t.Helper()
	if _, err := l.pool.Exec(context.Background(), sql, args...); err != nil {
		l.t.Fatal(err)
	}
}

// Checkpoint makes sure log exists (an empty log has a signed checkpoint of size 0).
func (l *Ledger) Checkpoint(log string) *ledgerv1.Checkpoint {
	l.t.Helper()
	cp, err := l.client.GetCheckpoint(l.staff, &ledgerv1.GetCheckpointRequest{Parent: log})
	if err != nil {
		l.t.Fatal(err)
	}
	return cp
}

// VerifierKey is log's public note verifier key.
func (l *Ledger) VerifierKey(log string) string {
	l.t.Helper()
	t, u := unitOf(log)
	k, err := l.client.GetVerifierKey(context.Background(), &ledgerv1.GetVerifierKeyRequest{Tenant: t, Unit: u})
	if err != nil {
		l.t.Fatal(err)
	}
	return k.GetVerifierKey()
}

// Leaf is the stored leaf of entry index of log.
func (l *Ledger) Leaf(log string, index int64) []byte {
	l.t.Helper()
	t, u := unitOf(log)
	row, err := l.store.Entry(context.Background(), t, u, index)
	if err != nil {
		l.t.Fatal(err)
	}
	return row.Leaf
}

// Forge appends the leaf that leaf returns for the index the entry gets, bypassing the server's
// checks as an operator with the database could: the log signs it into its tree like any other.
func (l *Ledger) Forge(log string, leaf func(index int64) []byte) int64 {
	l.t.Helper()
	t, u := unitOf(log)
	res, err := l.store.Append(context.Background(), t, u, pg.AppendRequest{Kind: "USE", OccurTime: time.Now(),
		Build: func(index int64) ([]byte, []byte, error) { return leaf(index), nil, nil }})
	if err != nil {
		l.t.Fatal(err)
	}
	return res.Index
}

// Relabel returns leaf with its header lines naming log and index instead: a leaf copied to
// another place, which is canonical there in every other respect.
func Relabel(leaf []byte, log string, index int64) []byte {
	lines := bytes.SplitN(leaf, []byte("\n"), 4)
	return bytes.Join([][]byte{lines[0], []byte("log: " + log), []byte("index: " + strconv.FormatInt(index, 10)), lines[3]}, []byte("\n"))
}

// Misroute makes the gateway answer requests whose path starts with from as if it started with
// to instead, e.g. "/v1/tenants/t/units/a/" with "/v1/tenants/t/units/b/".
func (l *Ledger) Misroute(from, to string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.routes[from] = to
}

func (l *Ledger) reroute(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for from, to := range l.routes {
		if rest, ok := strings.CutPrefix(r.URL.Path, from); ok {
			r.URL.Path, r.URL.RawPath = to+rest, ""
			return
		}
	}
}

func unitOf(log string) (tenant, unit string) {
	tenant, unit, err := names.ParseUnit("log", log)
	if err != nil {
		panic("verifytest: " + err.Error())
	}
	return tenant, unit
}

// entryName is the name of entry index of log.
func entryName(log string, index int64) string {
	t, u := unitOf(log)
	return names.Entries.NameN(t, u, index)
}
