// Package pg is the registry's PostgreSQL store: tenants, their unit tree, the unit's officers,
// CCTV sites, personal-information files and processors, and the numbered versions of each unit's
// policies. See README.md for the table layout.
//
// Everything below the platform level goes through a TenantStore, which is bound to one tenant
// (Store.Tenant) so that no query can forget the tenant_id. Errors are apierr values (NotFound,
// AlreadyExists, EtagMismatch, Invalid, Precondition) or plain errors, which the server's one
// translation point (apierr.ToStatus) turns into a generic Internal.
package pg

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/idempotency"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/pkg/pgdb"
)

// Schema is the PostgreSQL schema the registry owns.
const Schema = "registry"

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the registry's goose SQL migrations, at the root of the FS, for pgdb.Migrate.
var Migrations fs.FS = pgdb.Sub(migrations, "migrations")

const (
	defaultPageSize = 50
	maxPageSize     = 500
)

// Idem identifies a create request for idempotent replay (AIP-155). An empty RequestID makes the
// create not idempotent. Hash fingerprints the request (idempotency.RequestHash); the store only
// compares it, so a request_id reused with another request fails with InvalidArgument.
type Idem struct {
	RequestID string
	Method    string
	Hash      []byte
}

// Store is the registry's PostgreSQL store.
type Store struct {
	pool    *pgxpool.Pool
	jobs    *river.Client[pgx.Tx]
	outbox  *ledgerout.Outbox
	changes map[Kind]*Changes
	out     *outbound.Outbound
	now     func() time.Time
}

// Option configures a Store.
type Option func(*Store)

// WithJobs gives the store the job queue (pkg/jobs, in the registry schema) that its publications'
// ledger records are queued on.
func WithJobs(c *river.Client[pgx.Tx]) Option { return func(s *Store) { s.jobs = c } }

// WithOutbox gives the store the ledger outbox (pkg/ledgerout, in the registry schema) that the
// registers' changes are recorded through.
func WithOutbox(o *ledgerout.Outbox) Option { return func(s *Store) { s.outbox = o } }

// InTx runs fn in a transaction of the registry's database (an alert's once-key and its mails).
func (s *Store) InTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgdb.InTx(ctx, s.pool, fn)
}

// New returns a Store on pool, whose database has been migrated with Migrations.
func New(pool *pgxpool.Pool, opts ...Option) *Store {
	s := &Store{pool: pool, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Tenant returns the store bound to tenant id. It does not check that the tenant exists: reads
// of a missing tenant find nothing and creates fail with NotFound.
func (s *Store) Tenant(id string) *TenantStore {
	return &TenantStore{pool: s.pool, db: s.pool, tenant: id, now: s.now, jobs: s.jobs, outbox: s.outbox, changes: s.changes, out: s.out}
}

// db is what both a pool and a transaction offer.
type db interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// TenantStore is the store bound to one tenant: every query it runs is scoped by that tenant's
// id. One bound to a transaction (InTx) must not be used by several goroutines at once.
type TenantStore struct {
	pool    *pgxpool.Pool
	db      db // the pool, or the transaction of InTx
	tenant  string
	now     func() time.Time
	jobs    *river.Client[pgx.Tx]
	outbox  *ledgerout.Outbox
	changes map[Kind]*Changes
	out     *outbound.Outbound
}

// InTx runs fn with a TenantStore bound to one READ COMMITTED transaction, committing if fn
// returns nil and rolling back otherwise. Inside an InTx, a nested InTx is a savepoint.
func (s *TenantStore) InTx(ctx context.Context, fn func(tx *TenantStore) error) error {
	return s.inTx(ctx, func(tx pgx.Tx) error { return fn(s.with(tx)) })
}

// inTx runs fn in a transaction: a savepoint of the current one if s is bound to one, so that a
// failed write leaves the caller's transaction usable.
func (s *TenantStore) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	if tx, ok := s.db.(pgx.Tx); ok {
		return pgx.BeginFunc(ctx, tx, fn)
	}
	return pgdb.InTx(ctx, s.pool, fn)
}

func (s *TenantStore) with(tx pgx.Tx) *TenantStore {
	return &TenantStore{pool: s.pool, db: tx, tenant: s.tenant, now: s.now, jobs: s.jobs, outbox: s.outbox, changes: s.changes, out: s.out}
}

// clock returns the current time as PostgreSQL stores it (UTC, microseconds), so that a message
// returned by a write equals the one read back.
func clock(now func() time.Time) time.Time {
	return now().UTC().Truncate(time.Microsecond)
}

// Once runs change, which changes the resource it names, at most once per request_id (idem), in
// the store's transaction when it has one (InTx); replayed says the request_id was recorded by
// an earlier call with the same request, and change did not run (AIP-155).
func (s *TenantStore) Once(ctx context.Context, idem Idem, change func() (string, error)) (replayed bool, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		_, replayed, err = idempotent(ctx, tx, s.tenant, idem, change)
		return err
	})
	return replayed, err
}

// idempotent runs create at most once per (tenant, request_id) in tx; see idempotency.Once.
func idempotent(ctx context.Context, tx pgx.Tx, tenant string, idem Idem, create func() (string, error)) (name string, replayed bool, err error) {
	return idempotency.Once(ctx, tx, Schema, idempotency.Key{
		TenantID: tenant, RequestID: idem.RequestID, Method: idem.Method, RequestHash: idem.Hash}, create)
}

// etag is derived from the row's creation time and revision: it changes on every write, and a
// resource deleted and created again under the same id does not match an etag of the old one.
func etag(create time.Time, revision int64) string {
	return strconv.FormatInt(create.UnixMicro(), 36) + "-" + strconv.FormatInt(revision, 10)
}

// checkEtag fails with EtagMismatch unless want is empty (unconditional) or the row's etag.
func checkEtag(name, want string, create time.Time, revision int64) error {
	if want != "" && want != etag(create, revision) {
		return apierr.EtagMismatch(name)
	}
	return nil
}

// The fields that every registry resource has and that the store keeps in key columns rather than
// in the jsonb data.
const (
	fieldName       = "name"
	fieldCreateTime = "create_time"
	fieldUpdateTime = "update_time"
	fieldEtag       = "etag"
	// A unit's full name is made of its parents' names on read (unitColumns), never stored.
	fieldFullName = "full_name"
)

// setMeta sets m's name, create_time, update_time and etag.
func setMeta(m proto.Message, name string, create, update time.Time, revision int64) {
	r := m.ProtoReflect()
	fs := r.Descriptor().Fields()
	r.Set(fs.ByName(fieldName), protoreflect.ValueOfString(name))
	r.Set(fs.ByName(fieldCreateTime), protoreflect.ValueOfMessage(timestamppb.New(create).ProtoReflect()))
	r.Set(fs.ByName(fieldUpdateTime), protoreflect.ValueOfMessage(timestamppb.New(update).ProtoReflect()))
	r.Set(fs.ByName(fieldEtag), protoreflect.ValueOfString(etag(create, revision)))
}

// encode is the jsonb stored for m: its protojson without the fields kept in key columns.
func encode(m proto.Message) ([]byte, error) {
	c := proto.Clone(m).ProtoReflect()
	fs := c.Descriptor().Fields()
	for _, n := range []protoreflect.Name{fieldName, fieldCreateTime, fieldUpdateTime, fieldEtag, fieldFullName} {
		if fd := fs.ByName(n); fd != nil {
			c.Clear(fd)
		}
	}
	b, err := protojson.Marshal(c.Interface())
	if err != nil {
		return nil, fmt.Errorf("pg: encode %s: %w", c.Descriptor().FullName(), err)
	}
	return b, nil
}

// decode reads stored data into m, replacing its contents. Unknown fields are dropped, so that a
// row written by a newer release (a field added) still reads after a rollback.
func decode(data []byte, m proto.Message) error {
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, m); err != nil {
		return fmt.Errorf("pg: decode %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return nil
}

// isFKViolation reports whether err is a foreign-key violation, i.e. the tenant or unit a row
// belongs to does not exist.
func isFKViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}

// collections are the kinds' collections in resource names (pkg/names).
var collections = map[Kind]names.Collection{Officers: names.Officers, Sites: names.Sites, Files: names.Files,
	Processors: names.Processors}

func childName(t, u string, k Kind, id string) string { return collections[k].Name(t, u, id) }

// pageLimit applies the default and maximum page size (AIP-158).
func pageLimit(size int) (int, error) {
	switch {
	case size < 0:
		return 0, apierr.Invalid(apierr.Violation{Field: "page_size", Rule: "range",
			Description: "must not be negative"})
	case size == 0:
		return defaultPageSize, nil
	case size > maxPageSize:
		return maxPageSize, nil
	}
	return size, nil
}

// lockKey is an advisory-lock key for a purpose and its parts. A collision of two keys only makes
// two unrelated writers wait for each other.
func lockKey(purpose string, parts ...string) int64 {
	h := fnv.New64a()
	h.Write([]byte("pipa/registry/" + purpose))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return int64(h.Sum64())
}

// rowMeta is the key-column part that every row has.
type rowMeta struct {
	revision       int64
	create, update time.Time
}

// set sets m's name, times and etag on msg.
func (m rowMeta) set(msg proto.Message, name string) {
	setMeta(msg, name, m.create.UTC(), m.update.UTC(), m.revision)
}

// bump advances m for a write now.
func (m *rowMeta) bump(now func() time.Time) {
	m.revision++
	m.update = clock(now)
}

// lockRow runs query, which must select (revision, create_time) of one row FOR UPDATE, and checks
// want against the row's etag. No row is NotFound(name).
func lockRow(ctx context.Context, tx pgx.Tx, name, want, query string, args ...any) (rowMeta, error) {
	var m rowMeta
	err := tx.QueryRow(ctx, query, args...).Scan(&m.revision, &m.create)
	if errors.Is(err, pgx.ErrNoRows) {
		return m, apierr.NotFound(name)
	}
	if err != nil {
		return m, fmt.Errorf("pg: lock %s: %w", name, err)
	}
	m.create = m.create.UTC()
	return m, checkEtag(name, want, m.create, m.revision)
}

// forEachRow calls fn for each of rows and closes them.
func forEachRow(rows pgx.Rows, fn func(pgx.Rows) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
