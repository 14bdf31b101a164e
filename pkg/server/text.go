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
		if field := findNUL(m.ProtoReflect(), ""); field != "" {
			return nil, apierr.Invalid(apierr.Violation{Field: field, Rule: "format", Description: "must not contain NUL characters"})
		}
	}
	return h(ctx, req)
}

// findNUL returns the path of the first string field holding a NUL, or "".
func findNUL(m protoreflect.Message, prefix string) string {
	var found string
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		path := prefix + string(fd.Name())
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len() && found == ""; i++ {
				found = nulIn(fd, l.Get(i), path+"["+strconv.Itoa(i)+"]")
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if strings.Contains(k.String(), "\x00") {
					found = path
				} else {
					found = nulIn(fd.MapValue(), mv, path+"["+k.String()+"]")
				}
				return found == ""
			})
		default:
			found = nulIn(fd, v, path)
		}
		return found == ""
	})
	return found
}

func nulIn(fd protoreflect.FieldDescriptor, v protoreflect.Value, path string) string {
	switch fd.Kind() {
	case protoreflect.StringKind:
		if strings.Contains(v.String(), "\x00") {
			return path
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return findNUL(v.Message(), path+".")
	}
	return ""
}
