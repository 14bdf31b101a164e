package ledger_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/pgtest"
	"github.com/pipa-kr/pipa/pkg/seal"
	"github.com/pipa-kr/pipa/pkg/server"
	"github.com/pipa-kr/pipa/services/ledger"
	"github.com/pipa-kr/pipa/services/ledger/cosign"
	"github.com/pipa-kr/pipa/services/ledger/ledgertest"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// tilesStack is the ledger's gRPC API (real token checks, a registry that knows every unit) and
// the tiles handler over one store, as pipa mounts them.
type tilesStack struct {
	store *pg.Store
	pool  *pgxpool.Pool
	box   *seal.Box
	// dataKey is box's one key, "test" (a replica of another key's rollout holds it too).
	dataKey []byte
	client  ledgerv1.LedgerServiceClient
	grants  ledgerv1.RoleGrantServiceClient
	url     string
	key     ed25519.PrivateKey
}

// newTilesStack starts the ledger over a database of its own, announcing witnesses (whose
// cosigned checkpoint its tiles then serve).
func newTilesStack(t testing.TB, witnesses ...*cosign.Witness) *tilesStack {
	t.Helper()
	dataKey := make([]byte, seal.KeySize)
	_, _ = rand.Read(dataKey)
	box, err := seal.New(map[string][]byte{"test": dataKey}, "test")
	require.NoError(t, err)
	pool := pgtest.New(t, pg.Schema, pg.Migrations)
	store := pg.New(pool, box)
	key, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "dev.pem"))
	require.NoError(t, err)

	reg := grpc.NewServer()
	registryv1.RegisterRegistryServiceServer(reg, ledgertest.EveryUnit{})
	regConn := ledgertest.Listen(t, reg)
	g := server.NewGRPC(server.GRPCOptions{
		Verifier: auth.NewDevVerifier(key.Public().(ed25519.PublicKey)),
		Public:   func(m string) bool { return ledger.PublicMethods[m] },
	})
	srv, err := ledger.Open(t.Context(), store, box, registryv1.NewRegistryServiceClient(regConn), witnesses...)
	require.NoError(t, err)
	ledgerv1.RegisterLedgerServiceServer(g, srv)
	ledgerv1.RegisterRoleGrantServiceServer(g, srv.RoleGrants())
	conn := ledgertest.Listen(t, g)
	client := ledgerv1.NewLedgerServiceClient(conn)

	gw := server.NewGatewayMux()
	require.NoError(t, ledgerv1.RegisterLedgerServiceHandler(t.Context(), gw, conn))
	mux := http.NewServeMux()
	mux.Handle("/", gw)
	cosigned := len(witnesses) > 0
	mux.Handle(ledger.TilesPattern, ledger.Tiles(store, client, ledger.TilesOptions{Cosigned: cosigned}))
	mux.Handle(ledger.PublicTilesPattern, ledger.Tiles(store, client, ledger.TilesOptions{Public: true, Cosigned: cosigned}))
	mux.Handle(ledger.OriginTilesPattern, ledger.Tiles(store, client, ledger.TilesOptions{Public: true, Cosigned: cosigned}))
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return &tilesStack{store: store, pool: pool, box: box, dataKey: dataKey, client: client, grants: ledgerv1.NewRoleGrantServiceClient(conn),
		url: hs.URL, key: key}
}

// do sends an HTTP request to the stack (the REST gateway and the tiles), with a bearer token
// unless tok is empty, and returns the status, headers and body.
func (s *tilesStack) do(t testing.TB, method, path, body, tok string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.url+path, strings.NewReader(body))
	require.NoError(t, err)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(b)
}

// tokenAs mints a token for subject holding role on scope.
func (s *tilesStack) tokenAs(t testing.TB, subject string, role auth.Role, scope string) string {
	tok, err := auth.Mint(s.key, auth.Principal{Subject: subject, Grants: []auth.Grant{{Role: role, Scope: scope}}}, time.Hour)
	require.NoError(t, err)
	return tok
}

func (s *tilesStack) token(t testing.TB, scope string) string {
	tok, err := auth.Mint(s.key, auth.Principal{Subject: "auditor-" + scope,
		Grants: []auth.Grant{{Role: auth.RoleAuditor, Scope: scope}}}, time.Hour)
	require.NoError(t, err)
	return tok
}

func testLeaf(tenant, unit string, i int64) []byte {
	return fmt.Appendf(nil, "test-entry\nlog: tenants/%s/units/%s\nindex: %d\n", tenant, unit, i)
}

// appendN appends entries until the log has size n, concurrently (so in group commits).
func (s *tilesStack) appendN(t testing.TB, tenant, unit string, n int) {
	t.Helper()
	var g errgroup.Group
	g.SetLimit(32)
	head, err := s.store.Checkpoint(t.Context(), tenant, unit, false)
	size := head.Size
	require.NoError(t, err)
	for range int64(n) - size {
		g.Go(func() error {
			_, err := s.store.Append(t.Context(), tenant, unit, pg.AppendRequest{Kind: "ACCESS", OccurTime: time.Now(),
				Build: func(i int64) ([]byte, []byte, error) { return testLeaf(tenant, unit, i), nil, nil }})
			return err
		})
	}
	require.NoError(t, g.Wait())
}

// tileClient is existing tlog tooling reading a log over HTTP: a tlog.TileReader of height 8 on
// the C2SP paths, keeping the tiles that tlog has authenticated.
type tileClient struct {
	t           *testing.T
	prefix, tok string
	saved       map[string][]byte
}

func newTileClient(t *testing.T, s *tilesStack, tenant, unit, tok string) *tileClient {
	return &tileClient{t: t, prefix: s.url + "/v1/tenants/" + tenant + "/units/" + unit + "/ledger/tiles/", tok: tok, saved: map[string][]byte{}}
}

func (c *tileClient) get(path string, header ...string) (int, http.Header, []byte) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), http.MethodGet, c.prefix+path, nil)
	require.NoError(c.t, err)
	if c.tok != "" {
		req.Header.Set("Authorization", "Bearer "+c.tok)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	if resp.Uncompressed {
		resp.Header.Set("X-Test-Was-Gzipped", "true")
	}
	return resp.StatusCode, resp.Header, body
}

// c2spPath is tlog's sumdb path without its height element: C2SP's layout.
func c2spPath(tile tlog.Tile) string {
	return "tile/" + strings.TrimPrefix(tile.Path(), "tile/8/")
}

func (c *tileClient) Height() int { return 8 }

func (c *tileClient) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tile := range tiles {
		p := c2spPath(tile)
		if data, ok := c.saved[p]; ok {
			out[i] = data
			continue
		}
		code, h, body := c.get(p)
		if code != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %d %s", p, code, body)
		}
		if h.Get("Content-Type") != "application/octet-stream" {
			return nil, fmt.Errorf("GET %s: Content-Type %q", p, h.Get("Content-Type"))
		}
		out[i] = body
	}
	return out, nil
}

func (c *tileClient) SaveTiles(tiles []tlog.Tile, data [][]byte) {
	for i, tile := range tiles {
		c.saved[c2spPath(tile)] = data[i]
	}
}

// checkpoint fetches the checkpoint and opens it with the log's public verifier key.
func (c *tileClient) checkpoint(s *tilesStack, tenant, unit string) tlog.Tree {
	c.t.Helper()
	code, h, body := c.get("checkpoint")
	require.Equal(c.t, http.StatusOK, code, "%s", body)
	require.Equal(c.t, "text/plain; charset=utf-8", h.Get("Content-Type"))
	require.Equal(c.t, "no-store", h.Get("Cache-Control"))
	vk, err := s.client.GetVerifierKey(c.t.Context(), &ledgerv1.GetVerifierKeyRequest{Tenant: tenant, Unit: unit})
	require.NoError(c.t, err)
	v, err := note.NewVerifier(vk.GetVerifierKey())
	require.NoError(c.t, err)
	n, err := note.Open(body, note.VerifierList(v))
	require.NoError(c.t, err)
	lines := strings.Split(n.Text, "\n")
	require.Len(c.t, lines, 4)
	require.Equal(c.t, vk.GetOrigin(), lines[0])
	size, err := strconv.ParseInt(lines[1], 10, 64)
	require.NoError(c.t, err)
	root, err := tlog.ParseHash(lines[2])
	require.NoError(c.t, err)
	return tlog.Tree{N: size, Hash: root}
}

// bundle fetches entry bundle n (width w, 256 for a full one) and splits it into leaves.
func (c *tileClient) bundle(n int64, w int, header ...string) ([][]byte, http.Header) {
	c.t.Helper()
	p := c2spPath(tlog.Tile{H: 8, L: -1, N: n, W: w})
	p = strings.Replace(p, "tile/data/", "tile/entries/", 1)
	code, h, body := c.get(p, header...)
	require.Equal(c.t, http.StatusOK, code, "%s: %s", p, body)
	var leaves [][]byte
	for len(body) > 0 {
		require.GreaterOrEqual(c.t, len(body), 2)
		l := int(binary.BigEndian.Uint16(body))
		require.GreaterOrEqual(c.t, len(body), 2+l)
		leaves = append(leaves, body[2:2+l])
		body = body[2+l:]
	}
	require.Len(c.t, leaves, w)
	return leaves, h
}

// The log read as C2SP tlog-tiles by tlog's own client code: the checkpoint verifies, the tiles
// authenticate against its root, records prove included, an old checkpoint's partial tiles are
// still served and the tree proves consistent with it, and the entry bundles hold exactly the
// leaves the tree commits to.
func TestTilesServeTheLogToTlogTooling(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	const tenant, unit = "iksan", "cctv-1"
	c := newTileClient(t, s, tenant, unit, s.token(t, "tenants/"+tenant))

	s.appendN(t, tenant, unit, 300)
	old := c.checkpoint(s, tenant, unit)
	require.Equal(t, int64(300), old.N)
	s.appendN(t, tenant, unit, 600)
	tree := c.checkpoint(s, tenant, unit)
	require.Equal(t, int64(600), tree.N)

	r := tlog.TileHashReader(tree, c)
	th, err := tlog.TreeHash(tree.N, r)
	require.NoError(t, err)
	require.Equal(t, tree.Hash, th)
	for _, i := range []int64{0, 1, 255, 256, 299, 300, 511, 512, 598, 599} {
		p, err := tlog.ProveRecord(tree.N, i, r)
		require.NoError(t, err)
		require.NoError(t, tlog.CheckRecord(p, tree.N, tree.Hash, i, tlog.RecordHash(testLeaf(tenant, unit, i))), "index %d", i)
		require.Error(t, tlog.CheckRecord(p, tree.N, tree.Hash, i, tlog.RecordHash(testLeaf(tenant, unit, i+1))))
	}
	p, err := tlog.ProveTree(tree.N, old.N, r)
	require.NoError(t, err)
	require.NoError(t, tlog.CheckTree(p, tree.N, tree.Hash, old.N, old.Hash))
	for _, want := range []string{"tile/0/000", "tile/0/001", "tile/0/002.p/88", "tile/1/000.p/2"} {
		require.Contains(t, c.saved, want)
	}

	// The tree of the older checkpoint, from its own partial tiles (tile/0/001.p/44, 1/000.p/1).
	oc := newTileClient(t, s, tenant, unit, c.tok)
	th, err = tlog.TreeHash(old.N, tlog.TileHashReader(old, oc))
	require.NoError(t, err)
	require.Equal(t, old.Hash, th)
	require.Contains(t, oc.saved, "tile/0/001.p/44")

	// Entry bundles: every leaf hashes to the authenticated leaf hash at its index.
	idx := make([]int64, tree.N)
	for i := range idx {
		idx[i] = tlog.StoredHashIndex(0, int64(i))
	}
	leafHashes, err := r.ReadHashes(idx)
	require.NoError(t, err)
	var leaves [][]byte
	for n, w := range []int{256, 256, 88} {
		got, h := c.bundle(int64(n), w)
		require.Equal(t, "private, max-age=31536000, immutable", h.Get("Cache-Control"))
		require.Equal(t, "true", h.Get("X-Test-Was-Gzipped"), "served gzipped when asked")
		leaves = append(leaves, got...)
	}
	require.Len(t, leaves, int(tree.N))
	for i, l := range leaves {
		require.Equal(t, leafHashes[i], tlog.RecordHash(l), "leaf %d", i)
		require.Equal(t, testLeaf(tenant, unit, int64(i)), l)
	}
	plain, h := c.bundle(2, 88, "Accept-Encoding", "identity")
	require.Empty(t, h.Get("Content-Encoding"))
	require.Equal(t, leaves[512:], plain)
	short, _ := c.bundle(1, 44) // the older checkpoint's bundle
	require.Equal(t, leaves[256:300], short)

	// Tiles are the immutable, private answers; hash tiles equal what the store's hashes give.
	code, h, body := c.get("tile/0/001")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "private, max-age=31536000, immutable", h.Get("Cache-Control"))
	want, err := tlog.ReadTileData(tlog.Tile{H: 8, L: 0, N: 1, W: 256}, s.store.HashReader(t.Context(), tenant, unit))
	require.NoError(t, err)
	require.Equal(t, want, body)
}

// Beyond the tree is 404, a path not in C2SP's exact encoding 400; neither is cacheable.
func TestTilesRefuseWhatTheTreeLacksAndMalformedPaths(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	s.appendN(t, "iksan", "u", 600)
	c := newTileClient(t, s, "iksan", "u", s.token(t, "tenants/iksan"))

	for _, p := range []string{"tile/0/000", "tile/0/001", "tile/0/002.p/88", "tile/0/002.p/1",
		"tile/0/000.p/255", "tile/1/000.p/2", "tile/1/000.p/1", "tile/entries/002.p/88", "tile/entries/000"} {
		code, _, body := c.get(p)
		require.Equal(t, http.StatusOK, code, "%s: %s", p, body)
	}
	for _, p := range []string{"tile/0/002", "tile/0/002.p/89", "tile/0/003", "tile/0/003.p/1",
		"tile/1/000", "tile/1/000.p/3", "tile/2/000.p/1", "tile/63/000.p/1", "tile/0/x001/000",
		"tile/entries/002", "tile/entries/002.p/89", "tile/entries/x999/x999/x999/x999/x999/999"} {
		code, h, body := c.get(p)
		require.Equal(t, http.StatusNotFound, code, "%s: %s", p, body)
		require.Equal(t, "no-store", h.Get("Cache-Control"), p)
	}
	for _, p := range []string{"", "checkpoint/", "checkpoints", "tile", "tile/0", "tile/0/", "tile/0/0",
		"tile/0/00", "tile/0/0000", "tile/00/000", "tile/01/000", "tile/+1/000", "tile/-1/000",
		"tile/64/000", "tile/x/000", "tile/data/000", "tile/8/0/000", "tile/0/x000/001",
		"tile/0/001/002", "tile/0/x001/x002", "tile/0/x001x/002", "tile/0/000.p/0", "tile/0/000.p/256",
		"tile/0/000.p/088", "tile/0/000.p/", "tile/0/000.p", "tile/0/000.p/1/", "tile/0/000.p/1.p/2",
		"tile/0/00a", "tile/0/0x1", "tile/entries/x001", "tile/entries/000.p/256", "tile/entries",
		"tile/0/x009/x223/x372/x036/x854/x775/808"} {
		code, h, body := c.get(p)
		require.Equal(t, http.StatusBadRequest, code, "%q: %s", p, body)
		require.Equal(t, "no-store", h.Get("Cache-Control"), p)
	}
}

// Reading tiles needs the read role on the unit, as GetCheckpoint does: no token is 401, a token
// for another tenant 403, and each tenant's path serves that tenant's log, never another's of the
// same unit id.
func TestTilesAreTheCallersTenantsOnly(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	s.appendN(t, "iksan", "u", 300)
	s.appendN(t, "gunsan", "u", 40)
	iksan, gunsan := s.token(t, "tenants/iksan"), s.token(t, "tenants/gunsan")

	for _, p := range []string{"checkpoint", "tile/0/000", "tile/entries/000", "tile/0/bad"} {
		code, h, _ := newTileClient(t, s, "iksan", "u", "").get(p)
		if p == "tile/0/bad" {
			require.Equal(t, http.StatusBadRequest, code) // nothing to authorise
			continue
		}
		require.Equal(t, http.StatusUnauthorized, code, p)
		require.Equal(t, "Bearer", h.Get("WWW-Authenticate"))
		code, _, _ = newTileClient(t, s, "iksan", "u", "not-a-token").get(p)
		require.Equal(t, http.StatusUnauthorized, code, p)
		code, _, body := newTileClient(t, s, "gunsan", "u", iksan).get(p)
		require.Equal(t, http.StatusForbidden, code, "%s: %s", p, body)
		code, _, body = newTileClient(t, s, "iksan", "u", s.token(t, "tenants/iksan/units/other")).get(p)
		require.Equal(t, http.StatusForbidden, code, "%s: %s", p, body)
	}

	// Each tenant's tiles authenticate against that tenant's checkpoint and hold its leaves.
	for tenant, tok := range map[string]string{"iksan": iksan, "gunsan": gunsan} {
		c := newTileClient(t, s, tenant, "u", tok)
		tree := c.checkpoint(s, tenant, "u")
		r := tlog.TileHashReader(tree, c)
		th, err := tlog.TreeHash(tree.N, r)
		require.NoError(t, err)
		require.Equal(t, tree.Hash, th)
		p, err := tlog.ProveRecord(tree.N, 7, r)
		require.NoError(t, err)
		require.NoError(t, tlog.CheckRecord(p, tree.N, tree.Hash, 7, tlog.RecordHash(testLeaf(tenant, "u", 7))))
		leaves, _ := c.bundle(0, min(int(tree.N), 256))
		require.Equal(t, testLeaf(tenant, "u", 0), leaves[0])
	}
	// Gunsan's log is 40 entries: iksan's 41st is not served under gunsan's path.
	code, _, _ := newTileClient(t, s, "gunsan", "u", gunsan).get("tile/0/000.p/41")
	require.Equal(t, http.StatusNotFound, code)
}

// The path encoding is tlog's sumdb layout minus the height: C2SP's examples and every tile
// tlog names round-trip.
func TestTilesPathsAreTlogsWithoutTheHeight(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	s.appendN(t, "iksan", "u", 1)
	c := newTileClient(t, s, "iksan", "u", s.token(t, "tenants/iksan"))
	// A valid path far beyond the tree is 404, not 400: the spec's example index 1234067 included.
	for _, n := range []int64{1, 999, 1000, 1234067, 1<<63 - 1} {
		for _, l := range []int{0, 1, 5, 63} {
			for _, w := range []int{1, 17, 255, 256} {
				p := c2spPath(tlog.Tile{H: 8, L: l, N: n, W: w})
				code, _, body := c.get(p)
				require.Equal(t, http.StatusNotFound, code, "%s: %s", p, body)
			}
		}
	}
	code, _, _ := c.get("tile/0/x001/x234/067")
	require.Equal(t, http.StatusNotFound, code)
	code, _, _ = c.get("tile/0/000.p/1")
	require.Equal(t, http.StatusOK, code)
}
