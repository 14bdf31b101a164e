// Command checkproof is an independent check of a pipa ledger: it imports none of pipa's
// packages, only golang.org/x/mod/sumdb/tlog and note, and reads the public REST API the way any
// verifier in any language could. It fetches the unit's verifier key, the signed checkpoint, one
// entry's leaf and its inclusion proof, and says whether the leaf is in the signed tree.
//
//	checkproof -url http://localhost:8080 -log tenants/jeongeup/units/library -index 0 -token $PIPA_TOKEN
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
	flag.Parse()
	if err := check(*base, *log, *index, *token); err != nil {
		fmt.Fprintln(os.Stderr, "checkproof:", err)
		os.Exit(1)
	}
}

func check(base, log string, index int64, token string) error {
	p := strings.Split(log, "/")
	if len(p) != 4 {
		return fmt.Errorf("-log %q: want tenants/{tenant}/units/{unit}", log)
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

	var key struct{ VerifierKey string }
	if err := get("/v1/public/tenants/"+p[1]+"/units/"+p[3]+"/ledger/key", &key); err != nil {
		return err
	}
	v, err := note.NewVerifier(key.VerifierKey)
	if err != nil {
		return err
	}
	var cp struct{ Note string }
	if err := get("/v1/"+log+"/ledger/checkpoint", &cp); err != nil {
		return err
	}
	n, err := note.Open([]byte(cp.Note), note.VerifierList(v))
	if err != nil {
		return fmt.Errorf("checkpoint signature: %w", err)
	}
	// C2SP tlog-checkpoint: origin, tree size, base64 root hash.
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 3 {
		return fmt.Errorf("checkpoint body %q", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return fmt.Errorf("checkpoint size: %w", err)
	}
	rootBytes, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(rootBytes) != tlog.HashSize {
		return fmt.Errorf("checkpoint root %q", lines[2])
	}
	var root tlog.Hash
	copy(root[:], rootBytes)

	entry := "/v1/" + log + "/ledger/entries/" + strconv.FormatInt(index, 10)
	var leaf struct{ Data []byte } // JSON base64 decodes into []byte
	if err := get(entry+":leaf", &leaf); err != nil {
		return err
	}
	var proof struct{ Hashes [][]byte }
	if err := get(entry+":prove?treeSize="+strconv.FormatInt(size, 10), &proof); err != nil {
		return err
	}
	hs := make([]tlog.Hash, len(proof.Hashes))
	for i, h := range proof.Hashes {
		copy(hs[i][:], h)
	}
	if err := tlog.CheckRecord(hs, size, root, index, tlog.RecordHash(leaf.Data)); err != nil {
		return fmt.Errorf("entry %d is not in the signed tree of size %d: %w", index, size, err)
	}
	fmt.Printf("ok: entry %d is in the tree of size %d signed by %s (origin %s)\n", index, size, v.Name(), lines[0])
	return nil
}
