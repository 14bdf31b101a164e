// Package idempotency makes pipa's Create methods safe to retry: a create that carries a client
// request_id (AIP-155) creates its resource at most once, and a retry gets the resource the first
// call created instead of a second one.
//
// Each service records request ids in its own schema, in a table its migrations create with
// exactly this statement (DDL returns it for a schema; applied migrations are never edited, so
// this shape never changes):
//
//	CREATE TABLE <schema>.idempotency (
//	  tenant_id    text NOT NULL,
//	  request_id   text NOT NULL,
//	  method       text NOT NULL,
//	  request_hash bytea NOT NULL,
//	  resource     text NOT NULL,
//	  create_time  timestamptz NOT NULL DEFAULT now(),
//	  PRIMARY KEY (tenant_id, request_id)
//	);
//
// A create handler calls Do inside the transaction that creates the resource (pgdb.InTx), so the
// record and the resource commit or roll back together:
//
//	hash, err := idempotency.RequestHash(req)
//	...
//	err = pgdb.InTx(ctx, pool, func(tx pgx.Tx) error {
//		name, replayed, err = idempotency.Do(ctx, tx, "registry", idempotency.Key{
//			TenantID: tenant, RequestID: req.GetRequestId(),
//			Method: "/pipa.registry.v1.RegistryService/CreateUnit", RequestHash: hash,
//		}, func() (string, error) { return store.createUnit(ctx, tx, req) })
//		return err
//	})
//
// If replayed, the handler reads and returns the resource called name. ErrReused means the
// request_id came with a different request; the caller maps it to InvalidArgument.
//
// Two concurrent calls with one request_id yield one resource: the second one's insert waits on
// the first's uncommitted row and then sees it. This relies on READ COMMITTED, pgdb.InTx's level;
// under REPEATABLE READ or SERIALIZABLE the second call fails with a serialization error instead.
//
// Records are kept for a day (AIP-155 asks for at least an hour): the pipa binary calls Purge
// hourly.
package idempotency
