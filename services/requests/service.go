package requests

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/jobs"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/pkg/seal"
	"github.com/pipa-kr/pipa/services/requests/store/pg"
)

// Open assembles the service on pool: its store, its ledger outbox, what it sends (ob's senders
// and attempts; pkg/outbound) and its job queue (in the requests schema, see pkg/ledgerout and
// pkg/jobs), the hand-offs to retention (nil: they wait) and the server. It carries over the steps of an older version's outbox (pg.Store.AdoptSteps).
// The caller starts the returned runner (the queue and the outbound's dispatcher), and stops it on shutdown. token is
// the service credential for the ledger and the public methods.
func Open(ctx context.Context, pool *pgxpool.Pool, box *seal.Box, registry registryv1.RegistryServiceClient, ledger ledgerv1.LedgerServiceClient,
	retention retentionv1.RetentionServiceClient, token func() (string, error), ob outbound.Config) (*Server, jobs.Runner, error) {
	outbox, err := ledgerout.New(ledgerout.Config{Schema: pg.Schema, Pool: pool, Box: box, Ledger: ledger, Token: token,
		Metrics: "pipa.requests", Delay: 10 * time.Second, Timeout: 5 * time.Second})
	if err != nil {
		return nil, nil, err
	}
	ob.Schema, ob.Pool, ob.Box, ob.Metrics = pg.Schema, pool, box, "pipa.requests"
	composer := &pg.NoticeMail{}
	ob.Composers = map[string]outbound.Composer{pg.ComposeNotice: composer}
	hooks := &pg.NoticeHooks{}
	ob.Hooks = hooks
	out, err := outbound.New(ob)
	if err != nil {
		return nil, nil, err
	}
	workers := river.NewWorkers()
	outbox.AddWorkers(workers)
	cw, clw := &CopyWorker{}, &ClosedWorker{}
	river.AddWorker(workers, cw)
	river.AddWorker(workers, clw)
	alerts := &Alerts{out: out, registry: registry, token: token, now: time.Now, log: slog.Default()}
	river.AddWorker(workers, alerts)
	cfg := jobs.Config(pg.Schema, workers, 4, append(outbox.PeriodicJobs(), alerts.PeriodicJobs()...)...)
	queue, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		return nil, nil, err
	}
	store := pg.New(pool, box, queue, outbox, out)
	alerts.store = store
	outbox.Use(queue, store)
	composer.Store, hooks.Store = store, store
	if err := store.AdoptSteps(ctx); err != nil {
		return nil, nil, err
	}
	handOff := NewHandOff(store, retention, token)
	cw.H, clw.H = handOff, handOff
	srv := New(store, outbox, handOff, registry, token)
	srv.out = &OutboundServer{out: out, units: srv.units}
	return srv, jobs.Together(queue, out), registerMetrics(store, srv.now)
}
