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

type oidcVerifier struct {
	verifier   *oidc.IDTokenVerifier
	rolesClaim string
}

// NewOIDCVerifier discovers issuerURL's OpenID configuration and returns a verifier for tokens it
// signs for audience. rolesClaim names the claim holding the grants, a JSON array of
// {"role": ..., "scope": ...} objects (DefaultRolesClaim if empty); the identity provider is
// configured to emit it. Signing keys are fetched from the issuer's JWKS and refreshed when a
// token names a key not yet seen.
func NewOIDCVerifier(ctx context.Context, issuerURL, audience, rolesClaim string) (Verifier, error) {
	if audience == "" {
		return nil, errors.New("auth: OIDC audience is required")
	}
	if rolesClaim == "" {
		rolesClaim = DefaultRolesClaim
	}
	provider, err := oidc.NewProvider(ctx, issuerURL)
	if err != nil {
		return nil, fmt.Errorf("auth: OIDC discovery for %s: %w", issuerURL, err)
	}
	return &oidcVerifier{
		verifier: provider.Verifier(&oidc.Config{
			ClientID: audience,
			// go-oidc allows no skew on exp; checking against a clock set back by the leeway does.
			Now: func() time.Time { return time.Now().Add(-leeway) },
		}),
		rolesClaim: rolesClaim,
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
	p, err := newPrincipal(tok.Subject, name, claims[v.rolesClaim])
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return p, nil
}
