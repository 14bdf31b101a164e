package registry

import (
	_ "embed"
	"log/slog"
	"net/http"

	"google.golang.org/grpc"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/services/registry/store/pg"
)

// Module is the registry as a pipa process runs it. It appends each published policy's hash to
// its unit's ledger (publish.go), through an outbox that waits while the ledger is not configured,
// and relays its events (events.go) to the request service's subscriptions.
var Module = ModuleWith()

// ModuleWith is Module whose server also gets opts (tests: WithClock).
func ModuleWith(opts ...Option) modules.Module {
	return modules.Module{
		Name:        "registry",
		Service:     registryv1.RegistryService_ServiceDesc.ServiceName,
		Schema:      pg.Schema,
		Migrations:  pg.Migrations,
		Jobs:        true,
		Outbox:      true,
		Outbound:    true,
		Idempotency: true,
		Wants: map[string]string{"ledger": "published policies' hashes and the registers' changes wait in the outbox",
			"requests":  "the policies' events wait in the outbound; the obligations list names the requests' and breaches' deadlines as missing",
			"retention": "the obligations list names retention's deadlines as missing"},
		Public: PublicMethods,
		Access: AccessRules,
		Register: func(g grpc.ServiceRegistrar, d modules.Deps) error {
			var led ledgerv1.LedgerServiceClient
			if cc, err := d.Conn("ledger"); err == nil {
				led = ledgerv1.NewLedgerServiceClient(cc)
			}
			var req requestsv1.RequestServiceClient
			if cc, err := d.Conn("requests"); err == nil {
				req = requestsv1.NewRequestServiceClient(cc)
			}
			var ret retentionv1.RetentionServiceClient
			if cc, err := d.Conn("retention"); err == nil {
				ret = retentionv1.NewRetentionServiceClient(cc)
			}
			ob, err := d.EventOutbound()
			if err != nil {
				return err
			}
			if ob.Box, err = d.Box(); err != nil { // the registry seals nothing else: it serves without its alerts
				slog.Warn("registry: no data key: register-due alerts are not mailed", "err", err)
				ob.Box = nil
			}
			srv, jobs, err := Open(d.Pool, led, d.Token, ob, append(opts, withSources(req, ret))...)
			if err != nil {
				return err
			}
			registryv1.RegisterRegistryServiceServer(g, srv)
			return d.Run(jobs.Start, jobs.Stop)
		},
		Gateway: modules.Mount(registryv1.RegisterRegistryServiceHandlerClient, registryv1.NewRegistryServiceClient),
		OpenAPI: openAPI,
		Pages: func(conn grpc.ClientConnInterface, d modules.Deps) map[string]http.Handler {
			var opts []PageOption
			if cc, err := d.Conn("ledger"); err == nil { // each unit's ledger key on its policy pages
				opts = append(opts, WithLedgerKeys(ledgerKeys(ledgerv1.NewLedgerServiceClient(cc))))
			}
			if cc, err := d.Conn("requests"); err == nil { // each unit's breach postings on its page
				opts = append(opts, WithPostings(breachPostings(requestsv1.NewBreachServiceClient(cc))))
			}
			client := registryv1.NewRegistryServiceClient(conn)
			m := Pages(client, opts...)
			m[ExportRegistrationsPattern] = ExportRegistrations(client)
			return m
		},
	}
}

// openAPI documents the hand-written routes (Pages) for the OpenAPI documents.
//
//go:embed openapi.yaml
var openAPI []byte
