package idempotency_test

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/timestamppb"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/idempotency"
)

// goldenRequest is an append with nested messages, a list, a map, a field with presence and
// unknown fields.
func goldenRequest() *ledgerv1.AppendEntryRequest {
	follows := int64(3)
	req := &ledgerv1.AppendEntryRequest{Parent: "tenants/jeongeup/units/library", RequestId: "req-7",
		Entry: &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_PROVISION,
			OccurTime: timestamppb.New(time.Date(2026, 12, 7, 10, 0, 0, 123, time.UTC)),
			Purpose:   "민원 처리", Items: []string{"성명", "연락처"}, Follows: &follows,
			Salts: map[string][]byte{"b": {2}, "a": {1}, "c": {3}}}}
	// An unknown field 9 after the known ones.
	req.ProtoReflect().SetUnknown(protowire.AppendString(protowire.AppendTag(nil, 9, protowire.BytesType), "later"))
	return req
}

// The hash of a request is what it was when it was stored: a retry after an upgrade still
// matches the first call's hash (this value is the one the earlier code, which cleared
// request_id on a copy and encoded that, gave for the same request).
func TestRequestHashGolden(t *testing.T) {
	const golden = "1c7dac9fe6b717f67939496a2ed78a20f001bd2725ec2b4a1d5c0915c27b5486"
	req := goldenRequest()
	h, err := idempotency.RequestHash(req)
	require.NoError(t, err)
	require.Equal(t, golden, hex.EncodeToString(h))
	require.Equal(t, "req-7", req.GetRequestId(), "req is not modified")

	req.RequestId = "" // no request_id at all: the same encoding
	h, err = idempotency.RequestHash(req)
	require.NoError(t, err)
	require.Equal(t, golden, hex.EncodeToString(h))

	req.Entry.Items = append(req.Entry.Items, "주소")
	h, err = idempotency.RequestHash(req)
	require.NoError(t, err)
	require.NotEqual(t, golden, hex.EncodeToString(h))
}

// go test -run '^$' -bench RequestHash -benchmem ./idempotency
func BenchmarkRequestHash(b *testing.B) {
	req := goldenRequest()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := idempotency.RequestHash(req); err != nil {
			b.Fatal(err)
		}
	}
}
