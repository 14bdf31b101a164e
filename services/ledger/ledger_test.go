package ledger_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/ledger/ledgertest"
	"github.com/pipa-kr/pipa/services/ledger/verify"
)

const libraryLog = "tenants/jeongeup/units/library"

// The ledger end to end: appends over gRPC and REST, a signed checkpoint and proofs an outsider
// checks, redaction that keeps every proof valid, the 별지3 export, and `verify` naming the entry
// an operator altered in PostgreSQL (STD-42, STD-45, S-8-3).
func TestLedgerJourney(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	cl := s.ledger()
	staff := s.As(auth.RoleHandler, libraryLog)

	// Loading the seed appended the library's policy as published (STD-21) and its officers' role
	// grants (S-5); the test's entries come after them, from b0.
	b0 := loaded(t, cl, staff)

	prov := ledgertest.PoliceProvision()
	first, err := cl.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: libraryLog, Entry: prov, RequestId: "prov-1"})
	require.NoError(t, err)
	require.Equal(t, b0, first.GetIndex())
	require.Equal(t, "경위 홍길동", first.GetCounterpartyOfficer(), "the personal value reads back")
	again, err := cl.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: libraryLog, Entry: prov, RequestId: "prov-1"})
	require.NoError(t, err)
	require.Equal(t, first.GetIndex(), again.GetIndex(), "a retried append returns the first entry")

	// The reply of destruction follows the provision (별지3 작성요령).
	reply := &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT, OccurTime: timestamppb.Now(), Follows: ptr(b0),
		AmendmentKind: ledgerv1.AmendmentKind_AMENDMENT_KIND_DESTRUCTION_REPLY, Note: "정읍경찰서 파기 확인서 회신", Handler: "주무관 송승학"}
	_, err = cl.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: libraryLog, Entry: reply})
	require.NoError(t, err)
	reply.Follows = ptr(int64(99))
	_, err = cl.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: libraryLog, Entry: reply})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "an amendment must follow an existing entry")

	// An entry too large for a tile's entry bundle (2-byte lengths) is refused whole.
	huge := ledgertest.PoliceProvision()
	huge.Items = nil
	for range 100 {
		huge.Items = append(huge.Items, strings.Repeat("가", 1300))
	}
	_, err = cl.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: libraryLog, Entry: huge})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	require.Equal(t, "entry", stacktest.Violation(t, err).GetField())

	// A viewing, through REST.
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/"+libraryLog+"/ledger/entries", strings.NewReader(`{"kind":"ENTRY_KIND_VIEWING",
		"occurTime":"`+time.Now().UTC().Format(time.RFC3339)+`","fileName":"열람실 CH01","purpose":"분실물 확인","handler":"주무관 소영휴",
		"requesterName":"김민수","requesterContact":"010-1234-5678"}`))
	req.Header.Set("Authorization", "Bearer "+s.Token(auth.RoleHandler, libraryLog))
	r, err := s.HTTP.Do(req)
	require.NoError(t, err)
	b := stacktest.Body(t, r)
	require.Equal(t, http.StatusOK, r.StatusCode, b)
	require.Contains(t, b, fmt.Sprintf(`"index":"%d"`, b0+2))

	// The public key endpoint answers only for logs that exist.
	_, err = cl.GetVerifierKey(context.Background(), &ledgerv1.GetVerifierKeyRequest{Tenant: "nowhere", Unit: "nothing"})
	require.Equal(t, codes.NotFound, status.Code(err))

	// An outsider's check: the checkpoint is a signed C2SP note, every leaf is in its tree.
	key, err := cl.GetVerifierKey(context.Background(), &ledgerv1.GetVerifierKeyRequest{Tenant: "jeongeup", Unit: "library"})
	require.NoError(t, err)
	v, err := note.NewVerifier(key.GetVerifierKey())
	require.NoError(t, err)
	cp, err := cl.GetCheckpoint(staff, &ledgerv1.GetCheckpointRequest{Parent: libraryLog})
	require.NoError(t, err)
	n, err := note.Open([]byte(cp.GetNote()), note.VerifierList(v))
	require.NoError(t, err)
	origin, size, root, err := verify.ParseCheckpoint(n.Text)
	require.NoError(t, err)
	require.Equal(t, b0+3, size)
	require.True(t, strings.HasSuffix(origin, "/tenants/jeongeup/units/library"), origin)
	leaf, err := cl.GetLeaf(staff, &ledgerv1.GetLeafRequest{Name: fmt.Sprintf("%s/ledger/entries/%d", libraryLog, b0)})
	require.NoError(t, err)
	require.NotContains(t, string(leaf.GetData()), "홍길동", "personal values are only committed to in the leaf")
	proof, err := cl.GetInclusionProof(staff, &ledgerv1.GetInclusionProofRequest{Name: fmt.Sprintf("%s/ledger/entries/%d", libraryLog, b0)})
	require.NoError(t, err)
	require.NoError(t, tlog.CheckRecord(toHashes(proof.GetHashes()), size, root, b0, tlog.RecordHash(leaf.GetData())))

	// `pipa ledger verify` over REST passes, and keeps what it saw.
	inspector := &verify.Client{BaseURL: s.URL, Token: s.Token(auth.RoleAuditor, "tenants/jeongeup")}
	st := &verify.State{}
	rep, err := verify.Run(context.Background(), inspector, libraryLog, st, verify.Policy{})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%+v", rep)

	// The independent checker (tlog and note only) agrees.
	out, err := exec.Command("go", "run", "../ledger/cmd/checkproof", "-url", s.URL, "-log", libraryLog, "-index", strconv.FormatInt(b0+1, 10),
		"-token", inspector.Token).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), fmt.Sprintf("ok: entry %d is in the tree of size %d", b0+1, b0+3))

	// Redaction erases the values, is recorded, and every proof still verifies.
	red, err := cl.RedactEntry(s.As(auth.RoleCPO, "tenants/jeongeup"), &ledgerv1.RedactEntryRequest{Name: fmt.Sprintf("%s/ledger/entries/%d", libraryLog, b0+2), Reason: "보유기간 경과"})
	require.NoError(t, err)
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_REDACTION, red.GetKind())
	got, err := cl.GetEntry(staff, &ledgerv1.GetEntryRequest{Name: fmt.Sprintf("%s/ledger/entries/%d", libraryLog, b0+2)})
	require.NoError(t, err)
	require.True(t, got.GetRedacted())
	require.Empty(t, got.GetRequesterName())
	rep, err = verify.Run(context.Background(), inspector, libraryLog, st, verify.Policy{})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%+v", rep)
	require.Equal(t, b0+4, rep.TreeSize)

	// The 별지 제3호 export, with Korean headers.
	req, _ = http.NewRequest(http.MethodGet, s.URL+"/v1/"+libraryLog+"/ledger:export?format=csv", nil)
	req.Header.Set("Authorization", "Bearer "+inspector.Token)
	r, err = s.HTTP.Do(req)
	require.NoError(t, err)
	b = stacktest.Body(t, r)
	require.Equal(t, http.StatusOK, r.StatusCode, b)
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(b, "\ufeff"))).ReadAll()
	require.NoError(t, err)
	require.Equal(t, "번호", rows[0][0])
	require.Contains(t, strings.Join(rows[1], "|"), "정읍경찰서")

	// Another tenant sees nothing.
	_, err = cl.GetCheckpoint(s.As(auth.RoleTenantAdmin, "tenants/other"), &ledgerv1.GetCheckpointRequest{Parent: libraryLog})
	require.Equal(t, codes.PermissionDenied, status.Code(err))

	// An operator rewrites entry b0+1 in PostgreSQL: verify names it.
	conn, err := pgx.Connect(context.Background(), s.DatabaseURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	tag, err := conn.Exec(context.Background(), `UPDATE ledger.entries SET leaf = replace(convert_from(leaf, 'UTF8'), '정읍경찰서 파기 확인서', '파기 확인서 미회신')::bytea
		WHERE tenant_id = 'jeongeup' AND unit_id = 'library' AND idx = $1`, b0+1)
	require.NoError(t, err)
	require.Equal(t, int64(1), tag.RowsAffected())
	rep, err = verify.Run(context.Background(), inspector, libraryLog, &verify.State{}, verify.Policy{})
	require.NoError(t, err)
	require.False(t, rep.OK())
	require.Equal(t, b0+1, rep.FirstBad)
}

// The origin host (PIPA_LEDGER_ORIGIN) is the host of every ledger's origin line and key name.
func TestLedgerOrigin(t *testing.T) {
	t.Parallel()
	const host = "ledger.jeongeup.go.kr"
	s := startStack(t, stacktest.WithLedgerOrigin(host))
	s.Load("jeongeup-library.yaml")
	cl := s.ledger()
	cp, err := cl.GetCheckpoint(s.As(auth.RoleAuditor, libraryLog), &ledgerv1.GetCheckpointRequest{Parent: libraryLog})
	require.NoError(t, err)
	require.Equal(t, host+"/"+libraryLog, cp.GetOrigin())
	key, err := cl.GetVerifierKey(context.Background(), &ledgerv1.GetVerifierKeyRequest{Tenant: "jeongeup", Unit: "library"})
	require.NoError(t, err)
	require.Equal(t, host+"/"+libraryLog, key.GetOrigin())
	require.True(t, strings.HasPrefix(key.GetVerifierKey(), host+"/"+libraryLog+"+"), "C2SP tlog-checkpoint: the key is named by the origin: %s", key.GetVerifierKey())
}

func ptr[T any](v T) *T { return &v }

func toHashes(bs [][]byte) []tlog.Hash {
	out := make([]tlog.Hash, len(bs))
	for i, b := range bs {
		copy(out[i][:], b)
	}
	return out
}

// loaded is the size of libraryLog once the seed is loaded: its policy's PUBLICATION (STD-21) and
// the ROLE_CHANGE grants of its officers (S-5), nothing else.
func loaded(t *testing.T, cl ledgerv1.LedgerServiceClient, ctx context.Context) int64 {
	t.Helper()
	list, err := cl.ListEntries(ctx, &ledgerv1.ListEntriesRequest{Parent: libraryLog, PageSize: 500})
	require.NoError(t, err)
	kinds := map[ledgerv1.EntryKind]int{}
	for _, e := range list.GetEntries() {
		kinds[e.GetKind()]++
	}
	require.Equal(t, 1, kinds[ledgerv1.EntryKind_ENTRY_KIND_PUBLICATION])
	require.Equal(t, len(list.GetEntries())-1, kinds[ledgerv1.EntryKind_ENTRY_KIND_ROLE_CHANGE])
	return int64(len(list.GetEntries()))
}
