package auth

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/pipa-kr/pipa/pkg/apierr"
)

// UnaryServerInterceptor authenticates every call and puts its Principal in the context.
// Methods for which public returns true (published policies, submitting a request, checking its
// status: ARCHITECTURE.md, "Identity and tenancy") may be called without a token; a token that is
// present is still checked, so a signed-in officer is recognised there too. public may be nil.
func UnaryServerInterceptor(v Verifier, public func(fullMethod string) bool) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := authenticate(ctx, v, public != nil && public(info.FullMethod))
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor is the streaming twin of UnaryServerInterceptor.
func StreamServerInterceptor(v Verifier, public func(fullMethod string) bool) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := authenticate(ss.Context(), v, public != nil && public(info.FullMethod))
		if err != nil {
			return err
		}
		return handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
	}
}

type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }

// authenticate returns ctx with the caller's principal. Its errors are deliberately terse: they
// reach an unauthenticated caller, and must never echo the token.
func authenticate(ctx context.Context, v Verifier, public bool) (context.Context, error) {
	values := metadata.ValueFromIncomingContext(ctx, "authorization")
	switch {
	case len(values) == 0:
		if public {
			return ctx, nil
		}
		return nil, apierr.Unauthenticated("TOKEN_MISSING", "missing bearer token")
	case len(values) > 1:
		return nil, apierr.Unauthenticated("TOKEN_MALFORMED", "more than one authorization header")
	}
	// RFC 6750 §2.1; the scheme name is case-insensitive (RFC 9110 §11.1).
	scheme, raw, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(raw) == "" {
		return nil, apierr.Unauthenticated("TOKEN_MALFORMED", `authorization must be "Bearer <token>"`)
	}
	p, err := v.Verify(ctx, strings.TrimSpace(raw))
	if errors.Is(err, ErrTokenExpired) {
		return nil, apierr.Unauthenticated("TOKEN_EXPIRED", "bearer token expired")
	}
	if err != nil {
		return nil, apierr.Unauthenticated("TOKEN_INVALID", "invalid bearer token")
	}
	return NewContext(ctx, p), nil
}

// PerRPCToken attaches "authorization: Bearer <token>" to every outgoing call, asking token for
// the current one each time (see DevServiceToken). It does not require transport security because
// in-cluster traffic between pipa services may be plain.
func PerRPCToken(token func() (string, error)) credentials.PerRPCCredentials {
	return perRPCToken(token)
}

type perRPCToken func() (string, error)

func (t perRPCToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	tok, err := t()
	if err != nil {
		return nil, err
	}
	return map[string]string{"authorization": "Bearer " + tok}, nil
}

func (perRPCToken) RequireTransportSecurity() bool { return false }
