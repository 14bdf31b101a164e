package pg

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/pgdb"
)

// Schema is the PostgreSQL schema the ledger owns.
const Schema = "ledger"

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the ledger's goose SQL migrations, at the root of the FS, for pgdb.Migrate.
var Migrations fs.FS = pgdb.Sub(migrations, "migrations")

// Sealer protects the tenants' note signer keys at rest (envelope encryption with the
// application's data key, ARCHITECTURE.md "Identity and tenancy"). Open must reject a sealed
// value whose ad differs from the one it was sealed with.
type Sealer interface {
	Seal(plaintext, ad []byte) ([]byte, error)
	Open(sealed, ad []byte) ([]byte, error)
}

// Option configures a Store.
type Option func(*Store)

// DefaultOriginHost is the origin host of a Store without WithOriginHost.
const DefaultOriginHost = "pipa.kr"

// WithOriginHost sets the host that starts every origin line and key name (DefaultOriginHost when
// empty): a tenant's key is named "{host}/tenants/{t}" and a unit's log has the origin
// "{host}/tenants/{t}/units/{u}". Changing it for an existing database makes the stored keys'
// names disagree with new origins; set it once.
func WithOriginHost(host string) Option {
	return func(s *Store) {
		if host != "" {
			s.host = host
		}
	}
}

// WithMaxBatch bounds how many appends one transaction commits (default 512).
func WithMaxBatch(n int) Option {
	return func(s *Store) {
		if n > 0 {
			s.maxBatch = n
		}
	}
}

// Store is the ledger's PostgreSQL store. It is safe for concurrent use; several Stores (replicas)
// may share one database.
type Store struct {
	pool     *pgxpool.Pool
	sealer   Sealer
	host     string
	maxBatch int

	mu   sync.Mutex
	logs map[logID]*sequencer
	keys map[string]*tenantKey

	// beforeCommit, when set (tests), runs after a batch's writes and before its COMMIT.
	beforeCommit func(ctx context.Context, tx pgx.Tx, appended int) error

	// appends counts committed entries (pipa.ledger.appends); batches their group commits'
	// sizes (pipa.ledger.batch_size).
	appends metric.Int64Counter
	batches metric.Int64Histogram
}

// New returns a Store on pool, whose database has been migrated with Migrations. sealer protects
// the tenants' signing keys in the keys table.
func New(pool *pgxpool.Pool, sealer Sealer, opts ...Option) *Store {
	s := &Store{pool: pool, sealer: sealer, host: DefaultOriginHost, maxBatch: 512,
		logs: map[logID]*sequencer{}, keys: map[string]*tenantKey{}}
	for _, o := range opts {
		o(s)
	}
	m := otel.Meter("github.com/pipa-kr/pipa/services/ledger")
	s.appends, _ = m.Int64Counter("pipa.ledger.appends", metric.WithDescription("entries committed to the units' ledgers (replays not counted)"))
	s.batches, _ = m.Int64Histogram("pipa.ledger.batch_size", metric.WithDescription("entries committed together in one transaction (group commit)"),
		metric.WithExplicitBucketBoundaries(1, 2, 4, 8, 16, 32, 64, 128, 256, 512))
	return s
}

type logID struct{ tenant, unit string }

// checkIDs refuses ids that cannot appear in a resource name, an origin line or a note key name
// (which forbids spaces and '+').
func checkIDs(tenant, unit string) error {
	bad := func(id string) bool {
		return id == "" || strings.ContainsAny(id, "/+ \t\r\n") || !validUTF8Printable(id)
	}
	if bad(tenant) || bad(unit) {
		return apierr.Invalid(apierr.Violation{Field: "parent", Rule: "format",
			Description: "tenant and unit ids must be non-empty and contain no '/', '+' or spaces"})
	}
	return nil
}

func validUTF8Printable(s string) bool {
	for _, r := range s {
		if r < 0x21 || r == 0x7f || r == '\uFFFD' {
			return false
		}
	}
	return true
}

// tenantKey is a tenant's note signer, opened once per process.
type tenantKey struct {
	signer note.Signer
	vkey   string
	origin string // "{host}/tenants/{t}", also the key name
}

// keyAD binds a sealed signer key to its tenant, so that a key row copied to another tenant does
// not open.
func keyAD(tenant string) []byte { return []byte("pipa/ledger/signer-key/v1:" + tenant) }

// key returns tenant's signing key, generating and storing it on first use. Two replicas racing
// to create it both end up with the one that was inserted first.
func (s *Store) key(ctx context.Context, tenant string) (*tenantKey, error) {
	s.mu.Lock()
	k := s.keys[tenant]
	s.mu.Unlock()
	if k != nil {
		return k, nil
	}
	const sel = `SELECT signer_skey, verifier_key, origin FROM ledger.keys WHERE tenant_id = $1`
	var sealed []byte
	var vkey, origin string
	err := s.pool.QueryRow(ctx, sel, tenant).Scan(&sealed, &vkey, &origin)
	if errors.Is(err, pgx.ErrNoRows) {
		origin = s.host + "/tenants/" + tenant
		skey, newVkey, err := note.GenerateKey(rand.Reader, origin)
		if err != nil {
			return nil, fmt.Errorf("ledger store: generate key for tenant %s: %w", tenant, err)
		}
		sealedKey, err := s.sealer.Seal([]byte(skey), keyAD(tenant))
		if err != nil {
			return nil, fmt.Errorf("ledger store: seal key for tenant %s: %w", tenant, err)
		}
		if _, err := s.pool.Exec(ctx, `INSERT INTO ledger.keys (tenant_id, signer_skey, verifier_key, origin)
			VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id) DO NOTHING`, tenant, sealedKey, newVkey, origin); err != nil {
			return nil, fmt.Errorf("ledger store: store key for tenant %s: %w", tenant, err)
		}
		if err := s.pool.QueryRow(ctx, sel, tenant).Scan(&sealed, &vkey, &origin); err != nil {
			return nil, fmt.Errorf("ledger store: read key for tenant %s: %w", tenant, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("ledger store: read key for tenant %s: %w", tenant, err)
	}
	skey, err := s.sealer.Open(sealed, keyAD(tenant))
	if err != nil {
		return nil, fmt.Errorf("ledger store: open key for tenant %s: %w", tenant, err)
	}
	signer, err := note.NewSigner(string(skey))
	if err != nil {
		return nil, fmt.Errorf("ledger store: key for tenant %s: %w", tenant, err)
	}
	k = &tenantKey{signer: signer, vkey: vkey, origin: origin}
	s.mu.Lock()
	s.keys[tenant] = k
	s.mu.Unlock()
	return k, nil
}

// origin is the C2SP checkpoint origin line of a unit's log.
func (k *tenantKey) logOrigin(unit string) string { return k.origin + "/units/" + unit }

// signCheckpoint returns the C2SP tlog-checkpoint signed note for a tree: origin, decimal size
// and base64 root, one a line. (tlog.FormatTree writes the go.sum database's first line instead of
// an origin, so it is not used.)
func (k *tenantKey) signCheckpoint(unit string, size int64, root tlog.Hash) (string, error) {
	text := k.logOrigin(unit) + "\n" + strconv.FormatInt(size, 10) + "\n" +
		base64.StdEncoding.EncodeToString(root[:]) + "\n"
	msg, err := note.Sign(&note.Note{Text: text}, k.signer)
	if err != nil {
		return "", fmt.Errorf("ledger store: sign checkpoint: %w", err)
	}
	return string(msg), nil
}

// ensureLog creates the log's head row, an empty tree with a signed checkpoint of size 0, unless
// it exists.
func (s *Store) ensureLog(ctx context.Context, tenant, unit string) error {
	k, err := s.key(ctx, tenant)
	if err != nil {
		return err
	}
	empty, _ := tlog.TreeHash(0, nil)
	cp, err := k.signCheckpoint(unit, 0, empty)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO ledger.logs (tenant_id, unit_id, size, root, checkpoint, verifier_key)
		VALUES ($1, $2, 0, $3, $4, $5) ON CONFLICT (tenant_id, unit_id) DO NOTHING`,
		tenant, unit, empty[:], cp, k.vkey)
	if err != nil {
		return fmt.Errorf("ledger store: create log tenants/%s/units/%s: %w", tenant, unit, err)
	}
	return nil
}

// VerifierKey returns the note verifier key that signs the unit's checkpoints (the tenant's) and
// the log's origin line.
func (s *Store) VerifierKey(ctx context.Context, tenant, unit string) (vkey, origin string, err error) {
	if err := checkIDs(tenant, unit); err != nil {
		return "", "", err
	}
	k, err := s.key(ctx, tenant)
	if err != nil {
		return "", "", err
	}
	return k.vkey, k.logOrigin(unit), nil
}

// batchTimeout bounds one group-commit transaction; it runs on behalf of many callers, so it does
// not use any one caller's context.
const batchTimeout = 30 * time.Second
