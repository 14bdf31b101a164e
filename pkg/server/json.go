package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/pipa-kr/pipa/pkg/apierr"
)

// JSON is how pipa writes a message as JSON, on the REST API and on every page that answers
// JSON: lowerCamelCase names, and every field that has no presence written even when it is zero
// (EmitDefaultValues), so that `"ready": false`, `"index": "0"`, a count of 0 and an empty list
// `[]` are in the answer rather than left for the client to guess. Fields with presence (proto3
// `optional`, messages) are written only when set, so an absent value stays absent.
//
// Why EmitDefaultValues rather than `optional` on the fields where a zero matters: those are most
// fields (every count, flag, index and list a client reads), marking each would change the Go
// API of every service, and a client generated from the OpenAPI document reads a present zero
// the same way in every language. Where absence itself means something (a ledger step not yet
// appended, an item not yet destroyed), the message says so in a field of its own (`pending`,
// `state`), which is now always present too. EmitUnpopulated was not taken: it writes `null` for
// every unset message, which the OpenAPI schemas do not allow.
var JSON = protojson.MarshalOptions{EmitDefaultValues: true}

// jsonCodec is the gateway's marshaler: JSON out, and JSON in with unknown fields refused and any
// body it cannot read answered as an InvalidArgument that says where (line, column and byte
// offset) and why.
type jsonCodec struct{ runtime.JSONPb }

func newJSONCodec() *jsonCodec {
	return &jsonCodec{runtime.JSONPb{MarshalOptions: JSON, UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false}}}
}

// Marshal writes a message as runtime.JSONPb does, without copying the answer into a growing
// buffer first (JSONPb's Marshal writes protojson's bytes into a bytes.Buffer and returns its
// contents): one allocation of the answer's size instead of several, on every answer.
func (c *jsonCodec) Marshal(v any) ([]byte, error) {
	if m, ok := v.(proto.Message); ok {
		return c.MarshalOptions.Marshal(m)
	}
	return c.JSONPb.Marshal(v)
}

// NewDecoder reads the whole body, which the gateway decodes once per request.
func (c *jsonCodec) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error {
		b, err := io.ReadAll(r)
		if tl := tooLarge(err); tl != nil {
			if slot, ok := r.(*bodySlot); ok {
				slot.err = tl
			}
			return tl
		}
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(b)) == 0 {
			return io.EOF // no body: the gateway decodes nothing
		}
		m, ok := protoTarget(v)
		if !ok {
			return c.JSONPb.NewDecoder(bytes.NewReader(b)).Decode(v)
		}
		if err := decodeBody(b, m, c.UnmarshalOptions); err != nil {
			if slot, ok := r.(*bodySlot); ok {
				slot.err = err
			}
			return err
		}
		return nil
	})
}

// protoTarget is the message v points to: v itself, or the message a **T points to (allocated),
// which is what the gateway decodes a body field such as `body: site` into.
func protoTarget(v any) (proto.Message, bool) {
	if m, ok := v.(proto.Message); ok {
		return m, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Pointer {
		return nil, false
	}
	if rv.Elem().IsNil() {
		rv.Elem().Set(reflect.New(rv.Elem().Type().Elem()))
	}
	m, ok := rv.Elem().Interface().(proto.Message)
	return m, ok
}

// protojsonPosition finds the "(line L:C)" protojson puts in its errors, after a "proto:" whose
// space protobuf-go varies on purpose (U+0020 or U+00A0).
var protojsonPosition = regexp.MustCompile(`^proto:[ \x{00a0}](?:syntax error )?\(line (\d+):(\d+)\): `)

// decodeBody reads one JSON value into m and nothing after it. Its errors name the position.
// Most bodies are valid, so protojson reads them first, alone: it is stricter than encoding/json
// (trailing data, duplicate names, invalid UTF-8 and unknown fields are all errors to it), so a
// body it accepts is one diagnoseBody accepts too. Only a body it refuses is read again, to say
// where it is wrong (the encoding/json pass was about 3 % of an append's CPU over REST).
func decodeBody(b []byte, m proto.Message, opts protojson.UnmarshalOptions) error {
	if opts.Unmarshal(b, m) == nil {
		return nil
	}
	return diagnoseBody(b, m, opts)
}

// diagnoseBody reads b into m as decodeBody does, checking its syntax with encoding/json first,
// which says where with a byte offset, then protojson, whose errors say line and column.
func diagnoseBody(b []byte, m proto.Message, opts protojson.UnmarshalOptions) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	var raw json.RawMessage // checked for syntax here: encoding/json says where with a byte offset
	if err := dec.Decode(&raw); err != nil {
		var syn *json.SyntaxError
		switch {
		case errors.As(err, &syn):
			return malformed(b, int(syn.Offset)-1, syn.Error())
		case errors.Is(err, io.ErrUnexpectedEOF):
			return malformed(b, len(b), "the JSON value is not complete")
		}
		return malformed(b, int(dec.InputOffset()), err.Error())
	}
	if rest := dec.InputOffset(); len(bytes.TrimSpace(b[rest:])) > 0 {
		at := int(rest) + len(b[rest:]) - len(bytes.TrimLeft(b[rest:], " \t\r\n"))
		return malformed(b, at, "unexpected data after the JSON value")
	}
	// The whole body, so that protojson's positions are the body's.
	if err := opts.Unmarshal(b, m); err != nil {
		if p := protojsonPosition.FindStringSubmatch(err.Error()); p != nil {
			line, _ := strconv.Atoi(p[1])
			col, _ := strconv.Atoi(p[2])
			return malformedAt(line, col, offsetOf(b, line, col), err.Error()[len(p[0]):])
		}
		return malformed(b, 0, strings.TrimLeft(strings.TrimPrefix(err.Error(), "proto:"), " \u00a0"))
	}
	return nil
}

// malformed is a body error at byte offset off of b.
func malformed(b []byte, off int, why string) error {
	off = max(0, min(off, len(b)))
	line := 1 + bytes.Count(b[:off], []byte("\n"))
	col := 1 + utf8.RuneCount(b[bytes.LastIndexByte(b[:off], '\n')+1:off])
	return malformedAt(line, col, off, why)
}

func malformedAt(line, col, off int, why string) error {
	where := fmt.Sprintf("line %d, column %d (byte %d)", line, col, off)
	return &apierr.Error{
		Kind: apierr.KindInvalid, Reason: "MALFORMED_BODY",
		Message:    "the request body is not valid JSON for this method",
		Violations: []apierr.Violation{{Field: "body", Rule: "json", Description: where + ": " + why}},
		Metadata:   map[string]string{"line": strconv.Itoa(line), "column": strconv.Itoa(col), "offset": strconv.Itoa(off)},
	}
}

// offsetOf is the byte offset of line:col, both counted from 1 and col in characters, as
// protojson counts them.
func offsetOf(b []byte, line, col int) int {
	off := 0
	for i := 1; i < line; i++ {
		nl := bytes.IndexByte(b[off:], '\n')
		if nl < 0 {
			return len(b)
		}
		off += nl + 1
	}
	for i := 1; i < col && off < len(b); i++ {
		_, n := utf8.DecodeRune(b[off:])
		off += n
	}
	return off
}

// bodySlot carries a request body through the gateway, so that the decoder can leave its
// structured error for the error handler: the generated code keeps only the error's text.
type bodySlot struct {
	io.ReadCloser
	err error
}
