package retention

import (
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/jobs"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/pkg/seal"
	"github.com/pipa-kr/pipa/services/retention/store/pg"
)

// Option configures Open.
type Option func(*options)

type options struct {
	now    func() time.Time
	host   string
	out    *outbound.Config
	budget time.Duration
}

// WithOutbound mails the copies' reminders to their recipients and relays the service's events
// (pkg/outbound, in the retention schema) through cfg's senders and attempts.
func WithOutbound(cfg outbound.Config) Option {
	return func(o *options) { o.out = &cfg }
}

// WithClock sets the clock every retention rule is applied by (time.Now by default): tests move
// it instead of waiting for days to pass.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// WithOriginHost sets the host that names the tenants' certificate keys,
// "{host}/tenants/{t}/retention": the ledgers' origin host (PIPA_LEDGER_ORIGIN), so that a
// tenant's keys share one name space.
func WithOriginHost(host string) Option {
	return func(o *options) { o.host = host }
}

// WithSweepBudget sets how long one attempt of a unit's sweep job destroys before it leaves what
// is left to its next attempt (half of jobs.Timeout by default); tests shorten it.
func WithSweepBudget(d time.Duration) Option {
	return func(o *options) { o.budget = d }
}

// Open assembles the service on pool: its store, its job queue (in the retention schema, see
// pkg/jobs) with the periodic work — the hourly sweep of every unit with rules, the daily
// reminders of copies past their due date, the daily run of the quarterly check of public
// recipients' replies (C-9) — with its outbound's dispatcher, and the server. The caller starts the returned runner and stops it on shutdown. token
// is the service credential for background work.
func Open(pool *pgxpool.Pool, box *seal.Box, registry registryv1.RegistryServiceClient, ledger ledgerv1.LedgerServiceClient,
	requests requestsv1.RequestServiceClient, token func() (string, error), opts ...Option) (*Server, jobs.Runner, error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	outbox, err := ledgerout.New(ledgerout.Config{Schema: pg.Schema, Pool: pool, Ledger: ledger, Token: token,
		Metrics: "pipa.retention", Delay: 30 * time.Second, Now: o.now})
	if err != nil {
		return nil, nil, err
	}
	workers := river.NewWorkers()
	outbox.AddWorkers(workers)
	storeOpts := []pg.Option{pg.WithHost(o.host)}
	var out *outbound.Outbound
	if o.out != nil {
		cfg := *o.out
		cfg.Schema, cfg.Pool, cfg.Box, cfg.Metrics, cfg.Now = pg.Schema, pool, box, "pipa.retention", o.now
		if out, err = outbound.New(cfg); err != nil {
			return nil, nil, err
		}
		storeOpts = append(storeOpts, pg.WithOutbound(out))
	}
	sweepAll, sweepUnit := &SweepAllWorker{}, &SweepUnitWorker{}
	accessAll, access := &SweepAccessAllWorker{}, &SweepAccessWorker{}
	remind, check := &RemindCopiesWorker{}, &CheckCopiesWorker{}
	river.AddWorker(workers, sweepAll)
	river.AddWorker(workers, sweepUnit)
	river.AddWorker(workers, accessAll)
	river.AddWorker(workers, access)
	river.AddWorker(workers, remind)
	river.AddWorker(workers, check)
	// Each periodic job but the access records' also runs when a leader starts, so that a restart never skips a day or a
	// quarter; each is idempotent (unique sweeps per hour, one reminder a day, one check a quarter).
	cfg := jobs.Config(pg.Schema, workers, 4, append(outbox.PeriodicJobs(),
		river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return SweepAllArgs{}, nil },
			&river.PeriodicJobOpts{ID: "retention.sweep_all", RunOnStart: true}),
		// Not on start: a day skipped destroys access records a day late, never early.
		river.NewPeriodicJob(dailyAt(3),
			func() (river.JobArgs, *river.InsertOpts) { return SweepAccessAllArgs{}, nil },
			&river.PeriodicJobOpts{ID: "retention.sweep_access_all"}),
		river.NewPeriodicJob(dailyAt(9),
			func() (river.JobArgs, *river.InsertOpts) { return RemindCopiesArgs{}, nil },
			&river.PeriodicJobOpts{ID: "retention.remind_copies", RunOnStart: true}),
		river.NewPeriodicJob(dailyAt(9),
			func() (river.JobArgs, *river.InsertOpts) { return CheckCopiesArgs{}, nil },
			&river.PeriodicJobOpts{ID: "retention.check_copies", RunOnStart: true}))...)
	queue, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		return nil, nil, err
	}
	store := pg.New(pool, box, outbox, o.now, storeOpts...)
	outbox.Use(queue, store)
	srv := New(store, outbox, registry, ledger, requests, token, o.now)
	if o.budget > 0 {
		srv.sweepBudget = o.budget
	}
	sweepAll.S, sweepUnit.S, remind.S, check.S, accessAll.S, access.S = srv, srv, srv, srv, srv, srv
	var bg jobs.Runner = queue
	if out != nil {
		bg = jobs.Together(queue, out)
	}
	return srv, bg, registerMetrics(store, o.now)
}
