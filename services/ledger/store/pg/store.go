package pg

import (
	"context"
	"embed"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/pgdb"
)

// Schema is the PostgreSQL schema the ledger owns.
const Schema = "ledger"

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the ledger's goose SQL migrations, at the root of the FS, for pgdb.Migrate.
var Migrations fs.FS = pgdb.Sub(migrations, "migrations")

// Sealer protects the logs' note signer keys at rest (envelope encryption with the
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

// WithOriginHost sets the host that starts the origin line of every new log, which is also its
// key's name (DefaultOriginHost when empty): "{host}/tenants/{t}/units/{u}". A log keeps the
// origin it was made with.
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

	// ready are the logs' batches waiting for a combined transaction, at most
	// WithCommitters in flight (combine.go).
	ready drain[*readyBatch]

	mu   sync.Mutex
	logs map[Log]*sequencer
	keys map[Log]*logKey

	// beforeCommit, when set (tests), runs after a batch's writes and before its COMMIT.
	beforeCommit func(ctx context.Context, tx pgx.Tx, appended int) error

	// appends counts committed entries (pipa.ledger.appends); batches their group commits'
	// sizes (pipa.ledger.batch_size).
	appends metric.Int64Counter
	batches metric.Int64Histogram
	// combined records how many logs each one-round-trip transaction carried
	// (pipa.ledger.logs_per_commit).
	combined metric.Int64Histogram
}

// New returns a Store on pool, whose database has been migrated with Migrations. sealer protects
// the logs' signing keys (ledger.log_keys).
func New(pool *pgxpool.Pool, sealer Sealer, opts ...Option) *Store {
	s := &Store{pool: pool, sealer: sealer, host: DefaultOriginHost, maxBatch: 512,
		logs: map[Log]*sequencer{}, keys: map[Log]*logKey{}}
	s.ready.limit = defaultCommitters
	for _, o := range opts {
		o(s)
	}
	m := otel.Meter("github.com/pipa-kr/pipa/services/ledger")
	s.appends, _ = m.Int64Counter("pipa.ledger.appends", metric.WithDescription("entries committed to the units' ledgers (replays not counted)"))
	s.batches, _ = m.Int64Histogram("pipa.ledger.batch_size", metric.WithDescription("entries committed together in one transaction (group commit)"),
		metric.WithExplicitBucketBoundaries(1, 2, 4, 8, 16, 32, 64, 128, 256, 512))
	s.combined, _ = m.Int64Histogram("pipa.ledger.logs_per_commit", metric.WithDescription("logs whose batches one transaction committed together (cross-log group commit)"),
		metric.WithExplicitBucketBoundaries(1, 2, 4, 8, 16, 32, 64, 128, 256))
	return s
}

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

// batchTimeout bounds one group-commit transaction; it runs on behalf of many callers, so it does
// not use any one caller's context.
const batchTimeout = 30 * time.Second
