package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pipa-kr/pipa/pkg/auth"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/pgtest"
	"github.com/pipa-kr/pipa/services/registry/tenantfile"
)

// stack is a whole pipa (-target=all) on loopback ports over its own fresh database: real gRPC,
// real HTTP through the gateway, real PostgreSQL.
type stack struct {
	t       testing.TB
	key     ed25519.PrivateKey
	addr    string // gRPC
	url     string // http://host:port
	pool    interface{ Close() }
	dbURL   string
	cl      registryv1.RegistryServiceClient
	conn    *grpc.ClientConn // to the stack's gRPC, for every service's client
	http    *http.Client
	stopped chan error
}

type stackOption func(*config)

// builtMigrations are the schemas of every service in the binary, with their job queues: one
// database template for every test of a whole pipa.
func builtMigrations() []pgtest.Migration {
	var ms []pgtest.Migration
	for _, s := range built {
		ms = append(ms, pgtest.Migration{Schema: s.schema, FS: s.migrations, Jobs: s.jobs, Outbox: s.outbox})
	}
	return ms
}

func startStack(t testing.TB, opts ...stackOption) *stack {
	t.Helper()
	pool := pgtest.NewMulti(t, builtMigrations())
	keyPath := filepath.Join(t.TempDir(), "dev-key.pem")
	key, err := auth.LoadOrCreateDevKey(keyPath)
	require.NoError(t, err)
	c := &config{target: "all", databaseURL: pool.Config().ConnString(), devKey: keyPath, migrate: false,
		dataKey: filepath.Join(t.TempDir(), "data-key")}
	for _, o := range opts {
		o(c)
	}
	gl, hl := listenLoopback(t), listenLoopback(t)
	ctx, cancel := context.WithCancel(context.Background())
	s := &stack{t: t, key: key, addr: gl.Addr().String(), url: "http://" + hl.Addr().String(),
		dbURL: c.databaseURL, stopped: make(chan error, 1), http: &http.Client{Timeout: 10 * time.Second}}
	go func() { s.stopped <- serve(ctx, c, &listeners{grpc: gl, http: hl}) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-s.stopped:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("serve did not stop")
		}
	})
	require.NoError(t, waitServing(ctx, s.addr, s.stopped))
	conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	s.conn, s.cl = conn, registryv1.NewRegistryServiceClient(conn)
	return s
}

// token mints a token holding role on scope.
func (s *stack) token(role auth.Role, scope string) string {
	tok, err := auth.Mint(s.key, auth.Principal{Subject: "test-" + string(role), Grants: []auth.Grant{{Role: role, Scope: scope}}}, time.Hour)
	require.NoError(s.t, err)
	return tok
}

// as is a context calling with role on scope.
func (s *stack) as(role auth.Role, scope string) context.Context {
	return withToken(context.Background(), s.token(role, scope))
}

func (s *stack) admin() context.Context { return s.as(auth.RoleTenantAdmin, auth.ScopeAll) }

// load imports a tenant file from deploy/examples through the API.
func (s *stack) load(name string) *tenantfile.File {
	s.t.Helper()
	f, err := tenantfile.Load(filepath.Join("..", "..", "deploy", "examples", name))
	require.NoError(s.t, err)
	require.NoError(s.t, importFile(s.admin(), s.cl, f, time.Now()))
	return f
}

// get performs an HTTP GET with optional headers (name, value pairs).
func (s *stack) get(path string, headers ...string) *http.Response {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url+path, nil)
	require.NoError(s.t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.http.Do(req)
	require.NoError(s.t, err)
	return resp
}
