// Package apierr is pipa's error model: domain code and stores return *Error values (or plain
// errors) whose Kind says what went wrong in the domain's terms, never a transport's code; ToStatus,
// the one translation point, turns any error into a gRPC status with BadRequest field violations
// and an ErrorInfo carrying a stable reason and the LAW.md rule id. Raw driver errors never reach
// a client: a serialization failure becomes a retryable Aborted, a database that cannot be
// reached (refused, dropped, shutting down, out of connections) a retryable Unavailable with a
// RetryInfo, a statement timeout DeadlineExceeded, anything unknown a generic Internal. CodeOf
// classifies an error as ToStatus would, without converting or logging it.
package apierr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"
)

// Domain is the ErrorInfo domain of every pipa error.
const Domain = "pipa"

// Violation is one bad field: which field, which rule it breaks, and why in words.
type Violation struct {
	// Field is the request field path, e.g. "site.retention_days".
	Field string
	// Rule is a LAW.md rule id (e.g. "STD-41-2") or a generic rule ("required", "format", "range").
	Rule string
	// Description says what is wrong and what would be right.
	Description string
}

// Kind is what went wrong, in the domain's terms; ToStatus maps each to one gRPC code.
type Kind int

const (
	// KindInvalid: the request itself is wrong, whatever the state (InvalidArgument).
	KindInvalid Kind = iota + 1
	// KindPrecondition: well formed, but the resource's state does not allow it (FailedPrecondition).
	KindPrecondition
	// KindNotFound: the named resource does not exist or is not visible to the caller.
	KindNotFound
	// KindAlreadyExists: a resource with that name exists.
	KindAlreadyExists
	// KindConflict: a concurrent change (an etag mismatch, a serialization failure): read and retry (Aborted).
	KindConflict
	// KindDenied: the caller's roles do not cover the resource (PermissionDenied).
	KindDenied
	// KindDataLoss: stored data failed an integrity check.
	KindDataLoss
	// KindUnauthenticated: the caller presented no usable token (Unauthenticated).
	KindUnauthenticated
	// KindRateLimited: a public endpoint's per-client limit is reached (ResourceExhausted).
	KindRateLimited
	// KindUnavailable: something the call needs (the database) cannot be reached now: retry
	// later (Unavailable, HTTP 503 with Retry-After).
	KindUnavailable
	// KindDeadline: the call's deadline or a statement timeout ran out (DeadlineExceeded).
	KindDeadline
)

var kindCodes = map[Kind]codes.Code{
	KindInvalid: codes.InvalidArgument, KindPrecondition: codes.FailedPrecondition, KindNotFound: codes.NotFound,
	KindAlreadyExists: codes.AlreadyExists, KindConflict: codes.Aborted, KindDenied: codes.PermissionDenied,
	KindDataLoss: codes.DataLoss, KindUnauthenticated: codes.Unauthenticated, KindRateLimited: codes.ResourceExhausted,
	KindUnavailable: codes.Unavailable, KindDeadline: codes.DeadlineExceeded,
}

// RetryAfter is the RetryInfo delay of an Unavailable answer: the gateway's Retry-After.
const RetryAfter = 2 * time.Second

// Error is a domain error.
type Error struct {
	Kind       Kind
	Reason     string // stable, UPPER_SNAKE (e.g. "RETENTION_REASON_REQUIRED")
	Message    string
	Violations []Violation
	Metadata   map[string]string
}

func (e *Error) Error() string {
	if len(e.Violations) == 0 {
		return e.Message
	}
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.Field + ": " + v.Description
	}
	return e.Message + ": " + strings.Join(parts, "; ")
}

// GRPCStatus lets grpc-go and status.FromError see the status directly.
func (e *Error) GRPCStatus() *status.Status {
	st := status.New(kindCodes[e.Kind], e.Error())
	info := &errdetails.ErrorInfo{Reason: e.Reason, Domain: Domain, Metadata: e.Metadata}
	if len(e.Violations) > 0 {
		br := &errdetails.BadRequest{}
		for _, v := range e.Violations {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
				Field:       v.Field,
				Description: v.Description,
				Reason:      v.Rule,
			})
		}
		if withDetails, err := st.WithDetails(info, br); err == nil {
			return withDetails
		}
		return st
	}
	details := []protoadapt.MessageV1{info}
	if e.Kind == KindUnavailable {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(RetryAfter)})
	}
	if withDetails, err := st.WithDetails(details...); err == nil {
		return withDetails
	}
	return st
}

// Violations collects field violations; Err returns nil when there are none.
type Violations []Violation

// Add records a violation of rule on field.
func (vs *Violations) Add(field, rule, format string, args ...any) {
	*vs = append(*vs, Violation{Field: field, Rule: rule, Description: fmt.Sprintf(format, args...)})
}

// Err is an InvalidArgument error holding the violations, or nil.
func (vs Violations) Err() error {
	if len(vs) == 0 {
		return nil
	}
	return Invalid(vs...)
}

// Invalid is an InvalidArgument error: the request itself is wrong, whatever the state.
func Invalid(vs ...Violation) *Error {
	e := &Error{Kind: KindInvalid, Reason: "INVALID_ARGUMENT", Message: "invalid request", Violations: vs}
	if len(vs) == 1 && vs[0].Rule != "" {
		e.Metadata = map[string]string{"rule": vs[0].Rule}
	}
	return e
}

// Precondition is a FailedPrecondition error: the request is well formed but the resource's state
// does not allow it (announcing a version with findings, editing a frozen version).
func Precondition(reason, message string, vs ...Violation) *Error {
	e := &Error{Kind: KindPrecondition, Reason: reason, Message: message, Violations: vs}
	for _, v := range vs {
		if v.Rule != "" {
			e.Metadata = map[string]string{"rule": v.Rule}
			break
		}
	}
	return e
}

// NotFound says the named resource does not exist (or is not visible to the caller).
func NotFound(name string) *Error {
	return &Error{Kind: KindNotFound, Reason: "NOT_FOUND", Message: name + " not found",
		Metadata: map[string]string{"resource": name}}
}

// AlreadyExists says a resource with that name exists.
func AlreadyExists(name string) *Error {
	return &Error{Kind: KindAlreadyExists, Reason: "ALREADY_EXISTS", Message: name + " already exists",
		Metadata: map[string]string{"resource": name}}
}

// EtagMismatch says the resource changed since the caller read it (AIP-154).
func EtagMismatch(name string) *Error {
	return &Error{Kind: KindConflict, Reason: "ETAG_MISMATCH",
		Message:  name + " was changed by someone else; read it again and retry",
		Metadata: map[string]string{"resource": name}}
}

// Denied says the caller's roles do not cover the resource.
func Denied(message string) *Error {
	return &Error{Kind: KindDenied, Reason: "PERMISSION_DENIED", Message: message}
}

// Unauthenticated says the caller presented no usable token; reason says why (TOKEN_MISSING,
// TOKEN_MALFORMED, TOKEN_EXPIRED, TOKEN_INVALID).
func Unauthenticated(reason, message string) *Error {
	return &Error{Kind: KindUnauthenticated, Reason: reason, Message: message}
}

// RateLimited says a public endpoint's per-client limit is reached: retry later.
func RateLimited(message string) *Error {
	return &Error{Kind: KindRateLimited, Reason: "RATE_LIMITED", Message: message}
}

// DataLoss says stored data failed an integrity check, so it is not served.
func DataLoss(reason, message string) *Error {
	return &Error{Kind: KindDataLoss, Reason: reason, Message: message}
}

// KindOf is the Kind of a domain error in err's chain, 0 for any other error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

// ToStatus translates any error into a gRPC status error. It is the only place where errors
// are mapped to codes; an error it does not know is logged and answered as a generic Internal.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	st, known := translate(err)
	if !known {
		slog.Error("internal error", "err", err)
	}
	return st.Err()
}

// CodeOf is the code ToStatus gives err (OK for nil), found without converting or logging it:
// for callers that branch on what kind of failure a store or another service answered.
func CodeOf(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	st, _ := translate(err)
	return st.Code()
}

// MessageOf is the message ToStatus gives err, found without converting or logging it.
func MessageOf(err error) string {
	st, _ := translate(err)
	return st.Message()
}

// translate maps err to its status; known is false for an error no rule covers (Internal).
func translate(err error) (st *status.Status, known bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.GRPCStatus(), true
	}
	if st, ok := status.FromError(err); ok {
		return st, true
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.New(codes.Canceled, "request canceled"), true
	case errors.Is(err, context.DeadlineExceeded):
		return status.New(codes.DeadlineExceeded, "deadline exceeded"), true
	case Unreachable(err):
		return unavailable.GRPCStatus(), true
	}
	var pgErr interface{ SQLState() string } // a driver's error, as pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.SQLState() {
		case "57014": // query_canceled: the pool's statement_timeout
			return (&Error{Kind: KindDeadline, Reason: "STATEMENT_TIMEOUT",
				Message: "the database did not answer in time; please retry"}).GRPCStatus(), true
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return (&Error{Kind: KindConflict, Reason: "CONCURRENT_CHANGE",
				Message: "the operation conflicted with a concurrent transaction; please retry"}).GRPCStatus(), true
		case "23505": // unique_violation
			return (&Error{Kind: KindAlreadyExists, Reason: "ALREADY_EXISTS",
				Message: "a resource with that id already exists"}).GRPCStatus(), true
		}
	}
	return status.New(codes.Internal, "internal error"), false
}

var unavailable = &Error{Kind: KindUnavailable, Reason: "DATABASE_UNAVAILABLE",
	Message: "the database cannot be reached now; nothing was changed by this call unless it says otherwise: please retry"}

// Unreachable reports whether err says the database could not be reached or dropped the
// connection, rather than refusing the statement: a connection that could not be made or was
// lost before the statement was sent (pgconn.SafeToRetry), a pool closed or whose connect failed,
// a network error, or the server shutting down, starting, or out of connections (SQLSTATE class
// 08, 57P01-57P03, 53300).
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	var pgErr *pgconn.PgError
	switch {
	case pgconn.SafeToRetry(err), errors.As(err, &connErr), errors.Is(err, puddle.ErrClosedPool),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.As(err, &pgErr):
		c := pgErr.Code
		return strings.HasPrefix(c, "08") || c == "57P01" || c == "57P02" || c == "57P03" || c == "53300"
	case errors.As(err, &netErr):
		return true
	}
	return false
}
