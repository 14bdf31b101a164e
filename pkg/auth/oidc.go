package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// DefaultRolesClaim is the claim that carries a token's grants unless configured otherwise.
const DefaultRolesClaim = "pipa_roles"

// OIDCOptions configure NewOIDCVerifier.
type OIDCOptions struct {
	// Issuer is the OpenID Provider's issuer URL, whose discovery document names its JWKS.
	Issuer string
	// Audience is the aud a token must hold (the client id pipa is registered under).
	Audience string
	// Claims say where the token's roles are and what they grant; DefaultClaims when empty.
	Claims Claims
	// Now is the clock tokens expire by; nil is time.Now.
	Now func() time.Time
}

type oidcVerifier struct {
	verifier *oidc.IDTokenVerifier
	claims   Claims
}

// NewOIDCVerifier discovers o.Issuer's OpenID configuration and returns a verifier for the JWTs
// it signs for o.Audience. Signing keys come from the provider's JWKS, fetched again when a token
// names a key not yet seen, so a provider that rotates its keys needs no restart here.
func NewOIDCVerifier(ctx context.Context, o OIDCOptions) (Verifier, error) {
	if o.Audience == "" {
		return nil, errors.New("auth: OIDC audience is required")
	}
	if len(o.Claims.Paths) == 0 {
		o.Claims.Paths = DefaultClaims.Paths
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	provider, err := oidc.NewProvider(ctx, o.Issuer)
	if err != nil {
		return nil, fmt.Errorf("auth: OIDC discovery for %s: %w", o.Issuer, err)
	}
	return &oidcVerifier{
		verifier: provider.Verifier(&oidc.Config{
			ClientID: o.Audience,
			// go-oidc allows no skew on exp; checking against a clock set back by the leeway does.
			Now: func() time.Time { return now().Add(-leeway) },
		}),
		claims: o.Claims,
	}, nil
}

func (v *oidcVerifier) Verify(ctx context.Context, raw string) (*Principal, error) {
	tok, err := v.verifier.Verify(ctx, raw)
	if _, expired := errors.AsType[*oidc.TokenExpiredError](err); expired {
		return nil, fmt.Errorf("auth: %w", ErrTokenExpired)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	var claims map[string]json.RawMessage
	if err := tok.Claims(&claims); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	var name string
	if rawName, ok := claims["name"]; ok {
		if err := json.Unmarshal(rawName, &name); err != nil {
			return nil, fmt.Errorf("auth: name claim: %w", err)
		}
	}
	grants, err := v.claims.Grants(claims)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	p, err := newPrincipal(tok.Issuer, tok.Subject, name, grants)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return p, nil
}
