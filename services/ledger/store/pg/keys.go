package pg

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	logfmt "github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/names"
)

// logKey is the key that signs a log's checkpoints, opened once per process. Its verifier key is
// derived from the signer itself: what the database says the verifier key is, is only compared
// with it.
type logKey struct {
	// seq is the key's row in ledger.log_keys, or -1 for the tenant's key (ledger.keys) that
	// signs a log made before logs had keys of their own, until its handover.
	seq      int
	signer   note.Signer
	verifier note.Verifier
	vkey     string
	origin   string // the log's origin line
}

// Log names a unit's log.
type Log struct{ Tenant, Unit string }

func (l Log) String() string { return names.Unit(l.Tenant, l.Unit) }

// logKeyAD binds a sealed log key to its log and position, so that a key row copied to another log
// or another seq does not open.
func logKeyAD(tenant, unit string, seq int) []byte {
	return []byte("pipa/ledger/log-key/v1:" + tenant + "/" + unit + "/" + strconv.Itoa(seq))
}

// keyAD binds a tenant's sealed key (ledger.keys) to its tenant.
func keyAD(tenant string) []byte { return []byte("pipa/ledger/signer-key/v1:" + tenant) }

// verifierKeyOf derives the note verifier key of an Ed25519 note signer key,
// "PRIVATE+KEY+{name}+{hash}+{base64(0x01 || seed)}".
func verifierKeyOf(skey string) (string, error) {
	rest, ok := strings.CutPrefix(skey, "PRIVATE+KEY+")
	parts := strings.SplitN(rest, "+", 3)
	if !ok || len(parts) != 3 {
		return "", errors.New("not a note signer key")
	}
	key, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(key) != 1+ed25519.SeedSize || key[0] != 1 {
		return "", errors.New("not an Ed25519 note signer key")
	}
	return note.NewEd25519VerifierKey(parts[0], ed25519.NewKeyFromSeed(key[1:]).Public().(ed25519.PublicKey))
}

// tampered is the error for stored key material or checkpoints that disagree with each other:
// only a change made to the database outside pipa does that.
func tampered(l Log, format string, args ...any) error {
	msg := l.String() + ": " + fmt.Sprintf(format, args...)
	slog.Error("ledger: stored keys or checkpoints disagree: the database was changed outside pipa", "log", l.String(), "problem", msg)
	return apierr.DataLoss("LEDGER_TAMPERED", msg)
}

// openKey opens a sealed signer key and checks it against the stored verifier key.
func (s *Store) openKey(l Log, sealed, ad []byte, storedVkey string, seq int) (*logKey, error) {
	skey, err := s.sealer.Open(sealed, ad)
	if err != nil {
		return nil, tampered(l, "its signing key (seq %d) does not open with the data key: it was not sealed for this log", seq)
	}
	vkey, err := verifierKeyOf(string(skey))
	if err != nil {
		return nil, tampered(l, "its signing key (seq %d): %v", seq, err)
	}
	if vkey != storedVkey {
		return nil, tampered(l, "the stored verifier key %q is not the signing key's (%q)", storedVkey, vkey)
	}
	signer, err := note.NewSigner(string(skey))
	if err != nil {
		return nil, tampered(l, "its signing key (seq %d): %v", seq, err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	return &logKey{seq: seq, signer: signer, verifier: verifier, vkey: vkey, origin: signer.Name()}, nil
}

// errNoKey: the log has no key yet (it does not exist).
var errNoKey = errors.New("ledger store: the log has no key")

// loadKey reads the log's current key from the database: its latest own key, or its tenant's key
// if it has none yet (errNoKey if neither exists).
func (s *Store) loadKey(ctx context.Context, l Log) (*logKey, error) {
	var seq int
	var sealed []byte
	var vkey string
	err := s.pool.QueryRow(ctx, `SELECT seq, signer_skey, verifier_key FROM ledger.log_keys
		WHERE tenant_id = $1 AND unit_id = $2 ORDER BY seq DESC LIMIT 1`, l.Tenant, l.Unit).Scan(&seq, &sealed, &vkey)
	if err == nil {
		return s.openKey(l, sealed, logKeyAD(l.Tenant, l.Unit, seq), vkey, seq)
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("ledger store: read the key of %s: %w", l, err)
	}
	return s.tenantKey(ctx, l)
}

// tenantKey opens the tenant's key as the key of l, whose origin is the key's name plus the unit.
func (s *Store) tenantKey(ctx context.Context, l Log) (*logKey, error) {
	var sealed []byte
	var vkey, prefix string
	err := s.pool.QueryRow(ctx, `SELECT signer_skey, verifier_key, origin FROM ledger.keys WHERE tenant_id = $1`,
		l.Tenant).Scan(&sealed, &vkey, &prefix)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNoKey
	}
	if err != nil {
		return nil, fmt.Errorf("ledger store: read the key of tenant %s: %w", l.Tenant, err)
	}
	k, err := s.openKey(l, sealed, keyAD(l.Tenant), vkey, -1)
	if err != nil {
		return nil, err
	}
	k.origin = prefix + "/units/" + l.Unit
	return k, nil
}

// key returns the log's current key, from the process's cache.
func (s *Store) key(ctx context.Context, l Log) (*logKey, error) {
	s.mu.Lock()
	k := s.keys[l]
	s.mu.Unlock()
	if k != nil {
		return k, nil
	}
	return s.reloadKey(ctx, l)
}

// reloadKey reads the log's current key again (another replica may have rotated it).
func (s *Store) reloadKey(ctx context.Context, l Log) (*logKey, error) {
	k, err := s.loadKey(ctx, l)
	if err != nil {
		return nil, err
	}
	s.setKey(l, k)
	return k, nil
}

func (s *Store) setKey(l Log, k *logKey) {
	s.mu.Lock()
	s.keys[l] = k
	s.mu.Unlock()
}

// currentKey returns the log's key that signed checkpoint vkey: the cached key, or the key read
// again when another replica rotated it. A stored verifier key that is not the signer's is
// tampering.
func (s *Store) currentKey(ctx context.Context, l Log, vkey string) (*logKey, error) {
	k, err := s.key(ctx, l)
	if err != nil || k.vkey == vkey {
		return k, err
	}
	if k, err = s.reloadKey(ctx, l); err != nil || k.vkey == vkey {
		return k, err
	}
	return nil, tampered(l, "its head names the verifier key %q, but its signing key is %q", vkey, k.vkey)
}

// signCheckpoint returns the C2SP tlog-checkpoint signed note for a tree: origin, decimal size and
// base64 root, one a line, signed by each signer.
func signCheckpoint(origin string, size int64, root tlog.Hash, signers ...note.Signer) (string, error) {
	text := string(logfmt.Checkpoint{Origin: origin, Size: uint64(size), Hash: root[:]}.Marshal())
	msg, err := note.Sign(&note.Note{Text: text}, signers...)
	if err != nil {
		return "", fmt.Errorf("ledger store: sign checkpoint: %w", err)
	}
	return string(msg), nil
}

// openCheckpoint checks that checkpoint is a note of the log signed by k, and returns its tree.
func (k *logKey) openCheckpoint(l Log, checkpoint string) (size int64, root tlog.Hash, err error) {
	cp, _, _, err := logfmt.ParseCheckpoint([]byte(checkpoint), k.origin, k.verifier)
	if err != nil {
		return 0, root, tampered(l, "its checkpoint does not verify with its key %s: %v", k.vkey, err)
	}
	if cp.Size > 1<<62 || len(cp.Hash) != tlog.HashSize {
		return 0, root, tampered(l, "its checkpoint's tree is malformed")
	}
	copy(root[:], cp.Hash)
	return int64(cp.Size), root, nil
}

// checkHead checks the log's stored head: its checkpoint signed by k, for the stored size and root.
func (k *logKey) checkHead(l Log, size int64, root []byte, checkpoint string) error {
	n, r, err := k.openCheckpoint(l, checkpoint)
	if err != nil {
		return err
	}
	if n != size || string(r[:]) != string(root) {
		return tampered(l, "its head says size %d, but its signed checkpoint is of size %d with another root", size, n)
	}
	return nil
}

// NewKey is a log's next signing key, made by Store.NewKey for a rotation (AppendRequest.NewKey).
type NewKey struct {
	// VerifierKey is the key's note verifier key, for the LEDGER_KEY entry's leaf.
	VerifierKey string
	skey        string
	signer      note.Signer
}

// NewKey makes a new signing key for the unit's log, named by the log's origin.
func (s *Store) NewKey(ctx context.Context, tenant, unit string) (*NewKey, error) {
	if err := checkIDs(tenant, unit); err != nil {
		return nil, err
	}
	l := Log{tenant, unit}
	if _, err := s.ensureLog(ctx, l); err != nil {
		return nil, err
	}
	k, err := s.key(ctx, l)
	if err != nil {
		return nil, err
	}
	return newKey(k.origin)
}

func newKey(origin string) (*NewKey, error) {
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return nil, fmt.Errorf("ledger store: generate a key for %s: %w", origin, err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, err
	}
	return &NewKey{VerifierKey: vkey, skey: skey, signer: signer}, nil
}

// ensureLog creates the log, with a key of its own and an empty tree's signed checkpoint, unless
// it exists, and returns its key when this call made it (nil when the log was there). Replicas
// racing to create it all end up with the one that committed first. A log this process knows to
// have its own key (CheckKeys, or an earlier call) is not looked for again; otherwise the key is
// made before anything is read, and the log and key are written in one round trip that does
// nothing if the log exists: a first append costs one commit for its log, not a lookup, a
// transaction and a read of the key back.
func (s *Store) ensureLog(ctx context.Context, l Log) (*logKey, error) {
	s.mu.Lock()
	known := s.keys[l] != nil && s.keys[l].seq >= 0 // a log's own key is written with its head
	s.mu.Unlock()
	if known {
		return nil, nil
	}
	k, err := newKey(s.host + "/" + l.String())
	if err != nil {
		return nil, err
	}
	sealed, err := s.sealer.Seal([]byte(k.skey), logKeyAD(l.Tenant, l.Unit, 0))
	if err != nil {
		return nil, fmt.Errorf("ledger store: seal the key of %s: %w", l, err)
	}
	cp, err := signCheckpoint(k.signer.Name(), 0, emptyRoot, k.signer)
	if err != nil {
		return nil, err
	}
	var keyMade, logMade bool
	err = s.send(ctx, []stmt{{
		// Not for a log that exists, e.g. one still signed by its tenant's key.
		sql: `INSERT INTO ledger.log_keys (tenant_id, unit_id, seq, signer_skey, verifier_key)
			SELECT $1, $2, 0, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM ledger.logs WHERE tenant_id = $1 AND unit_id = $2)
			ON CONFLICT DO NOTHING RETURNING true`,
		args: []any{l.Tenant, l.Unit, sealed, k.VerifierKey},
		row:  func(*pgtype.Map, []pgconn.FieldDescription, [][]byte) error { keyMade = true; return nil },
	}, {
		sql: `INSERT INTO ledger.logs (tenant_id, unit_id, size, root, checkpoint, verifier_key)
			VALUES ($1, $2, 0, $3, $4, $5) ON CONFLICT (tenant_id, unit_id) DO NOTHING RETURNING true`,
		args: []any{l.Tenant, l.Unit, emptyRoot[:], cp, k.VerifierKey},
		row:  func(*pgtype.Map, []pgconn.FieldDescription, [][]byte) error { logMade = true; return nil },
	}}, nil)
	if err != nil {
		return nil, fmt.Errorf("ledger store: create log %s: %w", l, err)
	}
	if !keyMade || !logMade {
		return nil, nil
	}
	v, err := note.NewVerifier(k.VerifierKey)
	if err != nil {
		return nil, err
	}
	made := &logKey{seq: 0, signer: k.signer, verifier: v, vkey: k.VerifierKey, origin: k.signer.Name()}
	s.setKey(l, made)
	return made, nil
}

// KeyInfo is what a verifier needs to trust a log's checkpoints.
type KeyInfo struct {
	// VerifierKey is the current key's, derived from the signer; Origin the log's origin line.
	VerifierKey, Origin string
	// Handovers are the log's earlier keys and how each handed over, oldest first.
	Handovers []Handover
}

// Handover is a rotation: the LEDGER_KEY entry at Index names VerifierKey, and Checkpoint, of
// size Index+1, is signed by PreviousKey and VerifierKey.
type Handover struct {
	PreviousKey, VerifierKey string
	Index                    int64
	Checkpoint               string
}

// VerifierKey returns the key that signs the unit's checkpoints (derived from the signer), the
// log's origin line, and the handovers from its earlier keys. The log must exist.
func (s *Store) VerifierKey(ctx context.Context, tenant, unit string) (KeyInfo, error) {
	if err := checkIDs(tenant, unit); err != nil {
		return KeyInfo{}, err
	}
	l := Log{tenant, unit}
	ok, err := s.HasLog(ctx, tenant, unit)
	if err != nil {
		return KeyInfo{}, err
	}
	if !ok {
		return KeyInfo{}, apierr.NotFound(names.Ledger(l.Tenant, l.Unit))
	}
	k, err := s.key(ctx, l)
	if err != nil {
		return KeyInfo{}, err
	}
	rows, err := s.pool.Query(ctx, `SELECT previous_key, verifier_key, handover_size, handover FROM ledger.log_keys
		WHERE tenant_id = $1 AND unit_id = $2 AND handover IS NOT NULL AND seq <= $3 ORDER BY seq`, tenant, unit, k.seq)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("ledger store: read the handovers of %s: %w", l, err)
	}
	hs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Handover, error) {
		var h Handover
		var size int64
		err := r.Scan(&h.PreviousKey, &h.VerifierKey, &size, &h.Checkpoint)
		h.Index = size - 1
		return h, err
	})
	if err != nil {
		return KeyInfo{}, fmt.Errorf("ledger store: read the handovers of %s: %w", l, err)
	}
	return KeyInfo{VerifierKey: k.vkey, Origin: k.origin, Handovers: hs}, nil
}

// CheckKeys checks, for every log, everything stored about its keys against the keys
// themselves: each sealed signer opens for its log, each stored verifier key is its signer's,
// each handover checkpoint is signed by the two keys it hands over between, the head's verifier
// key is the current signer's and the head's checkpoint is signed by it for the stored size and
// root. The first disagreement (in log order) is returned (DataLoss, naming the log and what
// disagrees): the service must not start on such a database. It returns the logs still signed by
// their tenant's key, which need their handover to a key of their own (see RotateKey).
//
// The heads and the keys are read in two queries whatever the number of logs, and the logs are
// checked on every CPU: the check is one Ed25519 key derivation and one signature verification
// a key, and at start-up with 10,000 logs a query a log would cost more than the checks.
func (s *Store) CheckKeys(ctx context.Context) (legacy []Log, err error) {
	rows, err := s.pool.Query(ctx, `SELECT tenant_id, unit_id, size, root, checkpoint, verifier_key
		FROM ledger.logs ORDER BY tenant_id, unit_id`)
	if err != nil {
		return nil, fmt.Errorf("ledger store: list logs: %w", err)
	}
	type head struct {
		l          Log
		size       int64
		root       []byte
		checkpoint string
		vkey       string
	}
	heads, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (head, error) {
		var h head
		err := r.Scan(&h.l.Tenant, &h.l.Unit, &h.size, &h.root, &h.checkpoint, &h.vkey)
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("ledger store: list logs: %w", err)
	}
	rows, err = s.pool.Query(ctx, `SELECT tenant_id, unit_id, seq, signer_skey, verifier_key, previous_key, handover_size, handover
		FROM ledger.log_keys ORDER BY tenant_id, unit_id, seq`)
	if err != nil {
		return nil, fmt.Errorf("ledger store: read the logs' keys: %w", err)
	}
	keys := map[Log][]keyRow{}
	var k keyRow
	var l Log
	if _, err := pgx.ForEachRow(rows, []any{&l.Tenant, &l.Unit, &k.seq, &k.sealed, &k.vkey, &k.previous, &k.handoverSize, &k.handoverNote}, func() error {
		keys[l] = append(keys[l], k)
		k.previous, k.handoverSize, k.handoverNote = nil, nil, nil // scanned into anew, not over this row's
		return nil
	}); err != nil {
		return nil, fmt.Errorf("ledger store: read the logs' keys: %w", err)
	}
	current := make([]*logKey, len(heads))
	errs := make([]error, len(heads))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, h := range heads {
		g.Go(func() error {
			k, err := s.checkChain(ctx, h.l, keys[h.l])
			switch {
			case errors.Is(err, errNoKey):
				err = tampered(h.l, "it has no signing key")
			case err != nil:
			case h.vkey != k.vkey:
				err = tampered(h.l, "its head names the verifier key %q, but its signing key is %q", h.vkey, k.vkey)
			default:
				err = k.checkHead(h.l, h.size, h.root, h.checkpoint)
			}
			current[i], errs[i] = k, err
			return nil
		})
	}
	_ = g.Wait()
	for i, h := range heads {
		if errs[i] != nil {
			return nil, errs[i]
		}
		s.setKey(h.l, current[i])
		if current[i].seq < 0 {
			legacy = append(legacy, h.l)
		}
	}
	return legacy, nil
}

// keyRow is a row of ledger.log_keys.
type keyRow struct {
	seq          int
	sealed       []byte
	vkey         string
	previous     *string
	handoverSize *int64
	handoverNote *string
}

// checkChain opens every key the log has had (keys, in seq order) and checks each handover; it
// returns the current key.
func (s *Store) checkChain(ctx context.Context, l Log, keys []keyRow) (*logKey, error) {
	if len(keys) == 0 {
		return s.tenantKey(ctx, l)
	}
	var prev *logKey
	for i, r := range keys {
		if r.seq != i {
			return nil, tampered(l, "its key %d is missing", i)
		}
		k, err := s.openKey(l, r.sealed, logKeyAD(l.Tenant, l.Unit, r.seq), r.vkey, r.seq)
		if err != nil {
			return nil, err
		}
		if r.previous == nil {
			if i > 0 {
				return nil, tampered(l, "its key %d has no handover from key %d", i, i-1)
			}
			prev = k
			continue
		}
		if prev == nil { // a log's first own key, handed over from its tenant's
			if prev, err = s.tenantKey(ctx, l); err != nil {
				if errors.Is(err, errNoKey) {
					return nil, tampered(l, "its first key was handed over from a tenant key that is gone")
				}
				return nil, err
			}
		}
		if *r.previous != prev.vkey {
			return nil, tampered(l, "key %d names %q as the key it took over from, but that key is %q", i, *r.previous, prev.vkey)
		}
		if k.origin != prev.origin {
			return nil, tampered(l, "key %d is named %q, not by the log's origin %q", i, k.origin, prev.origin)
		}
		for _, signer := range []*logKey{prev, k} {
			n, _, err := signer.openCheckpoint(l, *r.handoverNote)
			if err != nil {
				return nil, err
			}
			if n != *r.handoverSize {
				return nil, tampered(l, "the handover to key %d is of size %d, not %d", i, n, *r.handoverSize)
			}
		}
		prev = k
	}
	return prev, nil
}
