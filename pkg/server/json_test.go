package server

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
)

// decodeBody reads a valid body in one protojson pass and reads again only a body protojson
// refuses: for every body, valid or not, it must answer exactly what the two-pass diagnoseBody
// answers (the same message, or the same error with the same position).
func TestDecodeBodyAsDiagnosed(t *testing.T) {
	opts := newJSONCodec().UnmarshalOptions
	for name, body := range map[string]string{
		"valid":                 `{"kind":"ENTRY_KIND_PROVISION","fileName":"중앙도서관 CH03","items":["영상"],"occurTime":"2026-11-20T14:00:00Z"}`,
		"valid, spaced":         " \n{ \"fileName\" : \"a\" }\n\t",
		"valid, snake_case":     `{"file_name":"a"}`,
		"empty object":          `{}`,
		"syntax error":          "{\"fileName\":\n \"a\",,}",
		"not complete":          `{"fileName":"a"`,
		"trailing data":         `{"fileName":"a"} {}`,
		"unknown field":         `{"fileName":"a","audio":true}`,
		"duplicate field":       `{"fileName":"a","fileName":"b"}`,
		"wrong type":            `{"fileName":3}`,
		"bad enum":              `{"kind":"ENTRY_KIND_NONE_SUCH"}`,
		"invalid UTF-8":         "{\"fileName\":\"\xff\"}",
		"bad timestamp":         `{"occurTime":"yesterday"}`,
		"an array, not object":  `[1,2]`,
		"a string, not object":  `"x"`,
		"nested too deep array": `{"items":[[["a"]]]}`,
	} {
		t.Run(name, func(t *testing.T) {
			fast, slow := &ledgerv1.Entry{}, &ledgerv1.Entry{}
			ferr, serr := decodeBody([]byte(body), fast, opts), diagnoseBody([]byte(body), slow, opts)
			if serr != nil {
				require.Error(t, ferr)
				require.Equal(t, serr.Error(), ferr.Error())
				require.Equal(t, serr, ferr)
				return
			}
			require.NoError(t, ferr)
			require.True(t, proto.Equal(slow, fast), "decoded %v, want %v", fast, slow)
			want := &ledgerv1.Entry{}
			require.NoError(t, protojson.Unmarshal([]byte(body), want))
			require.True(t, proto.Equal(want, fast))
		})
	}
}

// The gateway's answers are the bytes runtime.JSONPb writes, written without its buffer: the
// same for a message (an entry with zeros, a list, a timestamp and bytes, and an empty one) and
// for what is not one (a body field's list).
func TestMarshalAsJSONPb(t *testing.T) {
	c := newJSONCodec()
	for _, v := range []any{
		&ledgerv1.Entry{Name: "tenants/t/units/u/entries/0", Items: []string{"성명"}, LeafHash: []byte{1, 2}, OccurTime: timestamppb.New(time.Unix(1e9, 5))},
		&ledgerv1.Entry{},
		[]*ledgerv1.Entry{{Index: 3}},
	} {
		want, err := c.JSONPb.Marshal(v)
		require.NoError(t, err)
		got, err := c.Marshal(v)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	}
}
