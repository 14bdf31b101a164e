package entry

import (
	"encoding/binary"
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

// sealedJSON is format 1 of the blob, which pipa wrote before format 2: a JSON document
// {"v":1,"fields":[{"field":…,"value":…,"salt":base64},…]}.
type sealedJSON struct {
	V      int           `json:"v"`
	Fields []SealedField `json:"fields"`
}

// sealedV2 is the first byte of format 2.
const sealedV2 = 2

// Marshal encodes s as one blob to seal, in format 2: the byte 2, then for each field its name,
// its salt and its value, each as its length (uvarint) and its bytes. Every access record taken
// in seals one: this is about half the JSON of format 1 (base64 salts, keys) and costs no
// reflection. UnmarshalSealed reads both formats.
func (s *Sealed) Marshal() []byte {
	var fs []SealedField
	if s != nil {
		fs = s.Fields
	}
	n := 1
	for _, f := range fs {
		n += 3*binary.MaxVarintLen32 + len(f.Field) + len(f.Salt) + len(f.Value)
	}
	b := make([]byte, 1, n)
	b[0] = sealedV2
	for _, f := range fs {
		b = binary.AppendUvarint(b, uint64(len(f.Field)))
		b = append(b, f.Field...)
		b = binary.AppendUvarint(b, uint64(len(f.Salt)))
		b = append(b, f.Salt...)
		b = binary.AppendUvarint(b, uint64(len(f.Value)))
		b = append(b, f.Value...)
	}
	return b
}

// UnmarshalSealed parses what Marshal wrote (format 2) or pipa wrote before (format 1, JSON),
// refusing unknown formats, fields that are not personal, a field twice and salts of another
// size.
func UnmarshalSealed(b []byte) (*Sealed, error) {
	var fs []SealedField
	switch {
	case len(b) > 0 && b[0] == sealedV2:
		var err error
		if fs, err = unmarshalV2(b[1:]); err != nil {
			return nil, fmt.Errorf("entry: sealed values: %w", err)
		}
	case len(b) > 0 && b[0] == '{':
		var doc sealedJSON
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("entry: sealed values: %w", err)
		}
		if doc.V != 1 {
			return nil, fmt.Errorf("entry: sealed values: unknown version %d", doc.V)
		}
		fs = doc.Fields
	default:
		return nil, errors.New("entry: sealed values: unknown format")
	}
	seen := map[string]bool{}
	for _, f := range fs {
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
		if !utf8.ValidString(f.Value) {
			return nil, fmt.Errorf("entry: sealed values: %q is not UTF-8", f.Field)
		}
	}
	return &Sealed{Fields: fs}, nil
}

// unmarshalV2 reads format 2's fields (after its first byte).
func unmarshalV2(b []byte) ([]SealedField, error) {
	next := func() ([]byte, error) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, errors.New("truncated")
		}
		v := b[k : k+int(n) : k+int(n)]
		b = b[k+int(n):]
		return v, nil
	}
	var fs []SealedField
	for len(b) > 0 {
		var parts [3][]byte
		for i := range parts {
			var err error
			if parts[i], err = next(); err != nil {
				return nil, err
			}
		}
		fs = append(fs, SealedField{Field: string(parts[0]), Salt: parts[1], Value: string(parts[2])})
	}
	return fs, nil
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
