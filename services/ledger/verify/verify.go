// Package verify audits a unit's ledger from the outside, as an inspector would, over what pipa
// serves publicly: the log's C2SP tlog-tiles (the signed checkpoint, the entry bundles) and its
// verifier key. It trusts nothing the server computes:
//
//   - the checkpoint's signature is checked with the key the inspector trusts (pinned, or kept
//     from the first run), following the log's key handovers from that key, each signed by the
//     old key and the new one and recorded by a LEDGER_KEY entry in the tree;
//   - with witnesses given, the checkpoint must carry enough of their cosignatures (C2SP
//     tlog-cosignature), so that a view shown to this inspector alone is refused;
//   - every leaf is read from the entry bundles, must be a canonical leaf naming this log and its
//     index, and the tree is recomputed from the leaves (transparency-dev/merkle's compact range):
//     its root must be the signed one, and at the size the inspector saw last, the root it saw
//     then (so the log only grew). The state file keeps the tree's right edge, so that the next
//     run reads only the new entries;
//   - erasure shows (with a token): every entry the server marks redacted has a REDACTION entry
//     following it in the tree, and every REDACTION entry's target is served erased.
//
// When the leaves do not hash to the signed root, the hash tiles (authenticated against the
// signed root with golang.org/x/mod/sumdb/tlog) name the first entry that differs. `pipa ledger
// verify` is its command line.
package verify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/transparency-dev/formats/log"
	f_note "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	tessera "github.com/transparency-dev/tessera/api"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/ledger/entry"
)

// Client reaches a pipa gateway.
type Client struct {
	// BaseURL is the gateway, e.g. http://localhost:8080.
	BaseURL string
	// Token is a bearer token with a read role on the unit (an auditor's): it reads the entry
	// bundles (unless the tenant made them public) and which entries are redacted. Optional.
	Token string
	HTTP  *http.Client
	// Requests counts the HTTP requests made.
	Requests atomic.Int64
}

// Policy is what a run demands besides the log's signature.
type Policy struct {
	// Witnesses are the cosignature verifier keys of the witnesses trusted.
	Witnesses []string
	// Cosignatures is how many of them must have cosigned the checkpoint.
	Cosignatures int
	// Full reads every leaf again, not only those after the state's tree, and checks that they
	// still hash to the root the state kept: a rewrite of an old row that only serves other bytes
	// (the signed tree unchanged) shows only then.
	Full bool
}

// State is what an inspector keeps between runs: the key trusted and the last tree seen.
type State struct {
	Log         string `json:"log"`
	VerifierKey string `json:"verifierKey"`
	TreeSize    int64  `json:"treeSize"`
	RootHash    string `json:"rootHash"`
	// Edge is the right edge (compact range) of the tree of TreeSize, base64, from which the next
	// run continues without reading the earlier leaves again.
	Edge []string `json:"edge,omitempty"`
	// Erased are the entries that REDACTION entries up to TreeSize erased.
	Erased []int64 `json:"erased,omitempty"`
}

// LoadState reads a state file; a missing file is an empty state.
func LoadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &State{}, nil
	}
	if err != nil {
		return nil, err
	}
	var s State
	return &s, json.Unmarshal(b, &s)
}

// Save writes the state file.
func (s *State) Save(path string) error {
	b, _ := json.MarshalIndent(s, "", "  ")
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Report is the outcome of a run.
type Report struct {
	Origin   string
	TreeSize int64
	Root     tlog.Hash
	// FirstBad is the lowest index whose leaf fails, or -1.
	FirstBad int64
	// Problem says what failed, "" when nothing did.
	Problem string
	// Witnesses are the trusted witnesses whose cosignatures the checkpoint carries.
	Witnesses []string
	// Read is the number of leaves read; Unchecked says what could not be checked.
	Read      int64
	Unchecked string
}

// OK reports whether the ledger verified.
func (r Report) OK() bool { return r.FirstBad < 0 && r.Problem == "" }

// bundleSize is the C2SP entry bundle width.
const bundleSize = 256

var hasher = rfc6962.DefaultHasher

// Run verifies the log named log ("tenants/{t}/units/{u}", or "tenants/{t}/units/-" for the
// tenant's own log of its staff's role grants) under policy and advances st on success.
func Run(ctx context.Context, c *Client, logName string, st *State, policy Policy) (Report, error) {
	rep := Report{FirstBad: -1}
	tenant, unit, err := names.ParseLog("log", logName)
	if err != nil {
		return rep, err
	}
	if st.Log != "" && st.Log != logName {
		return rep, fmt.Errorf("the state file is for %s, not %s", st.Log, logName)
	}
	var k ledgerv1.VerifierKey
	if err := c.getJSON(ctx, "/v1/public/"+names.Unit(tenant, unit)+"/ledger/key", &k); err != nil {
		return rep, err
	}
	trusted := st.VerifierKey
	if trusted == "" {
		trusted = k.GetVerifierKey() // trust on first use; pin it with -key
	}
	prefix := k.GetTilesPath()
	if prefix == "" {
		prefix = "/v1/public/" + names.Unit(tenant, unit) + "/ledger/tiles/"
	}
	raw, err := c.get(ctx, prefix+"checkpoint")
	if err != nil {
		return rep, err
	}

	// The key: the trusted one, or one it handed over to, in order.
	key, problem := followKeys(trusted, k.GetHandovers(), raw)
	if problem != "" {
		rep.Problem = problem
		return rep, nil
	}
	v, _ := note.NewVerifier(key)
	cp, _, n, err := log.ParseCheckpoint(raw, v.Name(), v, witnessVerifiers(policy)...)
	if err != nil {
		// The origin is the key's name, except for a log still signed by its tenant's key.
		if cp, _, n, err = log.ParseCheckpoint(raw, firstLine(raw), v, witnessVerifiers(policy)...); err != nil {
			rep.Problem = "the checkpoint does not verify with " + key + ": " + err.Error()
			return rep, nil
		}
	}
	rep.Origin, rep.TreeSize = cp.Origin, int64(cp.Size)
	copy(rep.Root[:], cp.Hash)
	// A checkpoint must be this log's, not another log's under a shared (tenant) key.
	if !strings.HasSuffix(rep.Origin, "/"+logName) || cp.Size > 1<<62 || len(cp.Hash) != tlog.HashSize {
		rep.Problem = fmt.Sprintf("the checkpoint is for the log %q, not for %s", rep.Origin, logName)
		return rep, nil
	}
	for _, s := range n.Sigs {
		if s.Name != v.Name() || s.Hash != v.KeyHash() {
			rep.Witnesses = append(rep.Witnesses, s.Name)
		}
	}
	if len(rep.Witnesses) < policy.Cosignatures {
		rep.Problem = fmt.Sprintf("the checkpoint carries %d of the %d witness cosignatures required (%s)",
			len(rep.Witnesses), policy.Cosignatures, strings.Join(rep.Witnesses, ", "))
		return rep, nil
	}
	if rep.TreeSize < st.TreeSize {
		rep.Problem = fmt.Sprintf("the log shrank: size %d after %d was seen", rep.TreeSize, st.TreeSize)
		return rep, nil
	}

	s, err := c.scan(ctx, prefix, logName, st, rep.TreeSize, k.GetHandovers(), policy.Full)
	if err != nil {
		return rep, err
	}
	rep.Read = s.read
	if s.problem == "" && s.root != rep.Root {
		s.problem = fmt.Sprintf("the leaves served do not hash to the signed root of size %d", rep.TreeSize)
	}
	if s.problem != "" {
		rep.FirstBad, rep.Problem = s.bad, s.problem
		if s.bad < 0 { // a root that differs: the signed tree's hash tiles say which leaf
			if rep.FirstBad = c.firstBad(ctx, prefix, tlog.Tree{N: rep.TreeSize, Hash: rep.Root}, s); rep.FirstBad >= 0 {
				rep.Problem = fmt.Sprintf("entry %d is not the leaf in the signed tree (%s)", rep.FirstBad, s.problem)
			}
		}
		return rep, nil
	}
	if c.Token == "" {
		rep.Unchecked = "redactions (no token to list the entries marked redacted)"
	} else if rep.FirstBad, rep.Problem, err = c.checkErasure(ctx, logName, s.erased); err != nil || !rep.OK() {
		return rep, err
	}
	st.Log, st.VerifierKey, st.TreeSize, st.RootHash = logName, key, rep.TreeSize, rep.Root.String()
	st.Edge, st.Erased = s.edge, s.erased
	return rep, nil
}

// followKeys returns the key that signs checkpoint, reached from trusted by the handovers in
// order (each signed by the key before it and the next); or what is wrong.
func followKeys(trusted string, hs []*ledgerv1.KeyHandover, checkpoint []byte) (string, string) {
	key := trusted
	for _, h := range hs {
		if opens(checkpoint, key) {
			break
		}
		if h.GetPreviousKey() != key {
			continue
		}
		if !opens([]byte(h.GetCheckpoint()), key) || !opens([]byte(h.GetCheckpoint()), h.GetVerifierKey()) {
			return "", fmt.Sprintf("the handover from %s to %s is not signed by both keys", key, h.GetVerifierKey())
		}
		key = h.GetVerifierKey()
	}
	if _, err := note.NewVerifier(key); err != nil || !opens(checkpoint, key) {
		return "", "the checkpoint's signature does not verify with " + trusted + " nor with a key it handed over to"
	}
	return key, ""
}

func opens(msg []byte, vkey string) bool {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return false
	}
	_, err = note.Open(msg, note.VerifierList(v))
	return err == nil
}

func witnessVerifiers(p Policy) []note.Verifier {
	var vs []note.Verifier
	for _, k := range p.Witnesses {
		if v, err := f_note.NewVerifierForCosignatureV1(k); err == nil {
			vs = append(vs, v)
		}
	}
	return vs
}

func firstLine(b []byte) string {
	l, _, _ := strings.Cut(string(b), "\n")
	return l
}

// scanned is what scan learned from the leaves.
type scanned struct {
	root       tlog.Hash
	edge       []string
	erased     []int64
	read       int64
	bad        int64
	problem    string
	start      int64
	leafHashes map[int64][]byte // of the leaves read, for firstBad
}

// scan reads the leaves from where st ends to size, checks each, and computes the tree's root,
// checking the roots the state and the log's handovers fix along the way: every handover's tree
// is a prefix of this one, ending with its LEDGER_KEY entry.
func (c *Client) scan(ctx context.Context, prefix, logName string, st *State, size int64, handovers []*ledgerv1.KeyHandover, full bool) (*scanned, error) {
	s := &scanned{bad: -1, leafHashes: map[int64][]byte{}, erased: slices.Clone(st.Erased)}
	rf := &compact.RangeFactory{Hash: hasher.HashChildren}
	r := rf.NewEmptyRange(0)
	if len(st.Edge) > 0 && st.TreeSize > 0 && !full {
		hs := make([][]byte, len(st.Edge))
		for i, e := range st.Edge {
			var err error
			if hs[i], err = base64.StdEncoding.DecodeString(e); err != nil {
				return nil, fmt.Errorf("state edge: %w", err)
			}
		}
		var err error
		if r, err = rf.NewRange(0, uint64(st.TreeSize), hs); err != nil {
			return nil, fmt.Errorf("state edge: %w", err)
		}
		if rootOf(r).String() != st.RootHash {
			return nil, errors.New("the state file's edge is not the tree of its root hash")
		}
		s.start = st.TreeSize
	} else {
		s.erased = nil
	}
	// The roots the tree must have at sizes fixed earlier: the one this inspector saw, and the
	// handovers' (each ends with its LEDGER_KEY entry).
	want := map[int64]string{}
	if st.TreeSize > 0 && s.start == 0 {
		want[st.TreeSize] = st.RootHash
	}
	keyAt := map[int64]string{}
	for _, h := range handovers {
		_, n, root, err := ParseCheckpoint(bodyOf(h.GetCheckpoint()))
		if err != nil || n != h.GetEntryIndex()+1 {
			s.bad, s.problem = h.GetEntryIndex(), "the handover to "+h.GetVerifierKey()+" is not a checkpoint ending with its entry"
			return s, nil
		}
		keyAt[h.GetEntryIndex()] = h.GetVerifierKey()
		if n > s.start {
			want[n] = root.String()
		}
	}

	const ahead = 16 // bundles fetched at once
	for first := s.start / bundleSize; first*bundleSize < size; first += ahead {
		bundles := make([][][]byte, min(ahead, (size+bundleSize-1)/bundleSize-first))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(8)
		for i := range bundles {
			n := first + int64(i)
			w := min(bundleSize, size-n*bundleSize)
			g.Go(func() (err error) {
				bundles[i], err = c.bundle(gctx, prefix, n, int(w))
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		for bi, leaves := range bundles {
			for j, leaf := range leaves {
				i := (first+int64(bi))*bundleSize + int64(j)
				if i < s.start {
					continue
				}
				if what := checkLeaf(leaf, logName, i, keyAt); what != "" {
					s.bad, s.problem = i, fmt.Sprintf("entry %d %s", i, what)
					return s, nil
				}
				if d, _ := entry.DecodeLeaf(leaf); d.Entry.GetKind() == ledgerv1.EntryKind_ENTRY_KIND_REDACTION {
					s.erased = append(s.erased, d.Entry.GetFollows())
				}
				h := hasher.HashLeaf(leaf)
				s.leafHashes[i] = h
				if err := r.Append(h, nil); err != nil {
					return nil, err
				}
				s.read++
				if root, ok := want[i+1]; ok && rootOf(r).String() != root {
					s.bad, s.problem = -1, fmt.Sprintf("the tree of size %d is not the one seen before (a handover or an earlier run): the log was rewritten", i+1)
					return s, nil
				}
			}
		}
	}
	for _, h := range handovers {
		if _, ok := keyAt[h.GetEntryIndex()]; ok && h.GetEntryIndex() >= size {
			s.bad, s.problem = -1, "a handover lies beyond the signed tree"
			return s, nil
		}
	}
	s.root = rootOf(r)
	for _, h := range r.Hashes() {
		s.edge = append(s.edge, base64.StdEncoding.EncodeToString(h))
	}
	slices.Sort(s.erased)
	s.erased = slices.Compact(s.erased)
	return s, nil
}

// checkLeaf says what is wrong with leaf as entry i of log ("" for nothing): a canonical leaf
// naming this log and index i; a LEDGER_KEY entry only where a handover names it, with its key.
func checkLeaf(leaf []byte, logName string, i int64, keyAt map[int64]string) string {
	d, err := entry.DecodeLeaf(leaf)
	if err != nil {
		return "is not a canonical leaf: " + err.Error()
	}
	if d.Log != logName || d.Index != i {
		return fmt.Sprintf("is a leaf of %s at index %d", d.Log, d.Index)
	}
	isKey := d.Entry.GetKind() == ledgerv1.EntryKind_ENTRY_KIND_LEDGER_KEY
	want, ok := keyAt[i]
	switch {
	case ok && (!isKey || d.Entry.GetVerifierKey() != want):
		return "is not the LEDGER_KEY entry of the handover to " + want
	case isKey && !ok:
		return "is a LEDGER_KEY entry of a handover the server does not show"
	}
	return ""
}

func rootOf(r *compact.Range) tlog.Hash {
	var h tlog.Hash
	if r.End() == 0 {
		copy(h[:], hasher.EmptyRoot())
		return h
	}
	b, _ := r.GetRootHash(nil)
	copy(h[:], b)
	return h
}

func bodyOf(note string) string {
	b, _, _ := strings.Cut(note, "\n\n")
	return b + "\n"
}

// bundle fetches entry bundle n of width w and returns its leaves.
func (c *Client) bundle(ctx context.Context, prefix string, n int64, w int) ([][]byte, error) {
	p := prefix + tilePath("entries", n, w)
	b, err := c.get(ctx, p)
	if err != nil {
		return nil, err
	}
	var eb tessera.EntryBundle
	if err := eb.UnmarshalText(b); err != nil {
		return nil, fmt.Errorf("GET %s: %w", p, err)
	}
	if len(eb.Entries) != w {
		return nil, fmt.Errorf("GET %s: %d entries, want %d", p, len(eb.Entries), w)
	}
	return eb.Entries, nil
}

// tilePath is C2SP tlog-tiles' "tile/{level}/{N}[.p/{W}]".
func tilePath(level string, n int64, w int) string {
	var elems []string
	for ; ; n /= 1000 {
		elems = append(elems, fmt.Sprintf("%03d", n%1000))
		if n < 1000 {
			break
		}
	}
	slices.Reverse(elems)
	p := "tile/" + level + "/"
	for i, e := range elems {
		if i < len(elems)-1 {
			p += "x" + e + "/"
		} else {
			p += e
		}
	}
	if w < bundleSize {
		p += ".p/" + strconv.Itoa(w)
	}
	return p
}

// tiles reads hash tiles over HTTP for tlog.TileHashReader, which authenticates them.
type tiles struct {
	ctx    context.Context
	c      *Client
	prefix string
}

func (t tiles) Height() int { return 8 }

func (t tiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, tile := range ts {
		w := tile.W
		b, err := t.c.get(t.ctx, t.prefix+tilePath(strconv.Itoa(tile.L), tile.N, w))
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func (t tiles) SaveTiles([]tlog.Tile, [][]byte) {}

// firstBad names the first leaf read whose hash is not the one in the signed tree, read from the
// hash tiles authenticated against it; -1 when the tiles do not say.
func (c *Client) firstBad(ctx context.Context, prefix string, tree tlog.Tree, s *scanned) int64 {
	r := tlog.TileHashReader(tree, tiles{ctx: ctx, c: c, prefix: prefix})
	end := s.start + s.read
	for first := s.start; first < end; first += bundleSize {
		var idx []int64
		for i := first; i < min(first+bundleSize, end); i++ {
			idx = append(idx, tlog.StoredHashIndex(0, i))
		}
		hs, err := r.ReadHashes(idx)
		if err != nil {
			return -1 // the tiles do not verify either: no entry to name
		}
		for k, h := range hs {
			if i := first + int64(k); string(h[:]) != string(s.leafHashes[i]) {
				return i
			}
		}
	}
	return -1
}

// checkErasure compares the entries the server marks redacted with the entries REDACTION
// entries erased: each must be the other (erasure that shows).
func (c *Client) checkErasure(ctx context.Context, logName string, erased []int64) (int64, string, error) {
	var marked []int64
	for tok := ""; ; {
		var page ledgerv1.ListEntriesResponse
		q := url.Values{"redacted": {"true"}, "pageSize": {"1000"}, "pageToken": {tok}}
		if err := c.getJSON(ctx, "/v1/"+logName+"/ledger/entries?"+q.Encode(), &page); err != nil {
			return -1, "", err
		}
		for _, e := range page.GetEntries() {
			marked = append(marked, e.GetIndex())
		}
		if tok = page.GetNextPageToken(); tok == "" {
			break
		}
	}
	for _, i := range marked {
		if _, ok := slices.BinarySearch(erased, i); !ok {
			return i, fmt.Sprintf("entry %d is served as redacted, but no REDACTION entry follows it", i), nil
		}
	}
	slices.Sort(marked)
	for _, i := range erased {
		if _, ok := slices.BinarySearch(marked, i); !ok {
			return i, fmt.Sprintf("entry %d was erased by a REDACTION entry, but is not served as redacted", i), nil
		}
	}
	return -1, "", nil
}

// ParseCheckpoint reads the body of a C2SP tlog-checkpoint: origin, tree size, base64 root hash.
func ParseCheckpoint(text string) (origin string, size int64, root tlog.Hash, err error) {
	var cp log.Checkpoint
	if _, err := cp.Unmarshal([]byte(text)); err != nil || cp.Size > 1<<62 || len(cp.Hash) != tlog.HashSize {
		return "", 0, root, errors.New("the checkpoint is not a C2SP tlog-checkpoint (origin, size, root hash)")
	}
	copy(root[:], cp.Hash)
	return cp.Origin, int64(cp.Size), root, nil
}

func (c *Client) get(ctx context.Context, path string) ([]byte, error) {
	c.Requests.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.BaseURL, "/")+path, nil)
	if err != nil {
		return nil, err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}

func (c *Client) getJSON(ctx context.Context, path string, into proto.Message) error {
	b, err := c.get(ctx, path)
	if err != nil {
		return err
	}
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, into)
}
