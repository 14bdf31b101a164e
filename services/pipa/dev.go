package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/registry/tenantfile"
)

// devCmd is `make run`: serve everything, load the demo tenants of deploy/examples through the
// API, and print where to look and a token to look with.
func devCmd(ctx context.Context, args []string) error {
	var c config
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	c.flags(fs)
	examples := fs.String("examples", "deploy/examples", "directory of tenant YAML files to load")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.databaseURL == "" {
		return errors.New("no database: run `make run`, which provisions one under .data/, or set DATABASE_URL")
	}
	c.target, c.devKey = "all", c.devKeyPath()
	if c.dataKey == "" {
		c.dataKey = defaultDevDataKey
	}
	gl, err := net.Listen("tcp", c.grpcAddr)
	if err != nil {
		return err
	}
	hl, err := net.Listen("tcp", c.httpAddr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, &c, &listeners{grpc: gl, http: hl}) }()

	addr := modules.Dialable(gl.Addr())
	if err := waitServing(ctx, addr, done); err != nil {
		return err
	}
	token, err := adminToken(c.devKey, 12*time.Hour)
	if err != nil {
		return err
	}
	files, _ := filepath.Glob(filepath.Join(*examples, "*.yaml"))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	cl := registryv1.NewRegistryServiceClient(conn)
	for _, path := range files {
		f, err := tenantfile.Load(path)
		if err == nil {
			err = tenantfile.Import(unitauth.WithToken(ctx, token), cl, f, time.Now())
		}
		if err != nil {
			conn.Close()
			return fmt.Errorf("loading %s: %w", path, err)
		}
	}
	conn.Close()

	web := "http://" + modules.Dialable(hl.Addr())
	fmt.Printf(`
pipa is running (monolithic mode), with %d demo tenants from %s.

  REST API     %s/v1/tenants
  OpenAPI      %s/openapi.json
  Public page  %s/p/jeongeup/library/cctv
  gRPC         %s   (reflection on: grpcurl -plaintext %s list)
  Metrics      %s/metrics

  Admin token (tenant_admin on every tenant, 12 hours; mint more with "pipa token"):

export PIPA_TOKEN=%s

Stop with Ctrl-C.
`, len(files), *examples, web, web, web, addr, addr, web, token)
	return <-done
}

// waitServing waits until the gRPC health service answers SERVING, or serving failed.
func waitServing(ctx context.Context, addr string, done <-chan error) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	for {
		r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		if err == nil && r.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		select {
		case err := <-done:
			return fmt.Errorf("server stopped: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
