package entry

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Magic is the first line of every version 1 leaf.
const Magic = "pipa-ledger-entry/v1"

// SaltSize is the size of the salt of each personal-field commitment.
const SaltSize = 32

// maxPersonal bounds the personal fields of any kind (Personal); an ACCESS entry has the most.
const maxPersonal = 8

// ErrLeaf is wrapped by every error of DecodeLeaf: the bytes are not a canonical version 1 leaf.
var ErrLeaf = errors.New("not a canonical pipa-ledger-entry/v1 leaf")

// Decoded is a leaf parsed back: what a verifier can learn from the leaf alone.
type Decoded struct {
	Log   string
	Index int64
	// Entry holds the kind and every field in clear. Personal fields are empty: the leaf only
	// commits to them (see Commitments), except in an ACCESS or ROLE_CHANGE leaf of the earlier
	// form, which holds them in clear. Output-only fields are unset.
	Entry *ledgerv1.Entry
	// Commitments maps a personal field's proto name (e.g. "requester_name") to
	// sha256(salt || 0x00 || value).
	Commitments map[string][]byte
	// clear: an ACCESS or ROLE_CHANGE leaf of the earlier form, its kind's personal fields in
	// clear.
	clear bool
}

// committed says in which leaves a field is written only as a commitment.
type committed uint8

const (
	// inClear: the field's value is in the leaf as it is.
	inClear committed = iota
	// always: a personal value in a leaf of any kind (an officer's or a requester's name, a
	// contact).
	always
	// inAccess: in an ACCESS leaf, a field of the access record that identifies a person or says
	// what was done with a person's data (S-2-3: the account, where from, whose data, what was
	// done, a download's reason), so that a destroyed record (S-8-1) leaves nothing of it
	// readable. Other kinds write the field in clear (a USE's purpose); so did ACCESS leaves
	// written before (the leaf grammar accepts either form, not a mix).
	inAccess
	// inRecord: as inAccess, and in a ROLE_CHANGE leaf too, whose actor is a staff account and
	// subject its holder's name (S-5), erasable once the three years are over. ROLE_CHANGE leaves
	// written before hold them in clear.
	inRecord
)

// field is one leaf line kind, in Entry field-number order (the order of the lines).
type field struct {
	num       int32
	name      string // proto field name
	committed committed
	get       func(*ledgerv1.Entry) ([]string, error)
	set       func(*ledgerv1.Entry, string) error
	// one, for a field of one string, reads it without get's slice (see value).
	one func(*ledgerv1.Entry) *string
	// key is the key of the field's line in clear, name with '_' as '-'; ckey the key of its
	// commitment, key and "-commitment" (set by withKeys).
	key, ckey string
}

// withKeys sets the leaf keys of fs.
func withKeys(fs []field) []field {
	for i := range fs {
		fs[i].key = strings.ReplaceAll(fs[i].name, "_", "-")
		fs[i].ckey = fs[i].key + "-commitment"
	}
	return fs
}

// value is f's value in e when it has exactly one (a field of one string: when it is not empty).
func (f field) value(e *ledgerv1.Entry) (string, bool) {
	if f.one != nil {
		v := *f.one(e)
		return v, v != ""
	}
	if vs, _ := f.get(e); len(vs) == 1 {
		return vs[0], true
	}
	return "", false
}

// committedIn reports whether f is only a commitment in a leaf of kind k.
func (f field) committedIn(k ledgerv1.EntryKind) bool {
	switch f.committed {
	case always:
		return true
	case inAccess:
		return k == ledgerv1.EntryKind_ENTRY_KIND_ACCESS
	case inRecord:
		return k == ledgerv1.EntryKind_ENTRY_KIND_ACCESS || k == ledgerv1.EntryKind_ENTRY_KIND_ROLE_CHANGE
	}
	return false
}

func str(num int32, name string, p func(*ledgerv1.Entry) *string) field {
	return field{num: num, name: name, one: p,
		get: func(e *ledgerv1.Entry) ([]string, error) {
			if v := *p(e); v != "" {
				return []string{v}, nil
			}
			return nil, nil
		},
		set: func(e *ledgerv1.Entry, v string) error { *p(e) = v; return nil },
	}
}

func personal(num int32, name string, in committed, p func(*ledgerv1.Entry) *string) field {
	f := str(num, name, p)
	f.committed = in
	return f
}

func stamp(num int32, name string, p func(*ledgerv1.Entry) **timestamppb.Timestamp) field {
	return field{num: num, name: name,
		get: func(e *ledgerv1.Entry) ([]string, error) {
			ts := *p(e)
			if ts == nil {
				return nil, nil
			}
			if err := ts.CheckValid(); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			return []string{formatTime(ts.AsTime())}, nil
		},
		set: func(e *ledgerv1.Entry, v string) error {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return err
			}
			*p(e) = timestamppb.New(t)
			return nil
		},
	}
}

// formatTime is RFC 3339 in UTC with trailing zeros of the fraction trimmed.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// fields lists every Entry field that goes into a leaf, in field-number order (the server-set
// recorded_by and verifier_key, then a publication's document_sha256, the last). The
// other output-only fields (name, index, leaf_hash, redacted, commit_time, tree_size, salts) are
// deliberately absent; the log and the index are
// header lines. TestFieldsCoverEntry fails when the proto gains a field not decided on here.
var fields = withKeys([]field{
	{num: 3, name: "kind",
		get: func(e *ledgerv1.Entry) ([]string, error) {
			k := e.GetKind()
			if k == ledgerv1.EntryKind_ENTRY_KIND_UNSPECIFIED {
				return nil, errors.New("kind is required")
			}
			n, ok := ledgerv1.EntryKind_name[int32(k)]
			if !ok {
				return nil, fmt.Errorf("unknown kind %d", k)
			}
			return []string{strings.TrimPrefix(n, "ENTRY_KIND_")}, nil
		},
		set: func(e *ledgerv1.Entry, v string) error {
			k, ok := ledgerv1.EntryKind_value["ENTRY_KIND_"+v]
			if !ok || k == 0 {
				return fmt.Errorf("unknown kind %q", v)
			}
			e.Kind = ledgerv1.EntryKind(k)
			return nil
		}},
	stamp(4, "occur_time", func(e *ledgerv1.Entry) **timestamppb.Timestamp { return &e.OccurTime }),
	str(5, "file_name", func(e *ledgerv1.Entry) *string { return &e.FileName }),
	str(6, "file_format", func(e *ledgerv1.Entry) *string { return &e.FileFormat }),
	str(7, "handler", func(e *ledgerv1.Entry) *string { return &e.Handler }),
	// An ACCESS entry's purpose is a download's reason (S-8-2), which may name a person.
	personal(8, "purpose", inAccess, func(e *ledgerv1.Entry) *string { return &e.Purpose }),
	str(9, "counterparty", func(e *ledgerv1.Entry) *string { return &e.Counterparty }),
	personal(10, "counterparty_officer", always, func(e *ledgerv1.Entry) *string { return &e.CounterpartyOfficer }),
	personal(11, "requester_name", always, func(e *ledgerv1.Entry) *string { return &e.RequesterName }),
	personal(12, "requester_contact", always, func(e *ledgerv1.Entry) *string { return &e.RequesterContact }),
	str(13, "legal_basis", func(e *ledgerv1.Entry) *string { return &e.LegalBasis }),
	str(14, "form", func(e *ledgerv1.Entry) *string { return &e.Form }),
	str(15, "period", func(e *ledgerv1.Entry) *string { return &e.Period }),
	str(16, "destruction_due_date", func(e *ledgerv1.Entry) *string { return &e.DestructionDueDate }),
	{num: 17, name: "items",
		get: func(e *ledgerv1.Entry) ([]string, error) {
			for i, it := range e.GetItems() {
				if it == "" {
					// An empty item would vanish from the leaf and not round-trip.
					return nil, fmt.Errorf("items[%d] is empty", i)
				}
			}
			return e.GetItems(), nil
		},
		set: func(e *ledgerv1.Entry, v string) error { e.Items = append(e.Items, v); return nil }},
	str(18, "safety_requests", func(e *ledgerv1.Entry) *string { return &e.SafetyRequests }),
	str(19, "refusal_reason", func(e *ledgerv1.Entry) *string { return &e.RefusalReason }),
	str(20, "copy_given", func(e *ledgerv1.Entry) *string { return &e.CopyGiven }),
	str(21, "destruction_method", func(e *ledgerv1.Entry) *string { return &e.DestructionMethod }),
	str(22, "auto_delete_cycle", func(e *ledgerv1.Entry) *string { return &e.AutoDeleteCycle }),
	stamp(23, "auto_delete_checked_time", func(e *ledgerv1.Entry) **timestamppb.Timestamp { return &e.AutoDeleteCheckedTime }),
	// S-2-3, committed in an ACCESS leaf; its occur_time and system (file_name) stay in clear,
	// since the record's period is computed from them (S-8-1).
	personal(24, "actor", inRecord, func(e *ledgerv1.Entry) *string { return &e.Actor }),
	personal(25, "remote_addr", inAccess, func(e *ledgerv1.Entry) *string { return &e.RemoteAddr }),
	personal(26, "subject", inRecord, func(e *ledgerv1.Entry) *string { return &e.Subject }),
	personal(27, "action", inAccess, func(e *ledgerv1.Entry) *string { return &e.Action }),
	str(28, "request", func(e *ledgerv1.Entry) *string { return &e.Request }),
	str(29, "plan", func(e *ledgerv1.Entry) *string { return &e.Plan }),
	{num: 30, name: "follows",
		get: func(e *ledgerv1.Entry) ([]string, error) {
			if e.Follows == nil {
				return nil, nil
			}
			return []string{strconv.FormatInt(e.GetFollows(), 10)}, nil
		},
		set: func(e *ledgerv1.Entry, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return err
			}
			e.Follows = &n
			return nil
		}},
	{num: 31, name: "amendment_kind",
		get: func(e *ledgerv1.Entry) ([]string, error) {
			k := e.GetAmendmentKind()
			if k == ledgerv1.AmendmentKind_AMENDMENT_KIND_UNSPECIFIED {
				return nil, nil
			}
			n, ok := ledgerv1.AmendmentKind_name[int32(k)]
			if !ok {
				return nil, fmt.Errorf("unknown amendment_kind %d", k)
			}
			return []string{strings.TrimPrefix(n, "AMENDMENT_KIND_")}, nil
		},
		set: func(e *ledgerv1.Entry, v string) error {
			k, ok := ledgerv1.AmendmentKind_value["AMENDMENT_KIND_"+v]
			if !ok || k == 0 {
				return fmt.Errorf("unknown amendment_kind %q", v)
			}
			e.AmendmentKind = ledgerv1.AmendmentKind(k)
			return nil
		}},
	str(32, "note", func(e *ledgerv1.Entry) *string { return &e.Note }),
	// Set by the server from the caller's token, never from the request (S-8-3).
	str(33, "recorded_by", func(e *ledgerv1.Entry) *string { return &e.RecordedBy }),
	// LEDGER_KEY only, written by the server (RotateKey).
	str(34, "verifier_key", func(e *ledgerv1.Entry) *string { return &e.VerifierKey }),
	// PUBLICATION only: the SHA-256 of the published document.
	str(35, "document_sha256", func(e *ledgerv1.Entry) *string { return &e.DocumentSha256 }),
})

// leafKey is what a line's key says: which field, and whether as a commitment.
type leafKey struct {
	f          field
	commitment bool
}

var fieldsByKey = func() map[string]leafKey {
	m := make(map[string]leafKey, len(fields)+8)
	for _, f := range fields {
		if f.committed != always {
			m[f.key] = leafKey{f: f}
		}
		if f.committed != inClear {
			m[f.ckey] = leafKey{f: f, commitment: true}
		}
	}
	return m
}()

// Personal returns the proto names of the personal fields of an entry of kind k: in its leaf
// only as salted commitments, their values kept encrypted beside it (pkg/seal) until redacted.
func Personal(k ledgerv1.EntryKind) []string {
	var out []string
	for _, f := range fields {
		if f.committedIn(k) {
			out = append(out, f.name)
		}
	}
	return out
}

// Erase empties the personal fields of e (Personal(e.Kind)) and their salts: what a reader sees
// of a redacted entry. The leaf of an ACCESS entry written before its fields were committed
// holds them in clear; a destroyed record is served without them all the same.
func Erase(e *ledgerv1.Entry) {
	for _, f := range fields {
		if f.committedIn(e.GetKind()) {
			_ = f.set(e, "")
		}
	}
	e.Salts = nil
}

// personalField is the field name (proto or leaf spelling) names, when some kind commits to it.
func personalField(name string) (field, bool) {
	name = strings.ReplaceAll(name, "-", "_")
	for _, f := range fields {
		if f.committed != inClear && f.name == name {
			return f, true
		}
	}
	return field{}, false
}

// appendEscaped appends v with the leaf's three escapes: '\' as "\\", LF as "\n", CR as "\r".
func appendEscaped(b []byte, v string) []byte {
	if !strings.ContainsAny(v, "\\\n\r") {
		return append(b, v...)
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, c)
		}
	}
	return b
}

func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", errors.New("dangling backslash")
		}
		i++
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			return "", fmt.Errorf(`unknown escape \%c`, s[i])
		}
	}
	return b.String(), nil
}

func checkValue(key, v string) error {
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s is not valid UTF-8", key)
	}
	if strings.IndexByte(v, 0) >= 0 {
		return fmt.Errorf("%s contains a NUL byte", key)
	}
	return nil
}

func checkLog(log string) error {
	p := strings.Split(log, "/")
	if len(p) != 4 || p[0] != "tenants" || p[2] != "units" || p[1] == "" || p[3] == "" ||
		strings.ContainsFunc(log, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("log %q is not tenants/{tenant}/units/{unit}", log)
	}
	return nil
}

func commitment(salt []byte, value string) []byte {
	return appendCommitment(sha256.New(), nil, salt, value)
}

// appendCommitment appends sha256(salt || 0x00 || value) to dst, with h, which it resets.
func appendCommitment(h hash.Hash, dst, salt []byte, value string) []byte {
	h.Reset()
	h.Write(salt)
	h.Write([]byte{0})
	h.Write([]byte(value))
	return h.Sum(dst)
}

// write renders the leaf. The values of the fields committed to are never read from e: their
// lines come from commitments, so that DecodeLeaf can re-render a leaf it only knows the
// commitments of. A field of an ACCESS or ROLE_CHANGE entry that has no commitment is written in
// clear (a leaf of the earlier form).
func write(log string, index int64, e *ledgerv1.Entry, commitment func(name string) ([]byte, bool)) ([]byte, error) {
	if err := checkLog(log); err != nil {
		return nil, err
	}
	if index < 0 {
		return nil, fmt.Errorf("index %d is negative", index)
	}
	if e.GetOccurTime() == nil {
		return nil, errors.New("occur_time is required")
	}
	b := make([]byte, 0, 512)
	line := func(k, v string) {
		b = append(b, k...)
		b = append(b, ": "...)
		b = appendEscaped(b, v)
		b = append(b, '\n')
	}
	b = append(b, Magic+"\n"...)
	line("log", log)
	line("index", strconv.FormatInt(index, 10))
	for _, f := range fields {
		if f.committed != inClear {
			if c, ok := lookup(commitment, f.name); ok {
				b = append(b, f.ckey...)
				b = append(b, ": "...)
				b = base64.StdEncoding.AppendEncode(b, c)
				b = append(b, '\n')
				continue
			}
			if f.committed == always {
				continue
			}
		}
		if f.one != nil { // most lines: one string, read without a slice
			if v := *f.one(e); v != "" {
				if err := checkValue(f.name, v); err != nil {
					return nil, err
				}
				line(f.key, v)
			}
			continue
		}
		vs, err := f.get(e)
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			if err := checkValue(f.name, v); err != nil {
				return nil, err
			}
			line(f.key, v)
		}
	}
	return b, nil
}

// lookup is commitment(name), or none when commitment is nil.
func lookup(commitment func(string) ([]byte, bool), name string) ([]byte, bool) {
	if commitment == nil {
		return nil, false
	}
	return commitment(name)
}

// EncodeLeaf renders entry e at index of log as its canonical leaf bytes (the format documented
// on the Leaf message of ledger.proto). Each non-empty personal value of e's kind (Personal) is
// replaced by a commitment under a fresh SaltSize-byte salt from salt (crypto/rand when nil);
// the values and salts come back in the Sealed, to be kept encrypted beside the leaf. The same
// input and salts give the same bytes. Output-only fields of e are ignored, except recorded_by:
// the server sets it to the appending caller's subject, and it is the leaf's last line
// ("recorded-by: {subject}"). EncodeLeaf checks only what the format needs (kind, occur_time,
// UTF-8, no NUL, no empty item); Validate checks the law. It is Commit then Committed.Leaf.
func EncodeLeaf(log string, index int64, e *ledgerv1.Entry, salt func() []byte) ([]byte, *Sealed, error) {
	c, err := Commit(e, salt)
	if err != nil {
		return nil, nil, err
	}
	leaf, err := c.Leaf(log, index)
	if err != nil {
		return nil, nil, err
	}
	return leaf, c.Sealed, nil
}

// Committed is an entry whose personal values are committed to, before its place in a log is
// known: the salts and hashes of EncodeLeaf, made once, outside the log's lock, for Leaf to
// render at whatever index the log gives.
type Committed struct {
	e *ledgerv1.Entry
	// names[i] is the proto name of the field whose commitment is sums[i*sha256.Size:][:sha256.Size].
	names [maxPersonal]string
	sums  []byte
	// Sealed holds the values and salts committed to, to be kept encrypted beside the leaf.
	Sealed *Sealed
}

// Commit commits to the personal values of e (see EncodeLeaf). e must not change until the
// last call of Leaf.
func Commit(e *ledgerv1.Entry, salt func() []byte) (*Committed, error) {
	if e == nil {
		return nil, errors.New("entry: nil entry")
	}
	var (
		fs   [maxPersonal]field
		vals [maxPersonal]string
		n    int
	)
	for _, f := range fields {
		if !f.committedIn(e.GetKind()) {
			continue
		}
		if v, ok := f.value(e); ok {
			if err := checkValue(f.name, v); err != nil {
				return nil, fmt.Errorf("entry: %w", err)
			}
			fs[n], vals[n] = f, v
			n++
		}
	}
	// One read of the system's random source for all the salts, one array for the hashes.
	var salts []byte
	if salt == nil {
		salts = make([]byte, n*SaltSize)
		rand.Read(salts) // never fails (crypto/rand, Go 1.24+)
	}
	sums := make([]byte, 0, n*sha256.Size)
	c := &Committed{e: e, Sealed: &Sealed{Fields: make([]SealedField, n)}}
	h := sha256.New()
	for i, f := range fs[:n] {
		var s []byte
		if salt == nil {
			s = salts[i*SaltSize : (i+1)*SaltSize : (i+1)*SaltSize]
		} else if s = bytes.Clone(salt()); len(s) != SaltSize {
			return nil, fmt.Errorf("entry: salt is %d bytes, want %d", len(s), SaltSize)
		}
		sums = appendCommitment(h, sums, s, vals[i])
		c.names[i] = f.name
		c.Sealed.Fields[i] = SealedField{Field: f.name, Value: vals[i], Salt: s}
	}
	c.sums = sums
	return c, nil
}

// commitment is the commitment to the field of proto name name, if the entry has one.
func (c *Committed) commitment(name string) ([]byte, bool) {
	for i, n := range c.names[:len(c.sums)/sha256.Size] {
		if n == name {
			return c.sums[i*sha256.Size : (i+1)*sha256.Size : (i+1)*sha256.Size], true
		}
	}
	return nil, false
}

// Leaf renders the committed entry at index of log.
func (c *Committed) Leaf(log string, index int64) ([]byte, error) {
	leaf, err := write(log, index, c.e, c.commitment)
	if err != nil {
		return nil, fmt.Errorf("entry: %w", err)
	}
	return leaf, nil
}

// DecodeLeaf parses a leaf back into its log, index, fields (recorded_by included, when the leaf
// has the line) and commitments. It accepts only canonical bytes: the parsed leaf must render
// back to exactly the same bytes, so two different byte strings never decode to the same entry.
func DecodeLeaf(leaf []byte) (*Decoded, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("entry: %w: %s", ErrLeaf, fmt.Sprintf(format, args...))
	}
	if !utf8.Valid(leaf) {
		return nil, bad("not UTF-8")
	}
	text := string(leaf)
	if !strings.HasSuffix(text, "\n") {
		return nil, bad("no final newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if lines[0] != Magic {
		return nil, bad("first line is not %q", Magic)
	}
	d := &Decoded{Entry: &ledgerv1.Entry{}, Commitments: map[string][]byte{}}
	for n, ln := range lines[1:] {
		n += 2 // 1-based, after the magic line
		k, raw, ok := strings.Cut(ln, ": ")
		if !ok {
			return nil, bad("line %d is not \"key: value\"", n)
		}
		v, err := unescape(raw)
		if err != nil {
			return nil, bad("line %d: %v", n, err)
		}
		switch {
		case n == 2:
			if k != "log" {
				return nil, bad("line 2 is not log")
			}
			d.Log = v
		case n == 3:
			if k != "index" {
				return nil, bad("line 3 is not index")
			}
			if d.Index, err = strconv.ParseInt(v, 10, 64); err != nil {
				return nil, bad("index: %v", err)
			}
		default:
			lk, ok := fieldsByKey[k]
			if !ok {
				return nil, bad("line %d: unknown key %q", n, k)
			}
			f := lk.f
			if lk.commitment {
				if !f.committedIn(d.Entry.GetKind()) {
					return nil, bad("line %d: a %s leaf has %s in clear, not as a commitment", n, KindName(d.Entry.GetKind()), f.key)
				}
				c, err := base64.StdEncoding.DecodeString(v)
				if err != nil || len(c) != sha256.Size {
					return nil, bad("line %d: %s is not a base64 sha256", n, k)
				}
				d.Commitments[f.name] = c
				continue
			}
			if f.committed != always && f.committedIn(d.Entry.GetKind()) {
				d.clear = true
			}
			if err := f.set(d.Entry, v); err != nil {
				return nil, bad("line %d: %s: %v", n, k, err)
			}
		}
	}
	if d.clear && len(d.Commitments) > 0 {
		// Either form is canonical (Personal), a mix of the two is not.
		return nil, bad("a leaf of kind %s has some of its personal fields in clear and others as commitments", KindName(d.Entry.GetKind()))
	}
	again, err := write(d.Log, d.Index, d.Entry, func(name string) ([]byte, bool) {
		c, ok := d.Commitments[name]
		return c, ok
	})
	if err != nil {
		return nil, bad("%v", err)
	}
	if !bytes.Equal(again, leaf) {
		// Order, duplicates, time or number spellings, escapes: anything not canonical.
		return nil, bad("not in canonical form")
	}
	return d, nil
}

// Verify reports whether value, with salt, is the value committed to for the personal field in
// leaf (field by proto name, "requester_name", or leaf spelling, "requester-name"). It is how a
// disclosed value is checked against the tamper-evident ledger.
func Verify(leaf []byte, field, value string, salt []byte) bool {
	d, err := DecodeLeaf(leaf)
	if err != nil {
		return false
	}
	return d.verify(field, value, salt)
}

func (d *Decoded) verify(name, value string, salt []byte) bool {
	f, ok := personalField(name)
	if !ok || len(salt) != SaltSize {
		return false
	}
	c, ok := d.Commitments[f.name]
	return ok && subtle.ConstantTimeCompare(c, commitment(salt, value)) == 1
}
