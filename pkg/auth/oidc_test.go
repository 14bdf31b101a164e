package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// issuer is an OIDC issuer on a loopback HTTP server, a discovery document and a JWKS with one
// RSA key, that signs whatever claims a test asks for with golang-jwt: the tokens a real provider
// would never issue (another audience, another issuer, malformed grants), which pipa must refuse.
// services/pipa's TestOpenIDProvider runs a certified provider (zitadel/oidc's op) for the rest.
type issuer struct {
	srv *httptest.Server
	key *rsa.PrivateKey
	kid string
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	iss := &issuer{key: key, kid: "k1"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{
			"issuer":                                iss.srv.URL,
			"authorization_endpoint":                iss.srv.URL + "/authorize",
			"token_endpoint":                        iss.srv.URL + "/token",
			"jwks_uri":                              iss.srv.URL + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		b64 := base64.RawURLEncoding.EncodeToString
		writeJSON(w, map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "use": "sig", "alg": "RS256", "kid": iss.kid,
			"n": b64(key.N.Bytes()),
			"e": b64(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	iss.srv = httptest.NewServer(mux)
	t.Cleanup(iss.srv.Close)
	return iss
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (iss *issuer) mint(t *testing.T, key *rsa.PrivateKey, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = iss.kid
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// rolesClaim is a namespaced claim, as providers such as Auth0 require for custom claims.
const rolesClaim = "https://pipa.go.kr/roles"

func TestOIDCVerifier(t *testing.T) {
	iss := newIssuer(t)
	ctx := context.Background()
	v, err := NewOIDCVerifier(ctx, OIDCOptions{Issuer: iss.srv.URL, Audience: "pipa-api", Claims: Claims{Paths: []string{rolesClaim}}})
	require.NoError(t, err)

	now := time.Now()
	valid := func() jwt.MapClaims {
		return jwt.MapClaims{
			"iss": iss.srv.URL, "sub": "cpo@iksan", "aud": "pipa-api", "name": "이서연",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			rolesClaim: []map[string]string{
				{"role": "cpo", "scope": "tenants/iksan"},
				{"role": "auditor", "scope": "tenants/seongnam/units/audit"},
			},
		}
	}

	p, err := v.Verify(ctx, iss.mint(t, iss.key, valid()))
	require.NoError(t, err)
	require.Equal(t, Principal{
		Issuer:  iss.srv.URL,
		Subject: "cpo@iksan",
		Name:    "이서연",
		Grants:  []Grant{{RoleCPO, "tenants/iksan"}, {RoleAuditor, "tenants/seongnam/units/audit"}},
	}, *p)

	t.Run("expired", func(t *testing.T) {
		c := valid()
		c["exp"] = now.Add(-time.Minute).Unix()
		_, err := v.Verify(ctx, iss.mint(t, iss.key, c))
		require.ErrorIs(t, err, ErrTokenExpired)
	})
	t.Run("expired within leeway is accepted", func(t *testing.T) {
		c := valid()
		c["exp"] = now.Add(-10 * time.Second).Unix()
		_, err := v.Verify(ctx, iss.mint(t, iss.key, c))
		require.NoError(t, err)
	})
	t.Run("wrong key", func(t *testing.T) {
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		_, err = v.Verify(ctx, iss.mint(t, other, valid()))
		require.ErrorContains(t, err, "verify signature")
	})
	for name, mutate := range map[string]func(jwt.MapClaims){
		"wrong audience":  func(c jwt.MapClaims) { c["aud"] = "someone-else" },
		"wrong issuer":    func(c jwt.MapClaims) { c["iss"] = "https://evil.example" },
		"unknown role":    func(c jwt.MapClaims) { c[rolesClaim] = []map[string]string{{"role": "owner", "scope": "*"}} },
		"malformed scope": func(c jwt.MapClaims) { c[rolesClaim] = []map[string]string{{"role": "cpo", "scope": "iksan"}} },
		"no subject":      func(c jwt.MapClaims) { delete(c, "sub") },
		"name not string": func(c jwt.MapClaims) { c["name"] = 7 },
	} {
		t.Run(name, func(t *testing.T) {
			c := valid()
			mutate(c)
			_, err := v.Verify(ctx, iss.mint(t, iss.key, c))
			require.Error(t, err)
			require.NotErrorIs(t, err, ErrTokenExpired)
		})
	}
	t.Run("grants under the default claim name are not read", func(t *testing.T) {
		c := valid()
		c["pipa_roles"] = c[rolesClaim]
		delete(c, rolesClaim)
		p, err := v.Verify(ctx, iss.mint(t, iss.key, c))
		require.NoError(t, err)
		require.Empty(t, p.Grants)
	})
}

func TestNewOIDCVerifierErrors(t *testing.T) {
	iss := newIssuer(t)
	_, err := NewOIDCVerifier(context.Background(), OIDCOptions{Issuer: iss.srv.URL})
	require.ErrorContains(t, err, "audience")
	_, err = NewOIDCVerifier(context.Background(), OIDCOptions{Issuer: iss.srv.URL + "/other", Audience: "pipa"})
	require.ErrorContains(t, err, "discovery")
}
