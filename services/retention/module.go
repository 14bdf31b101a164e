package retention

import (
	"google.golang.org/grpc"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/services/retention/store/pg"
)

// Module is the retention service as a pipa process runs it. It follows the registry's sites and
// files, records destructions in the ledger, has the request service erase closed requests'
// personal data, and relays its events (copies overdue and closed, sweeps, plans) to the request
// service's subscriptions.
var Module = ModuleWith()

// ModuleWith is Module whose service Open also gets opts (tests: WithSweepBudget).
func ModuleWith(opts ...Option) modules.Module {
	return modules.Module{
		Name:        "retention",
		Service:     retentionv1.RetentionService_ServiceDesc.ServiceName,
		Schema:      pg.Schema,
		Migrations:  pg.Migrations,
		Jobs:        true,
		Outbox:      true,
		Outbound:    true,
		Idempotency: true,
		Needs:       []string{"registry", "ledger", "requests"},
		Public:      PublicMethods,
		Register: func(g grpc.ServiceRegistrar, d modules.Deps) error {
			box, err := d.Box()
			if err != nil {
				return err
			}
			cc, err := d.Dial("registry", "ledger", "requests")
			if err != nil {
				return err
			}
			ob, err := d.EventOutbound()
			if err != nil {
				return err
			}
			srv, jobs, err := Open(d.Pool, box, registryv1.NewRegistryServiceClient(cc[0]),
				ledgerv1.NewLedgerServiceClient(cc[1]), requestsv1.NewRequestServiceClient(cc[2]),
				d.Token, append([]Option{WithClock(d.Now), WithOriginHost(d.LedgerOrigin), WithOutbound(ob)}, opts...)...)
			if err != nil {
				return err
			}
			retentionv1.RegisterRetentionServiceServer(g, srv)
			return d.Run(jobs.Start, jobs.Stop)
		},
		Gateway: modules.Mount(retentionv1.RegisterRetentionServiceHandlerClient, retentionv1.NewRetentionServiceClient),
	}
}
