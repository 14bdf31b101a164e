package apierr_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
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
