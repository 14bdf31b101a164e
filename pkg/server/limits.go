package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pipa-kr/pipa/pkg/apierr"
)

// Limits bound what one HTTP request may take: how long (its deadline, which the gateway passes on
// to the gRPC call and the handlers to PostgreSQL) and how large a body. A zero field is no limit.
type Limits struct {
	// Timeout and PublicTimeout are the deadlines of staff and public requests; PrintTimeout that
	// of a document printed by a browser (routes ending in "/pdf", pkg/pdfprint), which starts a
	// Chromium of its own.
	Timeout, PublicTimeout, PrintTimeout time.Duration
	// Body, PublicBody and ImportBody are the largest bodies of staff requests, public ones and
	// the imports of existing documents (routes ending in ":import"), in bytes.
	Body, PublicBody, ImportBody int64
}

// DefaultLimits: a staff call gets 30 seconds (a PDF two minutes) and a megabyte, an import 16 MiB (a published
// policy with its tables is well under), the public (no token: anyone) 10 seconds and 64 KiB,
// far more than a request form holds.
var DefaultLimits = Limits{Timeout: 30 * time.Second, PublicTimeout: 10 * time.Second, PrintTimeout: 2 * time.Minute,
	Body: 1 << 20, PublicBody: 64 << 10, ImportBody: 16 << 20}

// of is the deadline and body limit of r.
func (l Limits) of(r *http.Request) (time.Duration, int64) {
	switch {
	case isPublicPath(r):
		return l.PublicTimeout, l.PublicBody
	case strings.HasSuffix(r.URL.Path, ":import"):
		return l.Timeout, l.ImportBody
	case strings.HasSuffix(r.URL.Path, "/pdf"):
		return l.PrintTimeout, l.Body
	}
	return l.Timeout, l.Body
}

// limit applies l to every request before it is routed: a body declared larger than its limit is
// refused with 413 before a byte of it is read; one that turns out larger (chunked) is cut at the
// limit, and the gateway answers 413 too (writeError).
func limit(l Limits, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		timeout, max := l.of(r)
		if max > 0 {
			if r.ContentLength > max {
				w.Header().Set("Connection", "close") // the unread body is not drained
				writeStatus(w, http.StatusRequestEntityTooLarge, TooLarge(max).GRPCStatus())
				return
			}
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(w, r.Body, max)
			}
		}
		if timeout > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), timeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(w, r)
	})
}

// TooLarge is the error of a body over its limit of max bytes: the field, the limit and what to do.
func TooLarge(max int64) *apierr.Error {
	return &apierr.Error{Kind: apierr.KindInvalid, Reason: "BODY_TOO_LARGE",
		Message: "the request body is larger than this route takes (" + strconv.FormatInt(max, 10) + " bytes)",
		Violations: []apierr.Violation{{Field: "body", Rule: "size",
			Description: "at most " + strconv.FormatInt(max, 10) + " bytes"}},
		Metadata: map[string]string{"limit": strconv.FormatInt(max, 10)}}
}

// tooLarge is TooLarge for a body that MaxBytesReader cut, or nil.
func tooLarge(err error) *apierr.Error {
	if mb, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return TooLarge(mb.Limit)
	}
	return nil
}

// writeStatus writes st as the gateway writes errors (google.rpc.Status in JSON) with code.
func writeStatus(w http.ResponseWriter, code int, st *status.Status) {
	b, err := protojson.Marshal(st.Proto())
	if err != nil {
		http.Error(w, st.Message(), code)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// WriteStatus answers a hand-written route's failure as the gateway answers a method's: the
// google.rpc.Status of err in JSON, with the HTTP code of its gRPC code.
func WriteStatus(w http.ResponseWriter, err error) {
	st := status.Convert(apierr.ToStatus(err))
	writeStatus(w, runtime.HTTPStatusFromCode(st.Code()), st)
}
