package requests

import (
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/jobs"
	"github.com/pipa-kr/pipa/pkg/seal"
	"github.com/pipa-kr/pipa/services/requests/store/pg"
)

// Open assembles the service on pool: its store, the outbox's job queue (in the requests schema,
// see pkg/jobs) and the server. The caller starts the returned client to work the outbox, and
// stops it on shutdown. token is the service credential for the ledger and the public methods.
func Open(pool *pgxpool.Pool, box *seal.Box, registry registryv1.RegistryServiceClient, ledger ledgerv1.LedgerServiceClient,
	retention retentionv1.RetentionServiceClient, token func() (string, error)) (*Server, *river.Client[pgx.Tx], error) {
	workers := river.NewWorkers()
	w, cw, clw := &Worker{}, &CopyWorker{}, &ClosedWorker{}
	river.AddWorker(workers, w)
	river.AddWorker(workers, cw)
	river.AddWorker(workers, clw)
	jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Schema:       pg.Schema,
		Queues:       map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 4}},
		Workers:      workers,
		ErrorHandler: jobs.Errors{},
	})
	if err != nil {
		return nil, nil, err
	}
	store := pg.New(pool, box, jobs)
	w.D = NewDeliverer(store, ledger, retention, token)
	cw.D, clw.D = w.D, w.D
	srv, err := New(store, registry, w.D, token)
	if err != nil {
		return nil, nil, err
	}
	return srv, jobs, registerMetrics(store, srv.now)
}
