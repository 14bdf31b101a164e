package registry

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/jobs"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/services/registry/policy"
	"github.com/pipa-kr/pipa/services/registry/render"
	"github.com/pipa-kr/pipa/services/registry/store/pg"
)

// Publications reach the unit's ledger through the registry's ledger outbox (pkg/ledgerout), as
// the registers' changes do: the version's freeze writes its PUBLICATION entry in the same
// transaction (pg.EnqueuePublication), the call that froze it delivers it after the commit without
// waiting for it, and the outbox's drain delivers what is still missing while the ledger is out.
// Once the ledger has the entry, the outbox's hook names it on the version (pg.Store.Delivered).

// publishDelay holds the drain back from an entry just written, so that its call usually appends
// it first.
const publishDelay = 5 * time.Second

// Open assembles the registry on pool: its store, the job queue of its publications and of the
// register-due alerts (in the registry schema, pkg/jobs) and the server, which appends to ledger
// with the service credential token. The caller starts the returned client to work the queue, and
// stops it.
//
// Its events (events.go) and alerts go out through one outbound in the registry schema with out's
// senders; the alerts' mails name officers, so without out.Box (the data key) none is sent.
func Open(pool *pgxpool.Pool, ledger ledgerv1.LedgerServiceClient, token func() (string, error), out outbound.Config, opts ...Option) (*Server, jobs.Runner, error) {
	// The registers' changes go through the shared outbox (pkg/ledgerout), in the same schema.
	outbox, err := ledgerout.New(ledgerout.Config{Schema: pg.Schema, Pool: pool, Ledger: ledger, Token: token,
		Metrics: "pipa.registry", Delay: publishDelay})
	if err != nil {
		return nil, nil, err
	}
	out.Schema, out.Pool, out.Metrics = pg.Schema, pool, "pipa.registry"
	events, err := outbound.New(out)
	if err != nil {
		return nil, nil, err
	}
	workers := river.NewWorkers()
	w, inForce := &publishWorker{}, &inForceWorker{}
	river.AddWorker(workers, w)
	river.AddWorker(workers, inForce)
	outbox.AddWorkers(workers)
	periodic := append(outbox.PeriodicJobs(), inForceJob())
	var alerts *registerAlerts
	if out.Box != nil { // the alerts' mails name officers: sealed at rest like every outbound message
		alerts = &registerAlerts{out: events}
		river.AddWorker(workers, alerts)
		periodic = append(periodic, alerts.periodic())
	}
	cfg := jobs.Config(pg.Schema, workers, 2, periodic...)
	client, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		return nil, nil, err
	}
	var s *Server
	store := pg.New(pool, pg.WithJobs(client), pg.WithOutbox(outbox), pg.WithOutbound(events), pg.WithChanges(officerRoles(&s), processorChanges(&s)))
	outbox.Use(client, store)
	s = New(store, append(opts, withLedger(ledger, token), withOutbox(outbox))...)
	w.s, inForce.s = s, s
	if alerts != nil {
		alerts.s = s
	}
	return s, jobs.Together(client, events), registerMetrics(s)
}

func withLedger(l ledgerv1.LedgerServiceClient, token func() (string, error)) Option {
	return func(s *Server) { s.ledger, s.token = l, token }
}

// publicationEntry is the PUBLICATION entry of v, a version being frozen (STD-21): the frozen
// document's SHA-256, under the version's name.
func publicationEntry(v *registryv1.PolicyVersion) *ledgerv1.AppendEntryRequest {
	d := v.GetDocument()
	what := "공고"
	if v.GetState() == archived {
		what = "이관 (pipa 이전에 게시된 방침)"
	}
	return &ledgerv1.AppendEntryRequest{Entry: &ledgerv1.Entry{
		Kind:           ledgerv1.EntryKind_ENTRY_KIND_PUBLICATION,
		OccurTime:      cmpTime(d.GetFreezeTime(), v.GetAnnounceTime()),
		FileName:       v.GetName(),
		FileFormat:     "text/html; charset=utf-8",
		Purpose:        fmt.Sprintf("%s %s (%s)", render.Title(v), what, render.Dates(v)),
		DocumentSha256: d.GetHtmlSha256(),
	}}
}

func cmpTime(ts ...*timestamppb.Timestamp) *timestamppb.Timestamp {
	for _, t := range ts {
		if t != nil {
			return t
		}
	}
	return timestamppb.Now()
}

// deliverSoon delivers a publication's entry after the call that froze its version, without
// holding the call up; the outbox's drain covers a failure.
func (s *Server) deliverSoon(tenant string, id int64) {
	if id != 0 {
		go s.deliver(context.Background(), tenant, id)
	}
}

// publishWorker carries a publication job queued by an earlier version (pg.PublishArgs) into the
// outbox, under the request_id that job appended with, so that an entry it did append is not
// appended twice; a version that names its entry already, or is gone, needs nothing.
type publishWorker struct {
	river.WorkerDefaults[pg.PublishArgs]
	s *Server
}

func (w *publishWorker) Work(ctx context.Context, job *river.Job[pg.PublishArgs]) error {
	a := job.Args
	kind, _ := policy.KindFromSegment(a.Policy)
	var id int64
	err := w.s.store.Tenant(a.Tenant).InTx(ctx, func(tx *pg.TenantStore) error {
		v, err := tx.GetVersion(ctx, a.Unit, kind, a.Number)
		if err != nil || v.GetDocument() == nil || v.GetDocument().GetLedgerEntry() != "" {
			return err
		}
		id, err = tx.EnqueuePublication(ctx, a.Unit, v.GetName(), publicationEntry(v), "publication:"+v.GetName())
		return err
	})
	if apierr.KindOf(err) == apierr.KindNotFound {
		return river.JobCancel(err)
	}
	if err == nil {
		w.s.deliver(ctx, a.Tenant, id)
	}
	return err
}

// NextRetry: see jobs.Backoff.
func (w *publishWorker) NextRetry(job *river.Job[pg.PublishArgs]) time.Time {
	return jobs.Backoff(job.Attempt)
}
