package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/pgtest"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/registry/registrytest"
	"github.com/pipa-kr/pipa/services/registry/tenantfile"
)

// A city's single sign-on as pipa meets it: an OpenID Provider made with zitadel/oidc's op
// package (OpenID Certified), found by discovery, issuing JWT access tokens with the roles in
// Keycloak's place (realm_access.roles) beside roles of its own, mapped to pipa's grants by a role
// map file. It rotates its signing key while pipa runs, and its tokens expire.
func TestOpenIDProvider(t *testing.T) {
	t.Parallel()
	idp := newProvider(t, map[string][]string{
		"importer": {"pipa-platform-admin"},
		"library":  {"offline_access", "pipa-jeongeup-library-handler", "uma_authorization"},
		"visitor":  {"offline_access"},
	})
	dir := t.TempDir()
	roleMap := filepath.Join(dir, "roles.yaml")
	require.NoError(t, os.WriteFile(roleMap, []byte(`
claims: [realm_access.roles]
roles:
  pipa-platform-admin:
    - {role: tenant_admin, scope: "*"}
  pipa-jeongeup-library-handler:
    - {role: handler, scope: tenants/jeongeup/units/library}
`), 0o600))
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }

	pool := pgtest.NewMulti(t, stacktest.Migrations(built))
	c := &config{target: "all", databaseURL: pool.Config().ConnString(), dataKey: filepath.Join(dir, "data-key"),
		oidcIssuer: idp.issuer, oidcAudience: "pipa", oidcRoles: "pipa_roles", oidcRoleMap: roleMap, now: clock}
	gl, hl := stacktest.Listen(t), stacktest.Listen(t)
	p := runServe(t, c, &listeners{grpc: gl, http: hl})
	require.NoError(t, waitServing(context.Background(), gl.Addr().String(), p.done))

	// The seed, loaded with the importer's token over gRPC.
	conn, err := grpc.NewClient(gl.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	f, err := tenantfile.Load(registrytest.Example(t, "jeongeup-library.yaml"))
	require.NoError(t, err)
	require.NoError(t, tenantfile.Import(unitauth.WithToken(context.Background(), idp.token(t, "importer")),
		registryv1.NewRegistryServiceClient(conn), f, time.Now()))

	get := func(path, token string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, "http://"+hl.Addr().String()+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		r, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		return r.StatusCode, stacktest.Body(t, r)
	}
	const sites = "/v1/tenants/jeongeup/units/library/sites"

	// Keycloak-style roles map to a handler of the library, and to nothing else.
	library := idp.token(t, "library")
	code, body := get(sites, library)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "tenants/jeongeup/units/library/sites/central")
	code, body = get("/v1/tenants/jeongeup/ledgerSettings", library)
	require.Equal(t, http.StatusForbidden, code, "a unit's handler is not the tenant's: %s", body)
	code, body = get(sites, idp.token(t, "visitor"))
	require.Equal(t, http.StatusForbidden, code, "the provider's own roles grant nothing: %s", body)

	// The provider rotates its key: the next token is signed by the new one, which pipa fetches
	// from the provider's JWKS as it meets it; a token the old key signs no longer verifies.
	retired := idp.token(t, "library")
	oldKid := idp.rotate(t)
	renewed := idp.token(t, "library")
	require.NotEqual(t, oldKid, kid(t, renewed))
	code, body = get(sites, renewed)
	require.Equal(t, http.StatusOK, code, "no restart needed: %s", body)
	code, body = get(sites, retired)
	require.Equal(t, http.StatusUnauthorized, code, body)
	require.Equal(t, "TOKEN_INVALID", decodeError(t, body).reason())

	// Tokens expire by the provider's exp: pipa's clock past it refuses them, saying so.
	mu.Lock()
	now = now.Add(10 * time.Minute)
	mu.Unlock()
	code, body = get(sites, renewed)
	require.Equal(t, http.StatusUnauthorized, code, body)
	require.Equal(t, "TOKEN_EXPIRED", decodeError(t, body).reason())
}

// provider is an OpenID Provider on a loopback server: zitadel/oidc's op over its example storage,
// with clients that get JWT access tokens by the client credentials grant, carrying each client's
// realm roles, and a signing key the test rotates.
type provider struct {
	*storage.Storage
	issuer string

	mu    sync.Mutex // guards roles and key
	roles map[string][]string
	key   signingKey
}

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k signingKey) Algorithm() jose.SignatureAlgorithm          { return jose.RS256 }
func (k signingKey) Key() any                                    { return k.key }
func (k signingKey) ID() string                                  { return k.id }
func (k signingKey) Use() string                                 { return "sig" }

type publicKey struct{ signingKey }

func (k publicKey) Key() any { return &k.key.PublicKey }

func newProvider(t *testing.T, roles map[string][]string) *provider {
	srv := httptest.NewUnstartedServer(nil)
	p := &provider{issuer: "http://" + srv.Listener.Addr().String(), roles: roles}
	p.Storage = storage.NewStorage(storage.NewUserStore(p.issuer))
	p.rotate(t)
	o, err := op.NewProvider(&op.Config{CryptoKey: sha256.Sum256([]byte("pipa test")), CodeMethodS256: true},
		p, op.StaticIssuer(p.issuer), op.WithAllowInsecure())
	require.NoError(t, err)
	srv.Config.Handler = o
	srv.Start()
	t.Cleanup(srv.Close)
	return p
}

// setRoles changes a client's realm roles, as an administrator changes a user's groups: its next
// token carries them.
func (p *provider) setRoles(client string, roles ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.roles[client] = roles
}

// rotate makes a new signing key, the only one in the JWKS from now on, and returns the old one's id.
func (p *provider) rotate(t *testing.T) string {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.key.id
	p.key = signingKey{id: rand.Text(), key: k}
	return old
}

func (p *provider) SigningKey(context.Context) (op.SigningKey, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.key, nil
}

func (p *provider) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (p *provider) KeySet(context.Context) ([]op.Key, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return []op.Key{publicKey{p.key}}, nil
}

// jwtClient is a confidential client whose access tokens are JWTs.
type jwtClient struct{ *storage.Client }

func (jwtClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }
func (jwtClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeClientCredentials}
}

func (p *provider) ClientCredentials(_ context.Context, id, secret string) (op.Client, error) {
	p.mu.Lock()
	_, ok := p.roles[id]
	p.mu.Unlock()
	if !ok || secret != "secret-"+id {
		return nil, oidc.ErrInvalidClient()
	}
	return jwtClient{storage.WebClient(id, secret)}, nil
}

func (p *provider) ClientCredentialsTokenRequest(_ context.Context, id string, scopes []string) (op.TokenRequest, error) {
	return &oidc.JWTTokenRequest{Subject: id, Audience: []string{"pipa"}, Scopes: scopes}, nil
}

// GetPrivateClaimsFromScopes puts the client's roles where Keycloak puts a user's realm roles.
func (p *provider) GetPrivateClaimsFromScopes(_ context.Context, subject, _ string, _ []string) (map[string]any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return map[string]any{"realm_access": map[string]any{"roles": p.roles[subject]}}, nil
}

// token is an access token for client, by the client credentials grant at the provider's
// token endpoint (found by discovery, as any client finds it).
func (p *provider) token(t *testing.T, client string) string {
	t.Helper()
	r, err := http.Get(p.issuer + "/.well-known/openid-configuration")
	require.NoError(t, err)
	var disc struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	require.NoError(t, json.NewDecoder(r.Body).Decode(&disc))
	r.Body.Close()
	req, err := http.NewRequest(http.MethodPost, disc.TokenEndpoint,
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client, "secret-"+client)
	r, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer r.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error_description"`
	}
	require.NoError(t, json.NewDecoder(r.Body).Decode(&tok))
	require.Equal(t, http.StatusOK, r.StatusCode, tok.Error)
	return tok.AccessToken
}

// kid is the key id in a JWT's header.
func kid(t *testing.T, token string) string {
	t.Helper()
	sig, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256})
	require.NoError(t, err)
	return sig.Signatures[0].Header.KeyID
}
