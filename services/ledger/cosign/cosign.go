// Package cosign asks witnesses to cosign the units' ledger checkpoints (C2SP tlog-witness), so
// that a log cannot show two histories to two readers, nor roll back to an older one, without a
// witness refusing: a witness cosigns a checkpoint only if its tree extends the last one it
// cosigned for that log (a consistency proof), and refuses a smaller tree or another tree of the
// same size.
//
// Cosigning runs after the checkpoint is signed, in a job (River, in the ledger's schema): an
// append never waits for a witness, and a witness that is down is retried (jobs.Backoff) and
// counted (pipa.ledger.witness.failures) until it answers. The witnesses' answers and the
// cosigned checkpoint are kept in the ledger's schema; pipa serves that checkpoint.
//
// The protocol client is transparency-dev/witness's (client/http): the same project's witness
// (cmd/omniwitness) is what a city runs, or another agency's speaking the same protocol.
package cosign

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	f_note "github.com/transparency-dev/formats/note"
	whttp "github.com/transparency-dev/witness/client/http"
	"github.com/transparency-dev/witness/witness"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"golang.org/x/mod/sumdb/note"

	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// Witness is a C2SP tlog-witness the ledger asks to cosign its checkpoints.
type Witness struct {
	// VerifierKey is the witness's cosignature (C2SP tlog-cosignature) verifier key.
	VerifierKey string
	// URL is where it answers add-checkpoint (URL + "add-checkpoint").
	URL      string
	verifier note.Verifier
	client   whttp.Witness
}

// Name is the witness's key name, which names its cosignatures.
func (w *Witness) Name() string { return w.verifier.Name() }

// Verifier checks the witness's cosignatures (C2SP tlog-cosignature).
func (w *Witness) Verifier() note.Verifier { return w.verifier }

// ParseWitnesses reads PIPA_LEDGER_WITNESSES: witnesses separated by commas or newlines, each its
// cosignature verifier key and its URL separated by spaces, e.g.
// "witness.iksan.go.kr+1a2b3c4d+BH… https://witness.iksan.go.kr/". hc makes their requests.
func ParseWitnesses(spec string, hc *http.Client) ([]*Witness, error) {
	var out []*Witness
	for _, item := range strings.FieldsFunc(spec, func(r rune) bool { return r == ',' || r == '\n' }) {
		f := strings.Fields(item)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("witness %q: want its verifier key and its URL, separated by a space", strings.TrimSpace(item))
		}
		w, err := NewWitness(f[0], f[1], hc)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(out, func(o *Witness) bool { return o.Name() == w.Name() }) {
			return nil, fmt.Errorf("witness %s is listed twice", w.Name())
		}
		out = append(out, w)
	}
	return out, nil
}

// NewWitness is the witness with cosignature verifier key vkey answering at rawURL.
func NewWitness(vkey, rawURL string, hc *http.Client) (*Witness, error) {
	v, err := f_note.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		return nil, fmt.Errorf("witness key %q: %w", vkey, err)
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("witness %s: URL %q: want http(s)://host/…", v.Name(), rawURL)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Witness{VerifierKey: vkey, URL: u.String(), verifier: v, client: whttp.NewWitness(u, hc)}, nil
}

// Cosigner asks the witnesses to cosign the logs' checkpoints and keeps what they cosigned.
type Cosigner struct {
	store     *pg.Store
	witnesses []*Witness
	now       func() time.Time
	failures  metric.Int64Counter
}

// New returns a Cosigner of store's logs by witnesses.
func New(store *pg.Store, witnesses []*Witness) *Cosigner {
	c := &Cosigner{store: store, witnesses: witnesses, now: time.Now}
	m := otel.Meter("github.com/pipa-kr/pipa/services/ledger")
	c.failures, _ = m.Int64Counter("pipa.ledger.witness.failures",
		metric.WithDescription("witness requests that did not end in a cosignature, by witness and reason (refused, unreachable)"))
	names := make([]string, len(witnesses))
	for i, w := range witnesses {
		names[i] = w.Name()
		// At 0 from the start, so that an alert on their increase sees the series before the first failure.
		for _, reason := range []string{"refused", "unreachable"} {
			c.failures.Add(context.Background(), 0, metric.WithAttributes(attribute.String("witness", w.Name()), attribute.String("reason", reason)))
		}
	}
	_, _ = m.Int64ObservableGauge("pipa.ledger.witness.behind",
		metric.WithDescription("logs whose latest checkpoint a witness has not cosigned"),
		metric.WithInt64Callback(func(ctx context.Context, o metric.Int64Observer) error {
			if len(names) == 0 {
				return nil
			}
			n, err := store.WitnessBacklog(ctx, names)
			for w, v := range n {
				o.Observe(v, metric.WithAttributes(attribute.String("witness", w)))
			}
			return err
		}))
	return c
}

// Witnesses are the witnesses asked.
func (c *Cosigner) Witnesses() []*Witness { return c.witnesses }

// All asks for every log whose latest checkpoint is not yet cosigned (see Log) and returns what
// failed.
func (c *Cosigner) All(ctx context.Context) error {
	logs, err := c.store.Unwitnessed(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, l := range logs {
		errs = append(errs, c.Log(ctx, l))
	}
	return errors.Join(errs...)
}

// Log asks every witness to cosign the log's latest checkpoint, keeps the checkpoint with the
// cosignatures obtained as the log's cosigned checkpoint, and returns an error naming each
// witness that did not cosign and why.
func (c *Cosigner) Log(ctx context.Context, l pg.Log) error {
	if len(c.witnesses) == 0 {
		return nil
	}
	head, err := c.store.Checkpoint(ctx, l.Tenant, l.Unit, true)
	if err != nil {
		return err
	}
	var sigs, names []string
	var errs []error
	for _, w := range c.witnesses {
		line, err := c.ask(ctx, l, w, head)
		if err != nil {
			reason := "unreachable"
			if errors.As(err, new(*RefusedError)) {
				reason = "refused"
			}
			c.failures.Add(ctx, 1, metric.WithAttributes(attribute.String("witness", w.Name()), attribute.String("reason", reason)))
			slog.WarnContext(ctx, "ledger: a witness did not cosign", "log", l.String(), "size", head.Size, "witness", w.Name(), "err", err)
			errs = append(errs, err)
			continue
		}
		sigs, names = append(sigs, line), append(names, w.Name())
	}
	if len(sigs) > 0 {
		cosigned := head.Checkpoint + strings.Join(sigs, "")
		if err := c.store.SetCosigned(ctx, l.Tenant, l.Unit, pg.Cosigned{Size: head.Size, Note: cosigned, Witnesses: names}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RefusedError is a witness's refusal to cosign, with the reason it gave.
type RefusedError struct {
	Witness, Why string
	Err          error
}

func (e *RefusedError) Error() string { return "witness " + e.Witness + " refused: " + e.Why }
func (e *RefusedError) Unwrap() error { return e.Err }

// ask returns w's cosignature line of head, from what it cosigned before or by asking it with a
// consistency proof from the tree it last cosigned.
func (c *Cosigner) ask(ctx context.Context, l pg.Log, w *Witness, head pg.Head) (string, error) {
	st, err := c.store.WitnessState(ctx, l.Tenant, l.Unit, w.Name())
	if err != nil {
		return "", err
	}
	if st.Size == head.Size && st.Cosignature != "" {
		if line, ok := w.cosignature(head.Checkpoint, []byte(st.Cosignature)); ok {
			return line, nil
		}
	}
	old := st.Size
	record := func(s pg.WitnessState) error {
		return c.store.SetWitnessState(ctx, l.Tenant, l.Unit, w.Name(), s, c.now())
	}
	for attempt := 0; ; attempt++ {
		var proof [][]byte
		if old > 0 && old < head.Size {
			if proof, err = c.store.ConsistencyProof(ctx, l.Tenant, l.Unit, old, head.Size); err != nil {
				return "", err
			}
		}
		sigs, trusted, err := w.client.Update(ctx, uint64(old), []byte(head.Checkpoint), proof)
		if errors.Is(err, witness.ErrCheckpointStale) && attempt == 0 {
			old = int64(min(trusted, pg.MaxTreeSize)) // the witness holds another size than recorded: ask from it
			continue
		}
		if err != nil {
			err = w.explain(err, old, head.Size)
			_ = record(pg.WitnessState{Size: old, LastError: err.Error()})
			return "", err
		}
		line, ok := w.cosignature(head.Checkpoint, sigs)
		if !ok {
			err := fmt.Errorf("witness %s answered no valid cosignature of the checkpoint of size %d", w.Name(), head.Size)
			_ = record(pg.WitnessState{Size: old, LastError: err.Error()})
			return "", err
		}
		return line, record(pg.WitnessState{Size: head.Size, Cosignature: line})
	}
}

// cosignature returns the signature line of w among sigs that verifies over checkpoint.
func (w *Witness) cosignature(checkpoint string, sigs []byte) (string, bool) {
	n, err := note.Open([]byte(checkpoint+string(sigs)), note.VerifierList(w.verifier))
	if err != nil || len(n.Sigs) == 0 {
		return "", false
	}
	s := n.Sigs[0]
	return "— " + s.Name + " " + s.Base64 + "\n", true
}

// explain turns the protocol client's errors into what they mean for the log.
func (w *Witness) explain(err error, old, size int64) error {
	refused := func(why string) error { return &RefusedError{Witness: w.Name(), Why: why, Err: err} }
	switch {
	case errors.Is(err, witness.ErrOldSizeInvalid):
		return refused(fmt.Sprintf("it cosigned a tree of size %d and the log now shows one of size %d: the log was rolled back", old, size))
	case errors.Is(err, witness.ErrRootMismatch), errors.Is(err, witness.ErrInvalidProof):
		return refused(fmt.Sprintf("the tree of size %d is not an extension of the tree of size %d it cosigned: two histories of one log (a split view or a rewrite)", size, old))
	case errors.Is(err, witness.ErrNoValidSignature):
		return refused("the checkpoint is not signed by the key it knows for this log (after a rotation, give it the new key)")
	case errors.Is(err, witness.ErrUnknownLog):
		return refused("it does not know this log: add its origin and verifier key to the witness's configuration")
	case errors.Is(err, witness.ErrPushback):
		return fmt.Errorf("witness %s asks to slow down: %w", w.Name(), err)
	}
	return fmt.Errorf("witness %s unreachable: %w", w.Name(), err)
}

// Update submits a checkpoint to the witness (C2SP tlog-witness add-checkpoint) with a
// consistency proof from old, the size it last cosigned, and returns its cosignature lines; or
// the size it holds with witness.ErrCheckpointStale.
func (w *Witness) Update(ctx context.Context, old uint64, checkpoint []byte, proof [][]byte) ([]byte, uint64, error) {
	return w.client.Update(ctx, old, checkpoint, proof)
}
