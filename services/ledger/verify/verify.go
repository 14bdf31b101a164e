// Package verify audits a unit's ledger from the outside, over the public REST API only, as an
// inspector would: it checks the checkpoint's signature with the unit's verifier key and that its
// origin is the audited log's (one key signs all of a tenant's logs), that the log only grew since
// the last checkpoint it saw (a consistency proof), and that every leaf names the log and index it
// was served at and is in the tree (inclusion proofs), and names the first index that fails. It
// trusts nothing the server computes: hashes are recomputed with golang.org/x/mod/sumdb/tlog,
// signatures checked with golang.org/x/mod/sumdb/note and leaves decoded with entry.DecodeLeaf.
// `pipa ledger verify` is its command line.
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
	"strconv"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
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
	// Token is a bearer token with a read role on the unit (an auditor's).
	Token string
	HTTP  *http.Client
}

// State is what an inspector keeps between runs: the key trusted and the last checkpoint seen.
type State struct {
	Log         string `json:"log"`
	VerifierKey string `json:"verifierKey"`
	TreeSize    int64  `json:"treeSize"`
	RootHash    string `json:"rootHash"`
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
}

// OK reports whether the ledger verified.
func (r Report) OK() bool { return r.FirstBad < 0 && r.Problem == "" }

// Run verifies the log named log ("tenants/{t}/units/{u}") and advances st on success.
func Run(ctx context.Context, c Client, log string, st *State) (Report, error) {
	rep := Report{FirstBad: -1}
	tenant, unit, err := names.ParseUnit("log", log)
	if err != nil {
		return rep, err
	}
	if st.Log != "" && st.Log != log {
		return rep, fmt.Errorf("the state file is for %s, not %s", st.Log, log)
	}
	st.Log = log
	if st.VerifierKey == "" {
		var k ledgerv1.VerifierKey
		if err := c.get(ctx, "/v1/public/"+names.Unit(tenant, unit)+"/ledger/key", &k); err != nil {
			return rep, err
		}
		st.VerifierKey = k.GetVerifierKey() // trust on first use; pin it with -key
	}
	verifier, err := note.NewVerifier(st.VerifierKey)
	if err != nil {
		return rep, fmt.Errorf("verifier key: %w", err)
	}

	var cp ledgerv1.Checkpoint
	if err := c.get(ctx, "/v1/"+log+"/ledger/checkpoint", &cp); err != nil {
		return rep, err
	}
	n, err := note.Open([]byte(cp.GetNote()), note.VerifierList(verifier))
	if err != nil {
		rep.Problem = "the checkpoint's signature does not verify with " + st.VerifierKey + ": " + err.Error()
		return rep, nil
	}
	if rep.Origin, rep.TreeSize, rep.Root, err = ParseCheckpoint(n.Text); err != nil {
		rep.Problem = err.Error()
		return rep, nil
	}
	// The tenant's key signs every unit's log: a checkpoint of another log must not pass for this
	// one (e.g. an empty log's, hiding every entry).
	if !strings.HasSuffix(rep.Origin, "/"+log) {
		rep.Problem = fmt.Sprintf("the checkpoint is for the log %q, not for %s", rep.Origin, log)
		return rep, nil
	}

	// The log may only have grown since the last checkpoint this inspector saw.
	if st.TreeSize > 0 {
		old, err := tlog.ParseHash(st.RootHash)
		if err != nil {
			return rep, fmt.Errorf("state root hash: %w", err)
		}
		switch {
		case rep.TreeSize < st.TreeSize:
			rep.Problem = fmt.Sprintf("the log shrank: size %d after %d was seen", rep.TreeSize, st.TreeSize)
			return rep, nil
		case rep.TreeSize == st.TreeSize && rep.Root != old:
			rep.Problem = fmt.Sprintf("the tree of size %d changed its root since it was last seen", rep.TreeSize)
			return rep, nil
		case rep.TreeSize > st.TreeSize:
			var p ledgerv1.ConsistencyProof
			q := url.Values{"from": {strconv.FormatInt(st.TreeSize, 10)}, "to": {strconv.FormatInt(rep.TreeSize, 10)}}
			if err := c.get(ctx, "/v1/"+log+"/ledger:consistency?"+q.Encode(), &p); err != nil {
				return rep, err
			}
			if err := tlog.CheckTree(hashes(p.GetHashes()), rep.TreeSize, rep.Root, st.TreeSize, old); err != nil {
				rep.Problem = fmt.Sprintf("the log of size %d is not an extension of the size %d seen before: %v", rep.TreeSize, st.TreeSize, err)
				return rep, nil
			}
		}
	}

	if rep.FirstBad, rep.Problem, err = c.checkLeaves(ctx, log, rep.TreeSize, rep.Root); err != nil {
		return rep, err
	}
	if rep.OK() {
		st.TreeSize, st.RootHash = rep.TreeSize, rep.Root.String()
	}
	return rep, nil
}

// checkLeaves checks every leaf with a few requests in flight and returns the lowest failing
// index and what failed there, or -1.
func (c Client) checkLeaves(ctx context.Context, log string, size int64, root tlog.Hash) (int64, string, error) {
	const workers = 8
	var (
		mu       sync.Mutex
		firstBad = int64(-1)
		problem  string
		firstErr error
		next     = make(chan int64)
		wg       sync.WaitGroup
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				bad, err := c.checkLeaf(ctx, log, i, size, root)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if bad != "" && err == nil && (firstBad < 0 || i < firstBad) {
					firstBad, problem = i, fmt.Sprintf("entry %d %s", i, bad)
				}
				mu.Unlock()
			}
		}()
	}
	for i := int64(0); i < size; i++ {
		mu.Lock()
		stop := firstErr != nil || (firstBad >= 0 && firstBad < i)
		mu.Unlock()
		if stop {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return firstBad, problem, firstErr
}

// checkLeaf says what is wrong with leaf i as served ("" for nothing): it must be a canonical
// leaf naming this log and index i, and the i-th leaf of the tree with the given root.
func (c Client) checkLeaf(ctx context.Context, log string, i, size int64, root tlog.Hash) (string, error) {
	name := "/v1/" + log + "/ledger/entries/" + strconv.FormatInt(i, 10)
	var leaf ledgerv1.Leaf
	if err := c.get(ctx, name+":leaf", &leaf); err != nil {
		return "", err
	}
	// The leaf names its own log and position, so a leaf cannot be moved or replayed elsewhere.
	d, err := entry.DecodeLeaf(leaf.GetData())
	if err != nil {
		return "is not a canonical leaf: " + err.Error(), nil
	}
	if d.Log != log || d.Index != i {
		return fmt.Sprintf("is a leaf of %s at index %d", d.Log, d.Index), nil
	}
	var p ledgerv1.InclusionProof
	if err := c.get(ctx, name+":prove?treeSize="+strconv.FormatInt(size, 10), &p); err != nil {
		return "", err
	}
	if tlog.CheckRecord(hashes(p.GetHashes()), size, root, i, tlog.RecordHash(leaf.GetData())) != nil {
		return fmt.Sprintf("is not in the signed tree of size %d", size), nil
	}
	return "", nil
}

// ParseCheckpoint reads the body of a C2SP tlog-checkpoint: origin, tree size, base64 root hash.
func ParseCheckpoint(text string) (origin string, size int64, root tlog.Hash, err error) {
	lines := strings.Split(text, "\n")
	if len(lines) < 4 || lines[0] == "" {
		return "", 0, root, errors.New("the checkpoint is not a C2SP tlog-checkpoint (origin, size, root hash)")
	}
	if size, err = strconv.ParseInt(lines[1], 10, 64); err != nil || size < 0 {
		return "", 0, root, fmt.Errorf("checkpoint tree size %q", lines[1])
	}
	b, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(b) != tlog.HashSize {
		return "", 0, root, fmt.Errorf("checkpoint root hash %q", lines[2])
	}
	copy(root[:], b)
	return lines[0], size, root, nil
}

func hashes(bs [][]byte) []tlog.Hash {
	out := make([]tlog.Hash, len(bs))
	for i, b := range bs {
		copy(out[i][:], b)
	}
	return out
}

func (c Client) get(ctx context.Context, path string, into proto.Message) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.BaseURL, "/")+path, nil)
	if err != nil {
		return err
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
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, into)
}
