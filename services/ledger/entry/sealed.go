package entry

import (
	"encoding/json"
	"errors"
	"fmt"

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

// Marshal encodes s as a small versioned JSON document, to be sealed as one blob.
func (s *Sealed) Marshal() []byte {
	doc := sealedJSON{V: 1, Fields: []SealedField{}}
	if s != nil && s.Fields != nil {
		doc.Fields = s.Fields
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err) // strings and byte slices always marshal
	}
	return b
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
