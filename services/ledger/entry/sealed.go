package entry

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
)

// Sealed is what a leaf commits to but does not show: each personal value with its salt. The
// store keeps it beside the leaf as one blob encrypted with pkg/seal, and deletes the blob when
// the entry is redacted; the leaf, and so every proof, stays as it was.
type Sealed struct {
	Fields []SealedField
}

// SealedField is one personal value and the salt of its commitment.
type SealedField struct {
	// Field is the proto field name, e.g. "requester_name".
	Field string `json:"field"`
	Value string `json:"value"`
	Salt  []byte `json:"salt"`
}

type sealedJSON struct {
	V      int           `json:"v"`
	Fields []SealedField `json:"fields"`
}

// Marshal encodes s as a small versioned JSON document, to be sealed as one blob:
// {"v":1,"fields":[{"field":…,"value":…,"salt":base64},…]}. It is written by hand, not by
// encoding/json, because every access record taken in seals one (reflection made it a third of
// an ACCESS entry's cost); UnmarshalSealed reads it with encoding/json.
func (s *Sealed) Marshal() []byte {
	var fs []SealedField
	if s != nil {
		fs = s.Fields
	}
	n := 24
	for _, f := range fs {
		n += 64 + len(f.Field) + len(f.Value) + base64.StdEncoding.EncodedLen(len(f.Salt))
	}
	b := make([]byte, 0, n)
	b = append(b, `{"v":1,"fields":[`...)
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"field":`...)
		b = appendJSONString(b, f.Field)
		b = append(b, `,"value":`...)
		b = appendJSONString(b, f.Value)
		b = append(b, `,"salt":"`...)
		b = base64.StdEncoding.AppendEncode(b, f.Salt)
		b = append(b, `"}`...)
	}
	return append(b, "]}"...)
}

// appendJSONString appends v as a JSON string (RFC 8259 section 7): '"', '\\' and the control
// characters escaped. Invalid UTF-8 is left to encoding/json, which writes U+FFFD for it.
func appendJSONString(b []byte, v string) []byte {
	if !utf8.ValidString(v) {
		q, _ := json.Marshal(v) // a string always marshals
		return append(b, q...)
	}
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// UnmarshalSealed parses what Marshal wrote, refusing unknown versions and fields.
func UnmarshalSealed(b []byte) (*Sealed, error) {
	var doc sealedJSON
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("entry: sealed values: %w", err)
	}
	if doc.V != 1 {
		return nil, fmt.Errorf("entry: sealed values: unknown version %d", doc.V)
	}
	seen := map[string]bool{}
	for _, f := range doc.Fields {
		if _, ok := personalField(f.Field); !ok || f.Field != normalize(f.Field) {
			return nil, fmt.Errorf("entry: sealed values: %q is not a personal field", f.Field)
		}
		if seen[f.Field] {
			return nil, fmt.Errorf("entry: sealed values: %q twice", f.Field)
		}
		seen[f.Field] = true
		if len(f.Salt) != SaltSize {
			return nil, fmt.Errorf("entry: sealed values: %q: salt is %d bytes, want %d", f.Field, len(f.Salt), SaltSize)
		}
	}
	return &Sealed{Fields: doc.Fields}, nil
}

func normalize(name string) string {
	f, ok := personalField(name)
	if !ok {
		return ""
	}
	return f.name
}

// Get returns the value and salt of a personal field, if the entry had one.
func (s *Sealed) Get(field string) (value string, salt []byte, ok bool) {
	if s == nil {
		return "", nil, false
	}
	name := normalize(field)
	for _, f := range s.Fields {
		if f.Field == name {
			return f.Value, f.Salt, true
		}
	}
	return "", nil, false
}

// Reveal sets the personal fields of e, and their salts (Entry.salts), from s:
// DecodeLeaf(leaf).Entry plus Reveal is the entry as appended. Check s against the leaf first.
func (s *Sealed) Reveal(e *ledgerv1.Entry) {
	if s == nil {
		return
	}
	for _, sf := range s.Fields {
		if f, ok := personalField(sf.Field); ok {
			_ = f.set(e, sf.Value)
			if e.Salts == nil {
				e.Salts = map[string][]byte{}
			}
			e.Salts[f.name] = sf.Salt
		}
	}
}

// Check verifies that s holds exactly the personal values leaf commits to: a guard against a
// blob stored beside the wrong leaf.
func (s *Sealed) Check(leaf []byte) error {
	d, err := DecodeLeaf(leaf)
	if err != nil {
		return err
	}
	return d.Check(s)
}

// Check verifies that s (nil for none) holds exactly the personal values d commits to.
func (d *Decoded) Check(s *Sealed) error {
	held := map[string]bool{}
	if s != nil {
		for _, f := range s.Fields {
			if !d.verify(f.Field, f.Value, f.Salt) {
				return fmt.Errorf("entry: sealed %s does not match the leaf's commitment", f.Field)
			}
			held[normalize(f.Field)] = true
		}
	}
	if len(held) != len(d.Commitments) {
		return errors.New("entry: the leaf commits to personal values the sealed blob does not hold")
	}
	return nil
}
