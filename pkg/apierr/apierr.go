// Package apierr is pipa's error model: domain code returns *Error values (or plain errors), and
// ToStatus, the one translation point, turns any error into a gRPC status with BadRequest field
// violations and an ErrorInfo carrying a stable reason and the LAW.md rule id. Raw driver errors
// never reach a client: a serialization failure becomes a retryable Aborted, anything unknown a
// generic Internal.
package apierr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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

// Error is a domain error with the gRPC code it maps to.
type Error struct {
	Code       codes.Code
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
	st := status.New(e.Code, e.Error())
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
	if withDetails, err := st.WithDetails(info); err == nil {
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
	e := &Error{Code: codes.InvalidArgument, Reason: "INVALID_ARGUMENT", Message: "invalid request", Violations: vs}
	if len(vs) == 1 && vs[0].Rule != "" {
		e.Metadata = map[string]string{"rule": vs[0].Rule}
	}
	return e
}

// Precondition is a FailedPrecondition error: the request is well formed but the resource's state
// does not allow it (announcing a version with findings, editing a frozen version).
func Precondition(reason, message string, vs ...Violation) *Error {
	e := &Error{Code: codes.FailedPrecondition, Reason: reason, Message: message, Violations: vs}
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
	return &Error{Code: codes.NotFound, Reason: "NOT_FOUND", Message: name + " not found",
		Metadata: map[string]string{"resource": name}}
}

// AlreadyExists says a resource with that name exists.
func AlreadyExists(name string) *Error {
	return &Error{Code: codes.AlreadyExists, Reason: "ALREADY_EXISTS", Message: name + " already exists",
		Metadata: map[string]string{"resource": name}}
}

// EtagMismatch says the resource changed since the caller read it (AIP-154).
func EtagMismatch(name string) *Error {
	return &Error{Code: codes.Aborted, Reason: "ETAG_MISMATCH",
		Message:  name + " was changed by someone else; read it again and retry",
		Metadata: map[string]string{"resource": name}}
}

// Denied says the caller's roles do not cover the resource.
func Denied(message string) *Error {
	return &Error{Code: codes.PermissionDenied, Reason: "PERMISSION_DENIED", Message: message}
}

// Unauthenticated says the caller presented no usable token; reason says why (TOKEN_MISSING,
// TOKEN_MALFORMED, TOKEN_EXPIRED, TOKEN_INVALID).
func Unauthenticated(reason, message string) *Error {
	return &Error{Code: codes.Unauthenticated, Reason: reason, Message: message}
}

// RateLimited says a public endpoint's per-client limit is reached: retry later.
func RateLimited(message string) *Error {
	return &Error{Code: codes.ResourceExhausted, Reason: "RATE_LIMITED", Message: message}
}

// DataLoss says stored data failed an integrity check, so it is not served.
func DataLoss(reason, message string) *Error {
	return &Error{Code: codes.DataLoss, Reason: reason, Message: message}
}

// ToStatus translates any error into a gRPC status error. It is the only place where errors
// are mapped to codes.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e.GRPCStatus().Err()
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return (&Error{Code: codes.Aborted, Reason: "CONCURRENT_CHANGE",
				Message: "the operation conflicted with a concurrent transaction; please retry"}).GRPCStatus().Err()
		case "23505": // unique_violation
			return (&Error{Code: codes.AlreadyExists, Reason: "ALREADY_EXISTS",
				Message: "a resource with that id already exists"}).GRPCStatus().Err()
		}
	}
	slog.Error("internal error", "err", err)
	return status.Error(codes.Internal, "internal error")
}
