package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
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
func importCmd(ctx context.Context, args []string) error {
	var c config
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	c.flags(fs)
	addr := fs.String("addr", env("PIPA_REGISTRY_ADDR", "127.0.0.1:9090"), "registry gRPC address (PIPA_REGISTRY_ADDR)")
	token := fs.String("token", env("PIPA_TOKEN", ""), "bearer token with tenant_admin on * (default: minted with the dev key)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("usage: pipa import FILE [FILE ...]")
	}
	if *token == "" {
		tok, err := adminToken(c.devKeyPath(), time.Hour)
		if err != nil {
			return err
		}
		*token = tok
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
		fmt.Fprintf(os.Stderr, "imported %s (%s)\n", f.Tenant.Tenant.GetDisplayName(), path)
	}
	return nil
}

func adminToken(devKey string, ttl time.Duration) (string, error) {
	key, err := auth.LoadOrCreateDevKey(devKey)
	if err != nil {
		return "", err
	}
	return auth.Mint(key, auth.Principal{Subject: "pipa-import",
		Grants: []auth.Grant{{Role: auth.RoleTenantAdmin, Scope: auth.ScopeAll}}}, ttl)
}
