package apierr_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipa-kr/pipa/pkg/apierr"
)

// captureLog sends the default logger to a buffer for the test.
func captureLog(t *testing.T) *bytes.Buffer {
	var b bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&b, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	return &b
}

// CodeOf classifies as ToStatus translates, through wrapping, and never logs; ToStatus logs only
// what it answers as a generic Internal.
func TestCodeOf(t *testing.T) {
	log := captureLog(t)
	for _, c := range []struct {
		err  error
		want codes.Code
	}{
		{nil, codes.OK},
		{apierr.NotFound("tenants/a"), codes.NotFound},
		{fmt.Errorf("store: %w", apierr.Precondition("X", "no")), codes.FailedPrecondition},
		{apierr.EtagMismatch("tenants/a"), codes.Aborted},
		{apierr.Violations{{Field: "f", Rule: "required"}}.Err(), codes.InvalidArgument},
		{status.Error(codes.PermissionDenied, "from another service"), codes.PermissionDenied},
		{fmt.Errorf("call: %w", context.DeadlineExceeded), codes.DeadlineExceeded},
		{&pgconn.PgError{Code: "40001"}, codes.Aborted},
		{&pgconn.PgError{Code: "23505"}, codes.AlreadyExists},
		{fmt.Errorf("store: %w", &pgconn.PgError{Code: "57P01"}), codes.Unavailable}, // admin_shutdown
		{&pgconn.PgError{Code: "57P03"}, codes.Unavailable},                          // cannot_connect_now
		{&pgconn.PgError{Code: "08006"}, codes.Unavailable},                          // connection_failure
		{&pgconn.PgError{Code: "53300"}, codes.Unavailable},                          // too_many_connections
		{&pgconn.PgError{Code: "57014"}, codes.DeadlineExceeded},                     // statement_timeout
		{errors.New("disk on fire"), codes.Internal},
	} {
		require.Equal(t, c.want, apierr.CodeOf(c.err), "%v", c.err)
		if c.err != nil {
			require.Equal(t, c.want, status.Code(apierr.ToStatus(c.err)), "%v", c.err)
		}
	}
	require.Equal(t, 1, bytes.Count(log.Bytes(), []byte("internal error")), "only ToStatus of the unknown error logged: %s", log)
}

func TestKindOf(t *testing.T) {
	require.Equal(t, apierr.KindNotFound, apierr.KindOf(fmt.Errorf("x: %w", apierr.NotFound("n"))))
	require.Equal(t, apierr.KindDenied, apierr.KindOf(apierr.Denied("no")))
	require.Zero(t, apierr.KindOf(status.Error(codes.NotFound, "a status is not a domain error")))
}

// Unavailable carries a RetryInfo (the gateway's Retry-After) and a reason to branch on.
func TestUnavailableSaysWhenToRetry(t *testing.T) {
	st := status.Convert(apierr.ToStatus(&pgconn.PgError{Code: "57P01"}))
	require.Equal(t, codes.Unavailable, st.Code())
	var reason string
	var delay time.Duration
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			reason = d.GetReason()
		case *errdetails.RetryInfo:
			delay = d.GetRetryDelay().AsDuration()
		}
	}
	require.Equal(t, "DATABASE_UNAVAILABLE", reason)
	require.Equal(t, apierr.RetryAfter, delay)
	require.False(t, apierr.Unreachable(&pgconn.PgError{Code: "23505"}), "a refused statement is not an outage")
}
