package server

import (
	"context"
	"fmt"
	"strconv"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/pipa-kr/pipa/pkg/apierr"
)

// rejectControl refuses requests with a control character in any string (forbidden): PostgreSQL
// cannot store a NUL in text or jsonb, and the others are invisible text that pipa would publish
// (a name bound into a public page, an export cell) as what the body wrote.
func rejectControl(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if m, ok := req.(proto.Message); ok {
		if field, r := findControl(m.ProtoReflect()); field != "" {
			return nil, apierr.Invalid(apierr.Violation{Field: field, Rule: "format", Description: describeControl(r)})
		}
	}
	return h(ctx, req)
}

func describeControl(r rune) string {
	if r == 0 {
		return "must not contain NUL characters"
	}
	return fmt.Sprintf("must not contain control characters (U+%04X); tabs and line breaks are the only ones text may hold", r)
}

// forbidden returns the first character of s that no string field may hold, or -1: the C0 controls
// but tab, line feed and carriage return, DEL, the C1 controls, and Unicode's bidirectional
// embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), which reorder the text around
// them: an officer's name with one would print the sentence it is bound into backwards on the
// public page. Every request passes through here: one table look-up a byte, and a closer look
// only at the bytes that start one of these.
func forbidden(s string) rune {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !leads[c] {
			continue
		}
		switch {
		case c < 0x80:
			return rune(c)
		case c == 0xc2 && i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] < 0xa0: // U+0080–U+009F
			return rune(s[i+1])
		case c == 0xe2 && i+2 < len(s) &&
			(s[i+1] == 0x80 && s[i+2] >= 0xaa && s[i+2] <= 0xae || s[i+1] == 0x81 && s[i+2] >= 0xa6 && s[i+2] <= 0xa9):
			r, _ := utf8.DecodeRuneInString(s[i:])
			return r
		}
	}
	return -1
}

// leads marks the bytes forbidden looks at: the C0 controls but tab, LF and CR, DEL, and the lead
// bytes of U+0080–U+009F (0xC2) and of U+2000–U+207F (0xE2).
var leads = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = c != '\t' && c != '\n' && c != '\r'
	}
	t[0x7f], t[0xc2], t[0xe2] = true, true, true
	return t
}()

// findControl returns the path of the first string field holding a forbidden character and that
// character, or "". The path is built only for a field that holds one.
func findControl(m protoreflect.Message) (string, rune) {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !m.Has(fd) {
			continue
		}
		v := m.Get(fd)
		switch {
		case fd.IsList():
			l := v.List()
			for j := 0; j < l.Len(); j++ {
				if sub, r, ok := controlIn(fd, l.Get(j)); ok {
					return string(fd.Name()) + "[" + strconv.Itoa(j) + "]" + sub, r
				}
			}
		case fd.IsMap():
			var found string
			var bad rune
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if r := forbidden(k.String()); r >= 0 {
					found, bad = string(fd.Name()), r
				} else if sub, r, ok := controlIn(fd.MapValue(), mv); ok {
					found, bad = string(fd.Name())+"["+k.String()+"]"+sub, r
				}
				return found == ""
			})
			if found != "" {
				return found, bad
			}
		default:
			if sub, r, ok := controlIn(fd, v); ok {
				return string(fd.Name()) + sub, r
			}
		}
	}
	return "", 0
}

// controlIn reports whether v, of field fd, holds a forbidden character, which, and where below
// fd (".name…" in a message).
func controlIn(fd protoreflect.FieldDescriptor, v protoreflect.Value) (string, rune, bool) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		r := forbidden(v.String())
		return "", r, r >= 0
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if sub, r := findControl(v.Message()); sub != "" {
			return "." + sub, r, true
		}
	}
	return "", 0, false
}
