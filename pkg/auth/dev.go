package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The issuer and audience of development tokens.
const (
	DevIssuer   = "pipa-dev"
	DevAudience = "pipa"
)

// leeway absorbs clock skew between the token's minter and its verifier.
const leeway = 30 * time.Second

// ErrTokenExpired is wrapped by a Verifier's error when the token is past its expiry, so that the
// interceptors can tell the caller to get a new one rather than that it is forged.
var ErrTokenExpired = errors.New("token expired")

// Verifier checks a raw bearer token and says who presented it.
type Verifier interface {
	Verify(ctx context.Context, raw string) (*Principal, error)
}

// claims is the body of a development token.
type claims struct {
	jwt.RegisteredClaims
	Name  string          `json:"name,omitempty"`
	Roles json.RawMessage `json:"pipa_roles,omitempty"`
}

// Mint signs a development token for p, valid for ttl. It refuses a principal the verifier would
// reject, so that "pipa token" fails at once on a mistyped role or scope.
func Mint(key ed25519.PrivateKey, p Principal, ttl time.Duration) (string, error) {
	return mint(key, p, time.Now(), ttl)
}

func mint(key ed25519.PrivateKey, p Principal, now time.Time, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", fmt.Errorf("auth: token lifetime must be positive, got %v", ttl)
	}
	if err := p.validate(); err != nil {
		return "", fmt.Errorf("auth: %w", err)
	}
	roles, err := json.Marshal(p.Grants)
	if err != nil {
		return "", err
	}
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    DevIssuer,
			Subject:   p.Subject,
			Audience:  jwt.ClaimStrings{DevAudience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Name:  p.Name,
		Roles: roles,
	}
	return jwt.NewWithClaims(jwt.SigningMethodEdDSA, c).SignedString(key)
}

type devVerifier struct {
	key    ed25519.PublicKey
	parser *jwt.Parser
}

// NewDevVerifier checks development tokens signed by the private half of key.
func NewDevVerifier(key ed25519.PublicKey) Verifier {
	return &devVerifier{
		key: key,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
			jwt.WithIssuer(DevIssuer),
			jwt.WithAudience(DevAudience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(leeway),
		),
	}
}

func (v *devVerifier) Verify(_ context.Context, raw string) (*Principal, error) {
	var c claims
	_, err := v.parser.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return v.key, nil })
	if errors.Is(err, jwt.ErrTokenExpired) {
		return nil, fmt.Errorf("auth: %w", ErrTokenExpired)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	grants, err := DefaultClaims.Grants(map[string]json.RawMessage{DefaultRolesClaim: c.Roles})
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	p, err := newPrincipal(c.Issuer, c.Subject, c.Name, grants)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return p, nil
}

// LoadOrCreateDevKey reads the Ed25519 development key (PEM, PKCS #8) at path, or creates it
// (mode 0600, parent directories 0700) if absent. Creation is atomic, so services started together
// in one "pipa dev" agree on one key.
func LoadOrCreateDevKey(path string) (ed25519.PrivateKey, error) {
	key, err := readDevKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	_, key, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	// Write a private temporary file and link it into place: a reader never sees a half-written
	// key, and if another process won the race, its key is the one we use.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".devkey-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if err := pem.Encode(tmp, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readDevKey(path)
		}
		return nil, err
	}
	return key, nil
}

// LoadDevKey reads the Ed25519 development key at path, which must exist.
func LoadDevKey(path string) (ed25519.PrivateKey, error) { return readDevKey(path) }

func readDevKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("auth: %s: no PEM PRIVATE KEY block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("auth: %s: %w", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("auth: %s: want an Ed25519 key, got %T", path, k)
	}
	return key, nil
}

// serviceSubject is the subject of the tokens pipa services present to each other.
const serviceSubject = "pipa-service"

// DevServiceToken returns a token source, for [PerRPCToken], that mints a development token with
// the service role on scope "*", valid for ttl, and mints a fresh one once half of ttl has passed,
// so a token in flight never expires on the way even with some clock skew.
func DevServiceToken(key ed25519.PrivateKey, ttl time.Duration) func() (string, error) {
	return (&serviceToken{key: key, ttl: ttl, now: time.Now}).get
}

type serviceToken struct {
	key ed25519.PrivateKey
	ttl time.Duration
	now func() time.Time

	mu        sync.Mutex
	token     string
	refreshAt time.Time
}

func (s *serviceToken) get() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.token != "" && now.Before(s.refreshAt) {
		return s.token, nil
	}
	p := Principal{Subject: serviceSubject, Grants: []Grant{{Role: RoleService, Scope: ScopeAll}}}
	token, err := mint(s.key, p, now, s.ttl)
	if err != nil {
		return "", err
	}
	s.token, s.refreshAt = token, now.Add(s.ttl/2)
	return token, nil
}
