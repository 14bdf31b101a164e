package server

import (
	"context"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/pipa-kr/pipa/pkg/apierr"
)

// rejectNUL refuses requests with a NUL character in any string: PostgreSQL cannot store one
// in text or jsonb, so without this a stray byte would become an internal error instead of a
// field violation.
func rejectNUL(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if m, ok := req.(proto.Message); ok {
		if field := findNUL(m.ProtoReflect()); field != "" {
			return nil, apierr.Invalid(apierr.Violation{Field: field, Rule: "format", Description: "must not contain NUL characters"})
		}
	}
	return h(ctx, req)
}

// findNUL returns the path of the first string field holding a NUL, or "". The path is built only
// for a field that holds one: every request passes through here, and almost none has a NUL.
func findNUL(m protoreflect.Message) string {
	var found string
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				if sub, ok := nulIn(fd, l.Get(i)); ok {
					found = string(fd.Name()) + "[" + strconv.Itoa(i) + "]" + sub
					break
				}
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if strings.IndexByte(k.String(), 0) >= 0 {
					found = string(fd.Name())
				} else if sub, ok := nulIn(fd.MapValue(), mv); ok {
					found = string(fd.Name()) + "[" + k.String() + "]" + sub
				}
				return found == ""
			})
		default:
			if sub, ok := nulIn(fd, v); ok {
				found = string(fd.Name()) + sub
			}
		}
		return found == ""
	})
	return found
}

// nulIn reports whether v, of field fd, holds a NUL, and where below fd (".name…" in a message).
func nulIn(fd protoreflect.FieldDescriptor, v protoreflect.Value) (string, bool) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return "", strings.IndexByte(v.String(), 0) >= 0
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if sub := findNUL(v.Message()); sub != "" {
			return "." + sub, true
		}
	}
	return "", false
}
