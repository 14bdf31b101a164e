package ledger

import (
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// Where a unit's log is served read-only as C2SP tlog-tiles (c2sp.org/tlog-tiles), each pattern
// a tlog-tiles prefix under which are "checkpoint", "tile/{L}/{N}[.p/{W}]" and
// "tile/entries/{N}[.p/{W}]":
//
//   - PublicTilesPattern, /v1/public/tenants/{tenant}/units/{unit}/ledger/tiles/: the checkpoint and
//     the hash tiles without a token, cacheable by anyone; the entry bundles (the leaves) with a
//     token of a reader of the unit, or without one when the tenant made them public
//     (LedgerSettings.public_entry_bundles), except the tenant's own log's (names.TenantLog),
//     which always need a token.
//   - OriginTilesPattern, /tenants/{tenant}/units/{unit}/: the same, at the path of the log's origin
//     line "{host}/tenants/{tenant}/units/{unit}", so that the origin is the log's URL prefix
//     (tlog-tiles: "https://" + origin + "/") when PIPA_LEDGER_ORIGIN names a host that reaches
//     this gateway.
//   - TilesPattern, /v1/tenants/{tenant}/units/{unit}/ledger/tiles/: everything, with a token only.
const (
	PublicTilesPattern = "GET /v1/public/tenants/{tenant}/units/{unit}/ledger/tiles/{path...}"
	OriginTilesPattern = "GET /tenants/{tenant}/units/{unit}/{path...}"
	TilesPattern       = "GET /v1/tenants/{tenant}/units/{unit}/ledger/tiles/{path...}"
)

// PublicTilesPath is the public tlog-tiles prefix of a unit's log on any pipa gateway.
func PublicTilesPath(t, u string) string {
	return "/v1/public/" + names.Unit(t, u) + "/ledger/tiles/"
}

// tileHeight is the C2SP tile height: a tile holds 256 hashes, a bundle 256 entries.
const tileHeight = 8

const tileWidth = 1 << tileHeight

// Cache-Control: the bytes at a tile's path never change in an append-only log, a partial
// tile's included (its width is in its path); the checkpoint changes with every append.
const (
	immutablePublic  = "public, max-age=31536000, immutable"
	immutablePrivate = "private, max-age=31536000, immutable" // read with a token: no shared cache
	checkpointPublic = "public, max-age=5"
)

// TilesOptions say what a tiles handler serves.
type TilesOptions struct {
	// Public: the checkpoint and hash tiles without a token (PublicTilesPattern,
	// OriginTilesPattern); entry bundles too when the tenant chose so.
	Public bool
	// Cosigned: the checkpoint served is the latest one the witnesses cosigned (see package
	// cosign), so that a client requiring cosignatures can follow the log; the latest signed one
	// while none is.
	Cosigned bool
}

// Tiles serves a unit's log as C2SP tlog-tiles, so that existing tlog tooling (transparency-dev's
// tessera client, golang.org/x/mod/sumdb/tlog.TileHashReader, Sunlight clients, witnesses'
// feeders) fetches the signed checkpoint, the tree's hashes and the leaves and checks them
// itself: hash tiles come from the stored hashes (tlog.ReadTileData over the store's
// HashReader), entry bundles from the stored leaves, exactly as hashed. With public, the
// checkpoint and hash tiles need no token, and entry bundles none if the tenant chose so.
//
// A request that needs a token calls the ledger's own GetCheckpoint with the caller's
// Authorization header forwarded, as Export does: the same token check and read roles as the
// gRPC API. The tree size that bounds what is served is the signed checkpoint's, read from the
// note after its signature was checked (pg.Store.Checkpoint). The store is read for the same
// tenant and unit as the path, so one tenant's path never serves another's log. Beyond the tree
// is 404, a malformed path 400 (C2SP's encoding exactly: no leading zeroes, canonical
// x-elements).
func Tiles(store *pg.Store, client ledgerv1.LedgerServiceClient, o TilesOptions) http.Handler {
	public := o.Public
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store") // replaced for cacheable answers
		res, err := parseTilesPath(r.PathValue("path"))
		if err != nil {
			writeStatus(w, status.New(codes.InvalidArgument, err.Error()))
			return
		}
		tenant, unit := r.PathValue("tenant"), r.PathValue("unit")
		ctx := r.Context()
		anonymous := public
		switch {
		case public && res.level < 0 && unit == names.TenantLog:
			// The tenant's own log holds its staff's role changes (S-5): its entry bundles need a
			// token as its entries do, whatever the tenant chose for its units' bundles.
			anonymous = false
		case public && res.level < 0:
			set, err := store.Settings(ctx, tenant)
			if err != nil {
				writeStatus(w, status.Convert(apierr.ToStatus(err)))
				return
			}
			anonymous = set.PublicEntryBundles
		}
		var size int64
		var note string
		if anonymous {
			h, err := store.Checkpoint(ctx, tenant, unit, true)
			if err != nil {
				writeStatus(w, status.Convert(apierr.ToStatus(err)))
				return
			}
			size, note = h.Size, h.Checkpoint
			if o.Cosigned && res.checkpoint {
				c, ok, err := store.Cosigned(ctx, tenant, unit)
				if err != nil {
					writeStatus(w, status.Convert(apierr.ToStatus(err)))
					return
				}
				if ok {
					note = c.Note
				}
			}
		} else {
			authCtx := ctx
			if a := r.Header.Get("Authorization"); a != "" {
				authCtx = metadata.AppendToOutgoingContext(ctx, "authorization", a)
			}
			cp, err := client.GetCheckpoint(authCtx, &ledgerv1.GetCheckpointRequest{Parent: names.Unit(tenant, unit)})
			if err != nil {
				st := status.Convert(err)
				if st.Code() == codes.Unauthenticated {
					w.Header().Set("WWW-Authenticate", "Bearer")
				}
				writeStatus(w, st)
				return
			}
			size, note = cp.GetTreeSize(), cp.GetNote()
			if o.Cosigned && cp.GetCosigned() != nil {
				note = cp.GetCosigned().GetNote()
			}
		}
		immutable := immutablePrivate
		if anonymous {
			immutable = immutablePublic
		}
		if res.checkpoint {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if anonymous {
				w.Header().Set("Cache-Control", checkpointPublic)
			}
			_, _ = w.Write([]byte(note))
			return
		}
		if !res.within(size) {
			writeStatus(w, status.Newf(codes.NotFound, "%s is beyond the log's tree of size %d", res.path(), size))
			return
		}
		fail := func(err error) {
			slog.ErrorContext(ctx, "ledger tiles", "tenant", tenant, "unit", unit, "path", res.path(), "err", err)
			writeStatus(w, status.New(codes.Internal, "internal error"))
		}
		if res.level >= 0 {
			data, err := tlog.ReadTileData(tlog.Tile{H: tileHeight, L: res.level, N: res.n, W: res.w}, store.HashReader(ctx, tenant, unit))
			if err != nil {
				fail(err)
				return
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Cache-Control", immutable)
			_, _ = w.Write(data)
			return
		}
		leaves, err := store.Leaves(ctx, tenant, unit, res.n*tileWidth, res.w)
		if err != nil {
			fail(err)
			return
		}
		var n int
		for i, l := range leaves {
			if len(l) > 0xFFFF {
				// The bundle format has a 2-byte length; such a leaf is only served by GetLeaf.
				writeStatus(w, status.Newf(codes.Unimplemented, "entry %d is %d bytes, more than an entry bundle can hold (65535)", res.n*tileWidth+int64(i), len(l)))
				return
			}
			n += 2 + len(l)
		}
		bundle := make([]byte, 0, n)
		for _, l := range leaves {
			bundle = binary.BigEndian.AppendUint16(bundle, uint16(len(l)))
			bundle = append(bundle, l...)
		}
		h := w.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Cache-Control", immutable)
		h.Add("Vary", "Accept-Encoding")
		if !anonymous {
			h.Add("Vary", "Authorization")
		}
		if !acceptsGzip(r) {
			_, _ = w.Write(bundle)
			return
		}
		h.Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		_, _ = zw.Write(bundle)
		_ = zw.Close()
	})
}

// tilesResource is what a path under the tiles prefix names: the checkpoint, hash tile (level,
// n) or, with level -1, entry bundle n; w is the width (tileWidth for a full one).
type tilesResource struct {
	checkpoint bool
	level      int
	n          int64
	w          int
}

// path is the resource's C2SP path, e.g. "tile/1/x001/x234/067.p/5" or "tile/entries/000".
func (t tilesResource) path() string {
	if t.checkpoint {
		return "checkpoint"
	}
	var b strings.Builder
	b.WriteString("tile/")
	if t.level < 0 {
		b.WriteString("entries")
	} else {
		b.WriteString(strconv.Itoa(t.level))
	}
	var elems []string
	for n := t.n; ; n /= 1000 {
		elems = append(elems, fmt.Sprintf("%03d", n%1000))
		if n < 1000 {
			break
		}
	}
	for i := len(elems) - 1; i >= 0; i-- {
		b.WriteByte('/')
		if i > 0 {
			b.WriteByte('x')
		}
		b.WriteString(elems[i])
	}
	if t.w != tileWidth {
		b.WriteString(".p/" + strconv.Itoa(t.w))
	}
	return b.String()
}

// within reports whether the tree of the given size has the resource. Level l holds the hashes
// of the tree's complete subtrees of 256**l leaves (size >> 8l of them, entries at level 0); tile
// n of width w needs the first n*256+w of them.
func (t tilesResource) within(size int64) bool {
	l := max(t.level, 0)
	var count int64
	if tileHeight*l < 63 {
		count = size >> (tileHeight * l)
	}
	full := count / tileWidth
	return t.n < full || (t.n == full && t.w < tileWidth && int64(t.w) <= count%tileWidth)
}

// parseTilesPath parses a path under the tiles prefix, exactly as C2SP tlog-tiles spells it.
// Unlike golang.org/x/mod/sumdb's "tile/{H}/{L}/…" there is no height element (it is always 8)
// and entry bundles are "tile/entries/…", not "tile/{H}/data/…".
func parseTilesPath(p string) (tilesResource, error) {
	if p == "checkpoint" {
		return tilesResource{checkpoint: true}, nil
	}
	bad := func(why string) (tilesResource, error) {
		return tilesResource{}, fmt.Errorf("%q is not a tlog-tiles path (checkpoint, tile/{L}/{N}[.p/{W}] or tile/entries/{N}[.p/{W}]): %s", p, why)
	}
	rest, ok := strings.CutPrefix(p, "tile/")
	if !ok {
		return bad("unknown resource")
	}
	levelStr, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return bad("no tile index")
	}
	t := tilesResource{level: -1, w: tileWidth}
	if levelStr != "entries" {
		if t.level, ok = decimal(levelStr, 0, 63); !ok {
			return bad("the level must be 0 to 63, with no leading zeroes")
		}
	}
	if i := strings.LastIndex(rest, ".p/"); i >= 0 {
		if t.w, ok = decimal(rest[i+len(".p/"):], 1, tileWidth-1); !ok {
			return bad("a partial width must be 1 to 255, with no leading zeroes")
		}
		rest = rest[:i]
	}
	elems := strings.Split(rest, "/")
	for i, e := range elems {
		last := i == len(elems)-1
		if !last {
			if e, ok = strings.CutPrefix(e, "x"); !ok {
				return bad("every index element but the last starts with x")
			}
		}
		d, ok := threeDigits(e)
		if !ok {
			return bad("the index is in 3-digit elements")
		}
		if i == 0 && !last && d == 0 {
			return bad("the index has a leading x000 element")
		}
		if t.n > (1<<63-1-int64(d))/1000 {
			return bad("the index is out of range")
		}
		t.n = t.n*1000 + int64(d)
	}
	if t.path() != p { // the encoding is canonical: one path per resource
		return bad("not in canonical form")
	}
	return t, nil
}

// decimal parses s as a decimal in [lo, hi] without sign or leading zeroes ("0" is zero).
func decimal(s string, lo, hi int) (int, bool) {
	if s == "" || len(s) > 3 || (s[0] == '0' && s != "0") {
		return 0, false
	}
	v := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, v >= lo && v <= hi
}

// threeDigits parses exactly three decimal digits.
func threeDigits(s string) (int, bool) {
	if len(s) != 3 {
		return 0, false
	}
	v := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip (C2SP: entry bundles
// SHOULD be compressed at the HTTP layer).
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q, ok := strings.CutPrefix(strings.ReplaceAll(strings.ToLower(params), " ", ""), "q=")
			if !ok {
				return true
			}
			f, err := strconv.ParseFloat(q, 64)
			return err == nil && f > 0
		}
	}
	return false
}
