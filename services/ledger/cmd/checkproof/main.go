// Command checkproof is an independent check of a pipa ledger: it imports none of pipa's
// packages, only golang.org/x/mod/sumdb/tlog and note, and reads the public REST API the way any
// verifier in any language could. It fetches the signed checkpoint, one entry's leaf and its
// inclusion proof, and says whether the leaf is in the signed tree, at the index it names, of the
// log it names. The unit's verifier key is best pinned out of band with -key; without it, it is
// fetched from the very server being checked.
//
//	checkproof -url http://localhost:8080 -log tenants/jeongeup/units/library -index 0 -key "$VKEY" -token $PIPA_TOKEN
package main

import (
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func main() {
	base := flag.String("url", "http://localhost:8080", "pipa gateway")
	log := flag.String("log", "", "tenants/{tenant}/units/{unit}")
	index := flag.Int64("index", 0, "entry index")
	token := flag.String("token", os.Getenv("PIPA_TOKEN"), "bearer token with a read role on the unit")
	key := flag.String("key", "", "the unit's note verifier key (default: fetched from the server being checked)")
	flag.Parse()
	if *key == "" {
		fmt.Fprintln(os.Stderr, "checkproof: no -key: trusting the verifier key the server gives")
	}
	ok, err := check(*base, *log, *index, *token, *key)
	if err != nil {
		fmt.Fprintln(os.Stderr, "checkproof:", err)
		os.Exit(1)
	}
	fmt.Println(ok)
}

// check checks entry index of log against the checkpoint signed with vkey (fetched when empty)
// and says what it found.
func check(base, log string, index int64, token, vkey string) (string, error) {
	p := strings.Split(log, "/")
	if len(p) != 4 || p[0] != "tenants" || p[2] != "units" {
		return "", fmt.Errorf("-log %q: want tenants/{tenant}/units/{unit}", log)
	}
	get := func(path string, into any) error {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s %s", path, resp.Status, b)
		}
		return json.Unmarshal(b, into)
	}

	if vkey == "" {
		var key struct{ VerifierKey string }
		if err := get("/v1/public/tenants/"+p[1]+"/units/"+p[3]+"/ledger/key", &key); err != nil {
			return "", err
		}
		vkey = key.VerifierKey
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return "", fmt.Errorf("verifier key: %w", err)
	}
	var cp struct{ Note string }
	if err := get("/v1/"+log+"/ledger/checkpoint", &cp); err != nil {
		return "", err
	}
	n, err := note.Open([]byte(cp.Note), note.VerifierList(v))
	if err != nil {
		return "", fmt.Errorf("checkpoint signature: %w", err)
	}
	// C2SP tlog-checkpoint: origin, tree size, base64 root hash.
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 3 {
		return "", fmt.Errorf("checkpoint body %q", n.Text)
	}
	// A log made before logs had keys of their own shares its tenant's key: the origin says which
	// log this checkpoint is of.
	if !strings.HasSuffix(lines[0], "/"+log) {
		return "", fmt.Errorf("the checkpoint is for the log %q, not for %s", lines[0], log)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return "", fmt.Errorf("checkpoint size: %w", err)
	}
	rootBytes, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(rootBytes) != tlog.HashSize {
		return "", fmt.Errorf("checkpoint root %q", lines[2])
	}
	var root tlog.Hash
	copy(root[:], rootBytes)

	entry := "/v1/" + log + "/ledger/entries/" + strconv.FormatInt(index, 10)
	var leaf struct{ Data []byte } // JSON base64 decodes into []byte
	if err := get(entry+":leaf", &leaf); err != nil {
		return "", err
	}
	// A leaf's first lines name its log and index, so that it cannot be moved or replayed: a leaf
	// naming another place is bad even if the tree holds it.
	header := "pipa-ledger-entry/v1\nlog: " + log + "\nindex: " + strconv.FormatInt(index, 10) + "\n"
	if !strings.HasPrefix(string(leaf.Data), header) {
		return "", fmt.Errorf("entry %d's leaf does not start %q", index, header)
	}
	var proof struct{ Hashes [][]byte }
	if err := get(entry+":prove?treeSize="+strconv.FormatInt(size, 10), &proof); err != nil {
		return "", err
	}
	hs := make([]tlog.Hash, len(proof.Hashes))
	for i, h := range proof.Hashes {
		copy(hs[i][:], h)
	}
	if err := tlog.CheckRecord(hs, size, root, index, tlog.RecordHash(leaf.Data)); err != nil {
		return "", fmt.Errorf("entry %d is not in the signed tree of size %d: %w", index, size, err)
	}
	return fmt.Sprintf("ok: entry %d is in the tree of size %d signed by %s (origin %s)", index, size, v.Name(), lines[0]), nil
}
