package main

import (
	"context"
	"crypto/ed25519"
	"flag"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pipa-kr/pipa/pkg/auth"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/registry/tenantfile"
)

// importCmd loads tenant files through the registry's gRPC API, as any client would: the same
// validation applies, and a re-run skips what already exists.
func importCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c config
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	addr := fs.String("addr", env("PIPA_REGISTRY_ADDR", "127.0.0.1:9090"), "registry gRPC address (PIPA_REGISTRY_ADDR)")
	token := fs.String("token", env("PIPA_TOKEN", ""), "bearer token with tenant_admin on * (PIPA_TOKEN; default: minted with the development key)")
	c.devKeyFlag(fs, "without -token, the development key to mint one with (PIPA_DEV_KEY; default: the .data/"+devKeyFile+" pipa dev made, found from here up)")
	synopsis := "import [-addr HOST:PORT] [-token T] FILE...\n\nLoads tenants from YAML files (deploy/examples/README.md) through the registry's API."
	if err := parse(fs, synopsis, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: pipa "+synopsis)
		return errUsage
	}
	if *token == "" {
		key, err := devSigningKey(c.devKey)
		if err != nil {
			return err
		}
		if *token, err = adminToken(key, time.Hour); err != nil {
			return err
		}
	}
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	cl := registryv1.NewRegistryServiceClient(conn)
	for _, path := range fs.Args() {
		f, err := tenantfile.Load(path)
		if err != nil {
			return err
		}
		if err := tenantfile.Import(unitauth.WithToken(ctx, *token), cl, f, time.Now()); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		fmt.Fprintf(stderr, "imported %s (%s)\n", f.Tenant.Tenant.GetDisplayName(), path)
	}
	return nil
}

// adminToken is a development token with tenant_admin on every tenant.
func adminToken(key ed25519.PrivateKey, ttl time.Duration) (string, error) {
	return auth.Mint(key, auth.Principal{Subject: "pipa-import",
		Grants: []auth.Grant{{Role: auth.RoleTenantAdmin, Scope: auth.ScopeAll}}}, ttl)
}
