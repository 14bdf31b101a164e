// Package ledgertest holds ledger entries as the seeds' people write them, and serves the ledger
// over a test's database, for the tests of the ledger and of the services that append to it.
package ledgertest

import (
	"context"
	"crypto/ed25519"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/seal"
	kst "github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/pkg/server"
	"github.com/pipa-kr/pipa/services/ledger"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// PoliceProvision is seed 001 별표3 row 2: footage handed to the police on a USB copy an hour ago
// (STD-42-1), to be destroyed in 30 days.
func PoliceProvision() *ledgerv1.Entry {
	now := time.Now()
	today, due := kst.Date(now), kst.Date(now.AddDate(0, 0, 30))
	return &ledgerv1.Entry{
		Kind: ledgerv1.EntryKind_ENTRY_KIND_PROVISION, OccurTime: timestamppb.New(now.Add(-time.Hour)),
		FileName: "중앙도서관 주차장 CH03 2026-11-20 14:00~15:00", FileFormat: "mp4",
		Handler: "주무관 송승학", Purpose: "차량 파손 사건 수사", Counterparty: "정읍경찰서",
		CounterpartyOfficer: "경위 홍길동", LegalBasis: "개인정보 보호법 제18조 제2항 제7호",
		Form: "USB 사본 제공", Period: today + " ~ " + due, DestructionDueDate: due,
		Items: []string{"영상(얼굴, 차량번호)"}, SafetyRequests: "수사 목적 외 이용 금지, 사건 종결 시 파기 후 회신",
	}
}

// EveryUnit is a registry that knows every unit, none with a parent: the ledger asks it whether a
// unit exists.
type EveryUnit struct {
	registryv1.UnimplementedRegistryServiceServer
}

func (EveryUnit) GetUnit(_ context.Context, req *registryv1.GetUnitRequest) (*registryv1.Unit, error) {
	return &registryv1.Unit{Name: req.GetName()}, nil
}

// Serve runs the ledger's gRPC API on a loopback port until the test ends, over pool (whose
// database holds the ledger's schema) and box, with a registry that knows every unit, as the
// outbox of a service that appends reaches it. It returns a client and the service credential
// (role service on "*").
func Serve(t testing.TB, pool *pgxpool.Pool, box *seal.Box) (ledgerv1.LedgerServiceClient, func() (string, error)) {
	t.Helper()
	key, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "dev.pem"))
	require.NoError(t, err)
	reg := grpc.NewServer()
	registryv1.RegisterRegistryServiceServer(reg, EveryUnit{})
	g := server.NewGRPC(server.GRPCOptions{Verifier: auth.NewDevVerifier(key.Public().(ed25519.PublicKey))})
	ledgerv1.RegisterLedgerServiceServer(g, ledger.New(pg.New(pool, box), box, registryv1.NewRegistryServiceClient(Listen(t, reg))))
	token := func() (string, error) {
		return auth.Mint(key, auth.Principal{Subject: "pipa-service", Grants: []auth.Grant{{Role: auth.RoleService, Scope: auth.ScopeAll}}}, time.Hour)
	}
	return ledgerv1.NewLedgerServiceClient(Listen(t, g)), token
}

// Listen serves g on a loopback port until the test ends and returns a client connection to it.
func Listen(t testing.TB, g *grpc.Server) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}
