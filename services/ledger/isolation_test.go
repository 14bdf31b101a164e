package ledger_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/ledger/ledgertest"
)

// A token of one tenant learns nothing of another tenant's ledger (ARCHITECTURE.md "Identity and
// tenancy"). Callers of tenant seongnam, whatever their role, ask every ledger method (gRPC and
// REST), the export and the tiles about tenant jeongeup: a log with entries, an entry past its
// end, a unit without a log, and a unit and a tenant that do not exist. Each method refuses with
// PermissionDenied or NotFound and the same answer for all of them, up to the name asked about,
// and nothing changes. GetVerifierKey, the checkpoint and the hash tiles are public: they answer
// them as they answer anyone. The tenant's ledger settings are refused to them.
func TestLedgerTenantIsolation(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	s.Load("seongnam-library.yaml")
	cl := s.ledger()
	staff := s.As(auth.RoleHandler, libraryLog)
	_, err := cl.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: libraryLog, Entry: ledgertest.PoliceProvision()})
	require.NoError(t, err)
	_, err = s.Registry.CreateUnit(s.Admin(), &registryv1.CreateUnitRequest{Parent: "tenants/jeongeup", UnitId: "annex",
		Unit: &registryv1.Unit{DisplayName: "정읍시립도서관 분관"}})
	require.NoError(t, err)
	before, err := cl.GetCheckpoint(staff, &ledgerv1.GetCheckpointRequest{Parent: libraryLog})
	require.NoError(t, err)

	type target struct{ log, entry string }
	targets := []target{
		{libraryLog, libraryLog + "/ledger/entries/0"},
		{libraryLog, libraryLog + "/ledger/entries/99"},
		{"tenants/jeongeup/units/annex", "tenants/jeongeup/units/annex/ledger/entries/0"},
		{"tenants/jeongeup/units/nowhere", "tenants/jeongeup/units/nowhere/ledger/entries/0"},
		{"tenants/nowhere/units/nothing", "tenants/nowhere/units/nothing/ledger/entries/0"},
	}
	// anonymize leaves what an answer says beyond the names it was asked about.
	anonymize := func(answer string, tg target) string {
		return strings.ReplaceAll(strings.ReplaceAll(answer, tg.entry, "{entry}"), tg.log, "{log}")
	}
	callers := map[string]string{
		"seongnam's tenant_admin":    s.Token(auth.RoleTenantAdmin, "tenants/seongnam"),
		"seongnam's cpo":             s.Token(auth.RoleCPO, "tenants/seongnam"),
		"a seongnam unit's handler":  s.Token(auth.RoleHandler, "tenants/seongnam/units/library-office"),
		"seongnam's auditor":         s.Token(auth.RoleAuditor, "tenants/seongnam"),
		"a tenant named as a prefix": s.Token(auth.RoleTenantAdmin, "tenants/jeong"),
	}

	methods := []struct {
		name string
		call func(ctx context.Context, tg target) error
	}{
		{"AppendEntry", func(ctx context.Context, tg target) error {
			_, err := cl.AppendEntry(ctx, &ledgerv1.AppendEntryRequest{Parent: tg.log, Entry: ledgertest.PoliceProvision(), RequestId: "isolation"})
			return err
		}},
		{"GetEntry", func(ctx context.Context, tg target) error {
			_, err := cl.GetEntry(ctx, &ledgerv1.GetEntryRequest{Name: tg.entry})
			return err
		}},
		{"ListEntries", func(ctx context.Context, tg target) error {
			_, err := cl.ListEntries(ctx, &ledgerv1.ListEntriesRequest{Parent: tg.log})
			return err
		}},
		{"GetCheckpoint", func(ctx context.Context, tg target) error {
			_, err := cl.GetCheckpoint(ctx, &ledgerv1.GetCheckpointRequest{Parent: tg.log})
			return err
		}},
		{"GetInclusionProof", func(ctx context.Context, tg target) error {
			_, err := cl.GetInclusionProof(ctx, &ledgerv1.GetInclusionProofRequest{Name: tg.entry, TreeSize: 1})
			return err
		}},
		{"GetConsistencyProof", func(ctx context.Context, tg target) error {
			_, err := cl.GetConsistencyProof(ctx, &ledgerv1.GetConsistencyProofRequest{Parent: tg.log, From: 1, To: 1})
			return err
		}},
		{"GetLeaf", func(ctx context.Context, tg target) error {
			_, err := cl.GetLeaf(ctx, &ledgerv1.GetLeafRequest{Name: tg.entry})
			return err
		}},
		{"RotateKey", func(ctx context.Context, tg target) error {
			_, err := cl.RotateKey(ctx, &ledgerv1.RotateKeyRequest{Parent: tg.log, Reason: "정기 교체", RequestId: "isolation"})
			return err
		}},
		{"RedactEntry", func(ctx context.Context, tg target) error {
			_, err := cl.RedactEntry(ctx, &ledgerv1.RedactEntryRequest{Name: tg.entry, Reason: "보유기간 경과", RequestId: "isolation"})
			return err
		}},
	}
	// The REST edge: the gateway's mapping of the same methods, and the hand-written handlers.
	rest := []struct{ method, path, body string }{
		{http.MethodPost, "/v1/{log}/ledger/entries", `{"kind":"ENTRY_KIND_USE"}`},
		{http.MethodGet, "/v1/{entry}", ""},
		{http.MethodGet, "/v1/{log}/ledger/entries", ""},
		{http.MethodGet, "/v1/{log}/ledger/checkpoint", ""},
		{http.MethodGet, "/v1/{entry}:prove?treeSize=1", ""},
		{http.MethodGet, "/v1/{log}/ledger:consistency?from=1&to=1", ""},
		{http.MethodGet, "/v1/{entry}:leaf", ""},
		{http.MethodPost, "/v1/{entry}:redact", `{"reason":"보유기간 경과"}`},
		{http.MethodPost, "/v1/{log}/ledger:rotateKey", `{"reason":"정기 교체"}`},
		{http.MethodGet, "/v1/public/{log}/ledger/tiles/tile/entries/000.p/1", ""},
		{http.MethodGet, "/v1/{log}/ledger:export?format=csv", ""},
		{http.MethodGet, "/v1/{log}/ledger:export?format=xlsx&kinds=access", ""},
		{http.MethodGet, "/v1/{log}/ledger/tiles/checkpoint", ""},
		{http.MethodGet, "/v1/{log}/ledger/tiles/tile/0/000.p/1", ""},
		{http.MethodGet, "/v1/{log}/ledger/tiles/tile/entries/000.p/1", ""},
	}
	do := func(method, path, body, token string) string {
		req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := s.HTTP.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.Status + " " + resp.Header.Get("Content-Type") + " " + string(b)
	}

	for who, tok := range callers {
		ctx := unitauth.WithToken(context.Background(), tok)
		for _, m := range methods {
			var first string
			for i, tg := range targets {
				err := m.call(ctx, tg)
				code := status.Code(err)
				require.True(t, code == codes.PermissionDenied || code == codes.NotFound, "%s, %s on %s: %v", who, m.name, tg.entry, err)
				b, merr := protojson.Marshal(status.Convert(err).Proto())
				require.NoError(t, merr)
				answer := anonymize(string(b), tg)
				if i == 0 {
					first = answer
				}
				require.Equal(t, first, answer, "%s, %s: %s answers differently from %s", who, m.name, tg.entry, targets[0].entry)
			}
		}
		for _, r := range rest {
			var first string
			for i, tg := range targets {
				path := strings.ReplaceAll(strings.ReplaceAll(r.path, "{entry}", tg.entry), "{log}", tg.log)
				answer := anonymize(do(r.method, path, r.body, tok), tg)
				require.True(t, strings.HasPrefix(answer, "403 ") || strings.HasPrefix(answer, "404 "), "%s, %s %s: %s", who, r.method, path, answer)
				if i == 0 {
					first = answer
				}
				require.Equal(t, first, answer, "%s, %s %s answers differently from %s", who, r.method, path, targets[0].log)
			}
		}
		// The public key: the token adds nothing to what an anonymous caller learns.
		for _, tg := range targets {
			p := strings.Split(tg.log, "/")
			req := &ledgerv1.GetVerifierKeyRequest{Tenant: p[1], Unit: p[3]}
			withTok, errTok := cl.GetVerifierKey(ctx, req)
			anon, errAnon := cl.GetVerifierKey(context.Background(), req)
			require.Equal(t, status.Convert(errAnon).Proto().String(), status.Convert(errTok).Proto().String())
			require.True(t, proto.Equal(anon, withTok))
			for _, path := range []string{
				"/v1/public/tenants/" + p[1] + "/units/" + p[3] + "/ledger/key",
				"/v1/public/" + tg.log + "/ledger/tiles/checkpoint",
				"/v1/public/" + tg.log + "/ledger/tiles/tile/0/000.p/1",
				"/" + tg.log + "/checkpoint",
			} {
				require.Equal(t, do(http.MethodGet, path, "", ""), do(http.MethodGet, path, "", tok), path)
			}
		}
		// The tenant's settings are its own.
		_, err := cl.GetLedgerSettings(ctx, &ledgerv1.GetLedgerSettingsRequest{Name: "tenants/jeongeup/ledgerSettings"})
		require.Equal(t, codes.PermissionDenied, status.Code(err), who)
		answer := do(http.MethodPatch, "/v1/tenants/jeongeup/ledgerSettings", `{"publicEntryBundles":true}`, tok)
		require.True(t, strings.HasPrefix(answer, "403 "), "%s: %s", who, answer)
	}

	// Nothing changed: jeongeup's log is as it was, no entry was redacted, and no log was made
	// for a unit that had none.
	after, err := cl.GetCheckpoint(staff, &ledgerv1.GetCheckpointRequest{Parent: libraryLog})
	require.NoError(t, err)
	require.True(t, proto.Equal(before, after), "before %v, after %v", before, after)
	e, err := cl.GetEntry(staff, &ledgerv1.GetEntryRequest{Name: libraryLog + "/ledger/entries/0"})
	require.NoError(t, err)
	require.False(t, e.GetRedacted())
	set, err := cl.GetLedgerSettings(s.As(auth.RoleCPO, "tenants/jeongeup"), &ledgerv1.GetLedgerSettingsRequest{Name: "tenants/jeongeup/ledgerSettings"})
	require.NoError(t, err)
	require.False(t, set.GetPublicEntryBundles())
	k, err := cl.GetVerifierKey(context.Background(), &ledgerv1.GetVerifierKeyRequest{Tenant: "jeongeup", Unit: "library"})
	require.NoError(t, err)
	require.Empty(t, k.GetHandovers(), "no key was rotated")
	for _, unit := range []string{"annex", "nowhere"} {
		_, err = cl.GetVerifierKey(context.Background(), &ledgerv1.GetVerifierKeyRequest{Tenant: "jeongeup", Unit: unit})
		require.Equal(t, codes.NotFound, status.Code(err), unit)
		require.Contains(t, status.Convert(err).Message(), "tenants/jeongeup/units/"+unit+"/ledger", "the NotFound names the ledger")
	}
}
