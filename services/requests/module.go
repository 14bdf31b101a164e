package requests

import (
	"context"
	_ "embed"
	"net/http"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/pdfprint"
	"github.com/pipa-kr/pipa/services/requests/store/pg"
)

// Module is the request service as a pipa process runs it. It reads units, sites and tenants'
// calendars from the registry and records every step in the ledger; provided copies and closed
// requests go to the retention service, through the outbox, when it is configured.
var Module = modules.Module{
	Name:        "requests",
	Service:     requestsv1.RequestService_ServiceDesc.ServiceName,
	Schema:      pg.Schema,
	Migrations:  pg.Migrations,
	Jobs:        true,
	Outbox:      true,
	Outbound:    true,
	Idempotency: true,
	Needs:       []string{"registry", "ledger"},
	Wants:       map[string]string{"retention": "provided copies and closed requests wait in the outbox"},
	Public:      PublicMethods,
	Access:      AccessRules,
	Register: func(g grpc.ServiceRegistrar, d modules.Deps) error {
		box, err := d.Box()
		if err != nil {
			return err
		}
		reg, err := d.Conn("registry")
		if err != nil {
			return err
		}
		led, err := d.Conn("ledger")
		if err != nil {
			return err
		}
		var ret retentionv1.RetentionServiceClient
		if cc, err := d.Conn("retention"); err == nil {
			ret = retentionv1.NewRetentionServiceClient(cc)
		}
		// Open carries over an older version's outbox rows, bounded in time.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		ob, err := d.OutboundConfig()
		if err != nil {
			return err
		}
		srv, jobs, err := Open(ctx, d.Pool, box, registryv1.NewRegistryServiceClient(reg),
			ledgerv1.NewLedgerServiceClient(led), ret, d.Token, ob)
		if err != nil {
			return err
		}
		requestsv1.RegisterRequestServiceServer(g, srv)
		requestsv1.RegisterOutboundServiceServer(g, srv.out)
		requestsv1.RegisterBreachServiceServer(g, srv.Breaches(d.Now))
		return d.Run(jobs.Start, jobs.Stop)
	},
	Gateway: func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
		if err := modules.Mount(requestsv1.RegisterRequestServiceHandlerClient, requestsv1.NewRequestServiceClient)(ctx, mux, conn); err != nil {
			return err
		}
		if err := modules.Mount(requestsv1.RegisterOutboundServiceHandlerClient, requestsv1.NewOutboundServiceClient)(ctx, mux, conn); err != nil {
			return err
		}
		return modules.Mount(requestsv1.RegisterBreachServiceHandlerClient, requestsv1.NewBreachServiceClient)(ctx, mux, conn)
	},
	OpenAPI: openAPI,
	Pages: func(conn grpc.ClientConnInterface, d modules.Deps) map[string]http.Handler {
		// With the service credential the form lists the unit's sites.
		var reg registryv1.RegistryServiceClient
		if cc, err := d.Conn("registry"); err == nil && d.Token != nil {
			reg = registryv1.NewRegistryServiceClient(cc)
		}
		pages := Pages(requestsv1.NewRequestServiceClient(conn), reg, d.Token)
		pages["GET /p/{tenant}/{unit}/notices/{breach}"] = PostingPage(requestsv1.NewBreachServiceClient(conn))
		pages[NoticePDFPattern] = NoticePDF(requestsv1.NewRequestServiceClient(conn), pdfprint.New(pdfprint.Chromium, 2))
		return pages
	},
}

// openAPI documents the hand-written routes (Pages) for the OpenAPI documents.
//
//go:embed openapi.yaml
var openAPI []byte
