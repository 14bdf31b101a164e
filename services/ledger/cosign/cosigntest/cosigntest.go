// Package cosigntest runs transparency-dev/witness's omniwitness — the C2SP tlog-witness a city
// would run — on a loopback port for tests, keeping its state in memory.
package cosigntest

import (
	"context"
	"crypto/rand"
	"net"
	"net/http"
	"sync"
	"testing"

	f_note "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/witness/config"
	"github.com/transparency-dev/witness/omniwitness"
	"github.com/transparency-dev/witness/persistence/inmemory"
	"golang.org/x/mod/sumdb/note"

	"github.com/pipa-kr/pipa/services/ledger/cosign"
)

// Witness is a running witness; Stop stops it and Start serves it again, with its state, on a
// new port (a new URL).
type Witness struct {
	*cosign.Witness
	// Spec is its PIPA_LEDGER_WITNESSES entry.
	Spec     string
	signer   f_note.Signer
	cosigKey string
	logs     *inmemory.Persistence
	Stop     func()
}

// Start starts a witness named name that knows no log yet (see Know).
func Start(t testing.TB, name string) *Witness {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	w := &Witness{logs: inmemory.New()}
	if w.signer, err = f_note.NewSignerForCosignatureV1(skey); err != nil {
		t.Fatal(err)
	}
	if w.cosigKey, err = f_note.VKeyToCosignatureV1(vkey); err != nil {
		t.Fatal(err)
	}
	w.Start(t)
	return w
}

// Start serves the witness, with the state it has, on a new port.
func (w *Witness) Start(t testing.TB) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- omniwitness.Main(ctx, omniwitness.OperatorConfig{WitnessKeys: []note.Signer{w.signer},
			WitnessVerifier: w.signer.Verifier(), Logs: w.logs}, w.logs, lis, http.DefaultClient)
	}()
	w.Stop = sync.OnceFunc(func() { cancel(); <-done })
	t.Cleanup(w.Stop)
	url := "http://" + lis.Addr().String() + "/"
	if w.Witness, err = cosign.NewWitness(w.cosigKey, url, nil); err != nil {
		t.Fatal(err)
	}
	w.Spec = w.cosigKey + " " + url
}

// Know configures the witness with a log's verifier key, whose name is the log's origin, as its
// operator does when a city adds a unit's log.
func (w *Witness) Know(t testing.TB, vkey string) {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.logs.AddLogs(context.Background(), []config.Log{{VKey: vkey, Verifier: v, Origin: v.Name()}}); err != nil {
		t.Fatal(err)
	}
}

// Cosigned reports whether the note carries a valid cosignature of the witness.
func (w *Witness) Cosigned(msg string) bool {
	v, err := f_note.NewVerifierForCosignatureV1(w.VerifierKey)
	if err != nil {
		return false
	}
	_, err = note.Open([]byte(msg), note.VerifierList(v))
	return err == nil
}
