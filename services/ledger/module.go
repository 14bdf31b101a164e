package ledger

import (
	"cmp"
	"context"
	_ "embed"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"google.golang.org/grpc"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/jobs"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/pkg/seal"
	"github.com/pipa-kr/pipa/services/ledger/cosign"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// startTimeout bounds the start-up check of the stored keys and the handovers of old logs.
const startTimeout = 5 * time.Minute

// Module is the ledger as a pipa process runs it. It asks the registry whether a unit exists, and
// relays its checkpoint events to the request service's subscriptions.
var Module = modules.Module{
	Name:       "ledger",
	Service:    ledgerv1.LedgerService_ServiceDesc.ServiceName,
	Schema:     pg.Schema,
	Migrations: pg.Migrations,
	Jobs:       true, // cosigning (package cosign), the checkpoint events (events.go)
	Outbound:   true,
	// UpdateLedgerSettings' request_ids; appends keep theirs with the entries.
	Idempotency: true,
	Needs:       []string{"registry"},
	Wants:       map[string]string{"requests": "the checkpoint events wait in the outbound"},
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
		// A note key name, which the origin host starts, has no spaces and no '+'.
		if strings.ContainsAny(d.LedgerOrigin, "/+ \t\r\n") {
			return fmt.Errorf("PIPA_LEDGER_ORIGIN %q: want a host name, e.g. ledger.iksan.go.kr", d.LedgerOrigin)
		}
		witnesses, err := cosign.ParseWitnesses(d.LedgerWitnesses, nil)
		if err != nil {
			return fmt.Errorf("PIPA_LEDGER_WITNESSES: %w", err)
		}
		store := pg.New(d.Pool, box, pg.WithOriginHost(d.LedgerOrigin))
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		srv, err := Open(ctx, store, box, registryv1.NewRegistryServiceClient(reg), witnesses...)
		if err != nil {
			return err
		}
		ledgerv1.RegisterLedgerServiceServer(g, srv)
		ledgerv1.RegisterAccessRecordServiceServer(g, srv.Ingest())
		ledgerv1.RegisterAccessReviewServiceServer(g, srv.Reviews())
		ledgerv1.RegisterRoleGrantServiceServer(g, srv.RoleGrants())
		jobs, err := openJobs(d, store, box, witnesses)
		if err != nil {
			return err
		}
		return d.Run(jobs.Start, jobs.Stop)
	},
	Gateway: func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
		if err := modules.Mount(ledgerv1.RegisterLedgerServiceHandlerClient, ledgerv1.NewLedgerServiceClient)(ctx, mux, conn); err != nil {
			return err
		}
		if err := modules.Mount(ledgerv1.RegisterAccessRecordServiceHandlerClient, ledgerv1.NewAccessRecordServiceClient)(ctx, mux, conn); err != nil {
			return err
		}
		if err := modules.Mount(ledgerv1.RegisterAccessReviewServiceHandlerClient, ledgerv1.NewAccessReviewServiceClient)(ctx, mux, conn); err != nil {
			return err
		}
		return modules.Mount(ledgerv1.RegisterRoleGrantServiceHandlerClient, ledgerv1.NewRoleGrantServiceClient)(ctx, mux, conn)
	},
	OpenAPI: openAPI,
	Pages: func(conn grpc.ClientConnInterface, d modules.Deps) map[string]http.Handler {
		client := ledgerv1.NewLedgerServiceClient(conn)
		m := map[string]http.Handler{ExportPattern: Export(client), GrantsExportPattern: GrantsExport(ledgerv1.NewRoleGrantServiceClient(conn))}
		if d.Pool != nil { // tiles read the stored hashes: served where the ledger has its database
			if box, err := d.Box(); err == nil {
				store := pg.New(d.Pool, box, pg.WithOriginHost(d.LedgerOrigin))
				cosigned := d.LedgerWitnesses != ""
				m[TilesPattern] = Tiles(store, client, TilesOptions{Cosigned: cosigned})
				public := Tiles(store, client, TilesOptions{Public: true, Cosigned: cosigned})
				m[PublicTilesPattern], m[OriginTilesPattern] = public, public
			}
		}
		return m
	},
}

// openAPI documents the hand-written routes (Pages) for the OpenAPI documents.
//
//go:embed openapi.yaml
var openAPI []byte

// openJobs makes the ledger's River client (the checkpoint events and the cosigning when there
// are witnesses) with the outbound that sends the events. The caller starts and stops them.
func openJobs(d modules.Deps, store *pg.Store, box *seal.Box, witnesses []*cosign.Witness) (jobs.Runner, error) {
	cfg, err := d.EventOutbound()
	if err != nil {
		return nil, err
	}
	cfg.Schema, cfg.Pool, cfg.Box, cfg.Metrics = pg.Schema, d.Pool, box, "pipa.ledger"
	out, err := outbound.New(cfg)
	if err != nil {
		return nil, err
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &checkpointsWorker{store: store, out: out})
	periodic := []*river.PeriodicJob{checkpointsJob(cmp.Or(d.CheckpointEventInterval, time.Minute))}
	if len(witnesses) == 0 {
		slog.Warn("ledger: no witnesses (PIPA_LEDGER_WITNESSES): nobody outside can tell a rolled-back or split ledger from a genuine one")
	} else {
		periodic = append(periodic, cosign.Add(workers, cosign.New(store, witnesses), cmp.Or(d.LedgerWitnessInterval, time.Minute)))
	}
	rc := jobs.Config(pg.Schema, workers, 4, periodic...)
	client, err := river.NewClient(riverpgxv5.New(d.Pool), rc)
	if err != nil {
		return nil, err
	}
	return jobs.Together(client, out), nil
}
