package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/pgdb"
)

// MaxRequestID bounds a request_id, as every pipa service does (a key PostgreSQL can index).
const MaxRequestID = 128

// ErrReused is returned by Do when the request_id was first used with another method or request.
var ErrReused = errors.New("request_id was already used for a different request")

// Key identifies one create request.
type Key struct {
	TenantID string
	// RequestID is the client's request_id. Empty means the request is not idempotent: Do just
	// creates.
	RequestID string
	// Method is the full gRPC method name, e.g. "/pipa.registry.v1.RegistryService/CreateUnit".
	Method string
	// RequestHash fingerprints the request without its request_id; see RequestHash.
	RequestHash []byte
}

// DDL returns the statement that creates schema's idempotency table, for the service's migration.
func DDL(schema string) string {
	return fmt.Sprintf(`CREATE TABLE %s.idempotency (
  tenant_id    text NOT NULL,
  request_id   text NOT NULL,
  method       text NOT NULL,
  request_hash bytea NOT NULL,
  resource     text NOT NULL,
  create_time  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, request_id)
);`, schema)
}

// RequestHash is the SHA-256 of req's deterministic protobuf encoding with its top-level
// request_id field cleared, so that a retry with the same request_id matches the first call and
// a different request under the same request_id does not. req is not modified.
//
// It encodes req as it is and leaves request_id's records out of the hash: the encoding of a
// message is the concatenation of its fields' records, so what is hashed is exactly the encoding
// of req with request_id cleared (hashes stored before are still matched), without the copy of
// the whole request that clearing it would take on every create.
func RequestHash(req proto.Message) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("idempotency: hash request: %w", err)
	}
	h := sha256.New()
	fd := req.ProtoReflect().Descriptor().Fields().ByName("request_id")
	for rest := b; len(rest) > 0; {
		num, typ, n := protowire.ConsumeTag(rest)
		if n >= 0 {
			if m := protowire.ConsumeFieldValue(num, typ, rest[n:]); m >= 0 {
				n += m
			} else {
				n = m
			}
		}
		if n < 0 {
			return nil, fmt.Errorf("idempotency: hash request: %w", protowire.ParseError(n))
		}
		if fd == nil || num != fd.Number() {
			h.Write(rest[:n])
		}
		rest = rest[n:]
	}
	return h.Sum(nil), nil
}

// Do runs create at most once per (tenant, request_id) in schema's idempotency table. create
// must create the resource through tx and return its name.
//
// On the first call Do returns create's name with replayed false. When the key was already
// recorded with the same method and request hash, Do does not call create and returns the
// recorded name with replayed true. When it was recorded for another request, Do returns
// ErrReused. A request_id over MaxRequestID bytes is refused (InvalidArgument on request_id). Any
// error leaves tx in a state the caller must roll back (pgdb.InTx does).
func Do(ctx context.Context, tx pgx.Tx, schema string, key Key, create func() (string, error)) (resource string, replayed bool, err error) {
	if key.RequestID == "" {
		resource, err = create()
		return resource, false, err
	}
	if len(key.RequestID) > MaxRequestID {
		return "", false, apierr.Invalid(apierr.Violation{Field: "request_id", Rule: "range",
			Description: fmt.Sprintf("must be at most %d bytes", MaxRequestID)})
	}
	if err := pgdb.ValidSchema(schema); err != nil {
		return "", false, err
	}
	existing, err := claim(ctx, tx, schema, key)
	if err != nil {
		return "", false, err
	}
	if existing != "" {
		return existing, true, nil
	}
	resource, err = create()
	if err != nil {
		return "", false, err
	}
	if resource == "" {
		return "", false, errors.New("idempotency: create returned an empty resource name")
	}
	_, err = tx.Exec(ctx, "UPDATE "+schema+".idempotency SET resource = $3 WHERE tenant_id = $1 AND request_id = $2",
		key.TenantID, key.RequestID, resource)
	if err != nil {
		return "", false, fmt.Errorf("idempotency: record %s: %w", resource, err)
	}
	return resource, false, nil
}

// Once is Do for a handler: a request_id already used for another request is refused as the
// client's error, InvalidArgument naming request_id (AIP-155), instead of ErrReused.
func Once(ctx context.Context, tx pgx.Tx, schema string, key Key, change func() (string, error)) (resource string, replayed bool, err error) {
	resource, replayed, err = Do(ctx, tx, schema, key, change)
	if errors.Is(err, ErrReused) {
		return "", false, apierr.Invalid(apierr.Violation{Field: "request_id", Rule: "AIP-155",
			Description: "this request_id was already used for a different request; use a new one"})
	}
	return resource, replayed, err
}

// claim inserts key's row, with an empty resource that Do fills in before its transaction
// commits, and returns "" if the row is new. If a committed row holds the key it returns that
// row's resource, or ErrReused if the row belongs to another request.
func claim(ctx context.Context, tx pgx.Tx, schema string, key Key) (string, error) {
	insert := "INSERT INTO " + schema + ".idempotency (tenant_id, request_id, method, request_hash, resource) " +
		"VALUES ($1, $2, $3, $4, '') ON CONFLICT (tenant_id, request_id) DO NOTHING"
	lookup := "SELECT method, request_hash, resource FROM " + schema + ".idempotency " +
		"WHERE tenant_id = $1 AND request_id = $2"
	// A second attempt is needed only if Purge deleted the conflicting row between the two
	// statements; a third would need that to happen twice.
	for range 3 {
		tag, err := tx.Exec(ctx, insert, key.TenantID, key.RequestID, key.Method, key.RequestHash)
		if err != nil {
			return "", fmt.Errorf("idempotency: claim request_id: %w", err)
		}
		if tag.RowsAffected() == 1 {
			return "", nil
		}
		// A new statement: under READ COMMITTED it sees the row that made the insert do nothing.
		var method, resource string
		var hash []byte
		err = tx.QueryRow(ctx, lookup, key.TenantID, key.RequestID).Scan(&method, &hash, &resource)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("idempotency: read request_id: %w", err)
		}
		if method != key.Method || !bytes.Equal(hash, key.RequestHash) {
			return "", ErrReused
		}
		return resource, nil
	}
	return "", errors.New("idempotency: claim request_id: its record kept disappearing")
}

// Purge deletes schema's records created more than olderThan ago and returns how many it deleted.
// A request_id whose record is gone counts as new again.
func Purge(ctx context.Context, pool *pgxpool.Pool, schema string, olderThan time.Duration) (int64, error) {
	if err := pgdb.ValidSchema(schema); err != nil {
		return 0, err
	}
	tag, err := pool.Exec(ctx, "DELETE FROM "+schema+".idempotency WHERE create_time < now() - $1 * interval '1 microsecond'",
		olderThan.Microseconds())
	if err != nil {
		return 0, fmt.Errorf("idempotency: purge %s: %w", schema, err)
	}
	return tag.RowsAffected(), nil
}
