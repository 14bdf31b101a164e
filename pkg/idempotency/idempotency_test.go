package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/idempotency"
	"github.com/pipa-kr/pipa/pkg/pgdb"
	"github.com/pipa-kr/pipa/pkg/pgtest"
)

const (
	schema = "idem"
	method = "/pipa.test.v1.ThingService/CreateThing"
)

var migrations = os.DirFS("testdata")

// createThing is a create handler's transaction: one row in idem.things per real create.
func createThing(ctx context.Context, pool *pgxpool.Pool, key idempotency.Key) (resource string, replayed bool, err error) {
	return createThingHolding(ctx, pool, key, 0)
}

// createThingHolding is createThing keeping its transaction open for hold after creating, so that
// concurrent callers surely meet its uncommitted record.
func createThingHolding(ctx context.Context, pool *pgxpool.Pool, key idempotency.Key, hold time.Duration) (resource string, replayed bool, err error) {
	err = pgdb.InTx(ctx, pool, func(tx pgx.Tx) error {
		resource, replayed, err = idempotency.Do(ctx, tx, schema, key, func() (string, error) {
			var id int64
			err := tx.QueryRow(ctx, "INSERT INTO idem.things (tenant_id) VALUES ($1) RETURNING id", key.TenantID).Scan(&id)
			return fmt.Sprintf("tenants/%s/things/%d", key.TenantID, id), err
		})
		if err != nil || replayed {
			return err
		}
		_, err = tx.Exec(ctx, "SELECT pg_sleep($1)", hold.Seconds())
		return err
	})
	return resource, replayed, err
}

func countThings(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), "SELECT count(*) FROM idem.things").Scan(&n))
	return n
}

func TestMigrationUsesDDL(t *testing.T) {
	b, err := os.ReadFile("testdata/00001_init.sql")
	require.NoError(t, err)
	require.Contains(t, string(b), idempotency.DDL(schema))
}

func TestConcurrentRetriesCreateOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t, schema, migrations)
	key := idempotency.Key{TenantID: "t1", RequestID: "req-1", Method: method, RequestHash: []byte("hash")}

	const callers = 16
	var (
		wg        sync.WaitGroup
		start     = make(chan struct{})
		resources [callers]string
		replays   [callers]bool
		errs      [callers]error
	)
	for i := range callers {
		wg.Go(func() {
			<-start
			resources[i], replays[i], errs[i] = createThingHolding(ctx, pool, key, 200*time.Millisecond)
		})
	}
	close(start)
	wg.Wait()

	created := 0
	for i := range callers {
		require.NoError(t, errs[i])
		require.Equal(t, resources[0], resources[i])
		if !replays[i] {
			created++
		}
	}
	require.Equal(t, 1, created)
	require.Equal(t, 1, countThings(t, pool))
}

func TestRetryReturnsTheFirstResource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t, schema, migrations)
	key := idempotency.Key{TenantID: "t1", RequestID: "req-1", Method: method, RequestHash: []byte("hash")}

	first, replayed, err := createThing(ctx, pool, key)
	require.NoError(t, err)
	require.False(t, replayed)
	again, replayed, err := createThing(ctx, pool, key)
	require.NoError(t, err)
	require.True(t, replayed)
	require.Equal(t, first, again)

	// The same request_id in another tenant is another request.
	other, replayed, err := createThing(ctx, pool, idempotency.Key{TenantID: "t2", RequestID: "req-1", Method: method, RequestHash: []byte("hash")})
	require.NoError(t, err)
	require.False(t, replayed)
	require.NotEqual(t, first, other)
	require.Equal(t, 2, countThings(t, pool))
}

func TestReusedRequestIDIsRejected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t, schema, migrations)
	key := idempotency.Key{TenantID: "t1", RequestID: "req-1", Method: method, RequestHash: []byte("hash")}
	_, _, err := createThing(ctx, pool, key)
	require.NoError(t, err)

	otherHash := key
	otherHash.RequestHash = []byte("another request")
	_, _, err = createThing(ctx, pool, otherHash)
	require.ErrorIs(t, err, idempotency.ErrReused)

	otherMethod := key
	otherMethod.Method = "/pipa.test.v1.ThingService/CreateOtherThing"
	_, _, err = createThing(ctx, pool, otherMethod)
	require.ErrorIs(t, err, idempotency.ErrReused)

	require.Equal(t, 1, countThings(t, pool))
}

func TestWithoutRequestIDEveryCallCreates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t, schema, migrations)
	key := idempotency.Key{TenantID: "t1", Method: method, RequestHash: []byte("hash")}
	for range 2 {
		_, replayed, err := createThing(ctx, pool, key)
		require.NoError(t, err)
		require.False(t, replayed)
	}
	require.Equal(t, 2, countThings(t, pool))
}

func TestFailedCreateLeavesNoRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t, schema, migrations)
	key := idempotency.Key{TenantID: "t1", RequestID: "req-1", Method: method, RequestHash: []byte("hash")}
	errBoom := errors.New("boom")

	err := pgdb.InTx(ctx, pool, func(tx pgx.Tx) error {
		_, _, err := idempotency.Do(ctx, tx, schema, key, func() (string, error) { return "", errBoom })
		return err
	})
	require.ErrorIs(t, err, errBoom)

	_, replayed, err := createThing(ctx, pool, key)
	require.NoError(t, err)
	require.False(t, replayed)
}

func TestPurgeForgetsOldRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t, schema, migrations)
	old := idempotency.Key{TenantID: "t1", RequestID: "old", Method: method, RequestHash: []byte("hash")}
	recent := idempotency.Key{TenantID: "t1", RequestID: "recent", Method: method, RequestHash: []byte("hash")}
	for _, key := range []idempotency.Key{old, recent} {
		_, _, err := createThing(ctx, pool, key)
		require.NoError(t, err)
	}
	_, err := pool.Exec(ctx, "UPDATE idem.idempotency SET create_time = now() - interval '25 hours' WHERE request_id = 'old'")
	require.NoError(t, err)

	n, err := idempotency.Purge(ctx, pool, schema, 24*time.Hour)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)

	_, replayed, err := createThing(ctx, pool, old)
	require.NoError(t, err)
	require.False(t, replayed, "a purged request_id counts as new")
	_, replayed, err = createThing(ctx, pool, recent)
	require.NoError(t, err)
	require.True(t, replayed)
}

func TestRequestHashIgnoresRequestID(t *testing.T) {
	md := createThingRequestDescriptor(t)
	request := func(parent, requestID string) proto.Message {
		m := dynamicpb.NewMessage(md)
		m.Set(md.Fields().ByName("parent"), protoreflect.ValueOfString(parent))
		m.Set(md.Fields().ByName("request_id"), protoreflect.ValueOfString(requestID))
		return m
	}
	hash := func(m proto.Message) []byte {
		h, err := idempotency.RequestHash(m)
		require.NoError(t, err)
		return h
	}

	req := request("tenants/t1", "req-1")
	require.Equal(t, hash(req), hash(request("tenants/t1", "req-2")))
	require.NotEqual(t, hash(req), hash(request("tenants/t2", "req-1")))
	require.Equal(t, "req-1", req.ProtoReflect().Get(md.Fields().ByName("request_id")).String(), "req is not modified")
}

// createThingRequestDescriptor describes message CreateThingRequest { string parent = 1; string request_id = 2; }.
func createThingRequestDescriptor(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	field := func(name string, number int32) *descriptorpb.FieldDescriptorProto {
		return &descriptorpb.FieldDescriptorProto{
			Name:   proto.String(name),
			Number: proto.Int32(number),
			Label:  descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
			Type:   descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(),
		}
	}
	file, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name:    proto.String("idempotency_test.proto"),
		Package: proto.String("pipa.test.v1"),
		Syntax:  proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name:  proto.String("CreateThingRequest"),
			Field: []*descriptorpb.FieldDescriptorProto{field("parent", 1), field("request_id", 2)},
		}},
	}, nil)
	require.NoError(t, err)
	return file.Messages().Get(0)
}

// A request_id too long to key is bad input naming the field, not an index error, and creates
// nothing.
func TestLongRequestIDIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t, schema, migrations)
	key := idempotency.Key{TenantID: "t1", RequestID: strings.Repeat("x", idempotency.MaxRequestID+1), Method: method, RequestHash: []byte("h")}
	_, _, err := createThing(ctx, pool, key)
	require.Equal(t, codes.InvalidArgument, apierr.CodeOf(err))
	require.Zero(t, countThings(t, pool))
	key.RequestID = strings.Repeat("x", idempotency.MaxRequestID)
	_, _, err = createThing(ctx, pool, key)
	require.NoError(t, err)
}
