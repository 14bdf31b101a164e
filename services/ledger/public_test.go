package ledger_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	tessera "github.com/transparency-dev/tessera/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/rolechange"
)

// Public, cacheable read: the checkpoint and the hash tiles need no token, at the tlog-tiles
// prefix under /v1/public/ and at the origin's path; entry bundles need a reader's token unless
// the tenant made them public. Off-the-shelf tooling — transparency-dev's tessera client, which
// parses the checkpoint with formats/log — proves inclusion and consistency with no token.
func TestPublicTiles_TesseraClientWithoutAToken(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	s.appendN(t, "iksan", "cctv", 300)
	old, err := s.store.Checkpoint(t.Context(), "iksan", "cctv", true)
	require.NoError(t, err)
	s.appendN(t, "iksan", "cctv", 345)
	key := s.verifierKey(t)
	v := mustVerifier(t, key.GetVerifierKey())

	for _, prefix := range []string{s.url + key.GetTilesPath(), s.url + "/" + iksanLog + "/"} {
		root, err := url.Parse(prefix)
		require.NoError(t, err)
		f, err := tessera.NewHTTPFetcher(root, nil)
		require.NoError(t, err)
		cp, _, _, err := tessera.FetchCheckpoint(t.Context(), f.ReadCheckpoint, v, key.GetOrigin())
		require.NoError(t, err, prefix)
		require.Equal(t, uint64(345), cp.Size)
		pb, err := tessera.NewProofBuilder(t.Context(), cp.Size, f.ReadTile)
		require.NoError(t, err)
		for _, i := range []int64{0, 255, 256, 299, 344} {
			row, err := s.store.Entry(t.Context(), "iksan", "cctv", i)
			require.NoError(t, err)
			p, err := pb.InclusionProof(t.Context(), uint64(i))
			require.NoError(t, err)
			require.NoError(t, proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), cp.Size, row.LeafHash, p, cp.Hash), "entry %d", i)
		}
		c, err := pb.ConsistencyProof(t.Context(), uint64(old.Size), cp.Size)
		require.NoError(t, err)
		require.NoError(t, proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(old.Size), cp.Size, c, old.Root[:], cp.Hash))

		// The leaves are the tenant's to publish: a token, or the tenant's choice.
		_, err = tessera.GetEntryBundle(t.Context(), f.ReadEntryBundle, 1, cp.Size)
		require.ErrorContains(t, err, "401")
	}

	// Caching: tiles never change, the checkpoint does.
	code, h, _ := s.do(t, http.MethodGet, key.GetTilesPath()+"checkpoint", "", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "public, max-age=5", h.Get("Cache-Control"))
	for _, p := range []string{"tile/0/000", "tile/0/001.p/89", "tile/1/000.p/1"} {
		code, h, body := s.do(t, http.MethodGet, key.GetTilesPath()+p, "", "")
		require.Equal(t, http.StatusOK, code, "%s: %s", p, body)
		require.Equal(t, "public, max-age=31536000, immutable", h.Get("Cache-Control"), p)
	}
	code, h, _ = s.do(t, http.MethodGet, key.GetTilesPath()+"tile/entries/000", "", "")
	require.Equal(t, http.StatusUnauthorized, code)
	require.Equal(t, "Bearer", h.Get("WWW-Authenticate"))
	code, h, _ = s.do(t, http.MethodGet, key.GetTilesPath()+"tile/entries/000", "", s.token(t, iksanLog))
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "private, max-age=31536000, immutable", h.Get("Cache-Control"))
	code, _, _ = s.do(t, http.MethodGet, key.GetTilesPath()+"tile/entries/000", "", s.token(t, "tenants/other"))
	require.Equal(t, http.StatusForbidden, code)
	code, _, _ = s.do(t, http.MethodGet, "/v1/public/tenants/iksan/units/nowhere/ledger/tiles/checkpoint", "", "")
	require.Equal(t, http.StatusNotFound, code)
	code, _, _ = s.do(t, http.MethodGet, key.GetTilesPath()+"tile/0/002", "", "")
	require.Equal(t, http.StatusNotFound, code, "beyond the tree")

	// The tenant chooses to publish the leaves: its CPO or admin only.
	set := &ledgerv1.UpdateLedgerSettingsRequest{Settings: &ledgerv1.LedgerSettings{Name: "tenants/iksan/ledgerSettings",
		PublicEntryBundles: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"public_entry_bundles"}}}
	for _, ctx := range []context.Context{
		as(t, s, "song.sh", auth.RoleHandler, "tenants/iksan"),
		as(t, s, "cpo", auth.RoleCPO, "tenants/other"),
		as(t, s, "unit-cpo", auth.RoleCPO, iksanLog),
	} {
		_, err := s.client.UpdateLedgerSettings(ctx, set)
		requireStatus(t, err, codes.PermissionDenied)
	}
	code, _, body := s.do(t, http.MethodPatch, "/v1/tenants/iksan/ledgerSettings?updateMask=publicEntryBundles",
		`{"publicEntryBundles":true}`, s.tokenAs(t, "cpo", auth.RoleCPO, "tenants/iksan"))
	require.Equal(t, http.StatusOK, code, body)
	got, err := s.client.GetLedgerSettings(as(t, s, "admin", auth.RoleTenantAdmin, "tenants/iksan"),
		&ledgerv1.GetLedgerSettingsRequest{Name: "tenants/iksan/ledgerSettings"})
	require.NoError(t, err)
	require.True(t, got.GetPublicEntryBundles())

	root, err := url.Parse(s.url + key.GetTilesPath())
	require.NoError(t, err)
	f, err := tessera.NewHTTPFetcher(root, nil)
	require.NoError(t, err)
	b, err := tessera.GetEntryBundle(t.Context(), f.ReadEntryBundle, 1, 345)
	require.NoError(t, err)
	require.Len(t, b.Entries, 89)
	row, err := s.store.Entry(t.Context(), "iksan", "cctv", 256)
	require.NoError(t, err)
	require.Equal(t, row.Leaf, b.Entries[0])
	code, h, _ = s.do(t, http.MethodGet, key.GetTilesPath()+"tile/entries/000", "", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "public, max-age=31536000, immutable", h.Get("Cache-Control"))

	// The tenant's own log holds its staff's role changes (S-5): its leaves are never public,
	// whatever the tenant chose for its units'. Its hash tiles are.
	_, err = s.grants.RecordRoleGrants(as(t, s, "pipa-service", auth.RoleService, auth.ScopeAll),
		&ledgerv1.RecordRoleGrantsRequest{Issuer: auth.DevIssuer, Subject: "kim", DisplayName: "김민지",
			Source: rolechange.SourceToken, Grants: []*ledgerv1.TokenGrant{{Role: "handler", Scope: iksanLog}}})
	require.NoError(t, err)
	head, err := s.store.Checkpoint(t.Context(), "iksan", "-", true)
	require.NoError(t, err)
	require.Equal(t, int64(1), head.Size)
	bundle := fmt.Sprintf("tile/entries/000.p/%d", head.Size)
	for _, prefix := range []string{"/v1/public/tenants/iksan/units/-/ledger/tiles/", "/tenants/iksan/units/-/"} {
		code, h, body := s.do(t, http.MethodGet, prefix+bundle, "", "")
		require.Equal(t, http.StatusUnauthorized, code, "%s%s: %s", prefix, bundle, body)
		require.Equal(t, "Bearer", h.Get("WWW-Authenticate"))
		code, _, body = s.do(t, http.MethodGet, prefix+fmt.Sprintf("tile/0/000.p/%d", head.Size), "", "")
		require.Equal(t, http.StatusOK, code, body)
	}
	code, _, body = s.do(t, http.MethodGet, "/v1/public/tenants/iksan/units/-/ledger/tiles/"+bundle, "",
		s.tokenAs(t, "cpo", auth.RoleCPO, "tenants/iksan"))
	require.Equal(t, http.StatusOK, code, body)
}
