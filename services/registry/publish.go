package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/jobs"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/registry/policy"
	"github.com/pipa-kr/pipa/services/registry/render"
	"github.com/pipa-kr/pipa/services/registry/store/pg"
)

// Publications reach the unit's ledger through an outbox: the version's freeze queues a job in the
// same transaction (pg.QueuePublication), the call that froze it tries to append at once, and the
// job appends what is still missing, retrying while the ledger is out. The entry's request_id is
// the version's name, so appending twice records once.

// publishDelay holds a publication's job back, so that the freezing call usually appends first.
const publishDelay = 5 * time.Second

// Open assembles the registry on pool: its store, the job queue of its publications and of the
// register-due alerts (in the registry schema, pkg/jobs) and the server, which appends to ledger
// with the service credential token. The caller starts the returned client to work the queue, and
// stops it.
//
// Its events (events.go) and alerts go out through one outbound in the registry schema with out's
// senders; the alerts' mails name officers, so without out.Box (the data key) none is sent.
func Open(pool *pgxpool.Pool, ledger ledgerv1.LedgerServiceClient, token func() (string, error), out outbound.Config, opts ...Option) (*Server, *river.Client[pgx.Tx], error) {
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
	events.AddWorkers(workers)
	periodic := append(outbox.PeriodicJobs(), inForceJob())
	var alerts *registerAlerts
	if out.Box != nil { // the alerts' mails name officers: sealed at rest like every outbound message
		alerts = &registerAlerts{out: events}
		river.AddWorker(workers, alerts)
		periodic = append(periodic, alerts.periodic())
	}
	cfg := jobs.Config(pg.Schema, workers, 2, periodic...)
	cfg.Queues[outbound.Queue] = outbound.QueueConfig()
	client, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		return nil, nil, err
	}
	outbox.Use(client, nil)
	events.Use(client, nil)
	var s *Server
	s = New(pg.New(pool, pg.WithJobs(client), pg.WithOutbox(outbox), pg.WithOutbound(events), pg.WithChanges(officerRoles(&s), processorChanges(&s))),
		append(opts, withLedger(ledger, token), withOutbox(outbox))...)
	w.s, inForce.s = s, s
	if alerts != nil {
		alerts.s = s
	}
	return s, client, registerMetrics(s)
}

func withLedger(l ledgerv1.LedgerServiceClient, token func() (string, error)) Option {
	return func(s *Server) { s.ledger, s.token = l, token }
}

// errNoLedger: without the ledger's address the publication waits in the outbox.
var errNoLedger = errors.New("registry: the ledger service's address is not set (PIPA_LEDGER_ADDR): publications wait")

// publish appends the PUBLICATION entry of a frozen version, unless it has one already, and
// records the entry on the version.
func (s *Server) publish(ctx context.Context, t, u string, kind registryv1.PolicyKind, n int32) error {
	if s.ledger == nil {
		return errNoLedger
	}
	ts := s.store.Tenant(t)
	v, err := ts.GetVersion(ctx, u, kind, n)
	if err != nil {
		return err
	}
	d := v.GetDocument()
	if d == nil || d.GetLedgerEntry() != "" {
		return nil
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	sctx, err := unitauth.AsService(cctx, s.token)
	if err != nil {
		return err
	}
	what := "공고"
	if v.GetState() == archived {
		what = "이관 (pipa 이전에 게시된 방침)"
	}
	e, err := s.ledger.AppendEntry(sctx, &ledgerv1.AppendEntryRequest{
		Parent:    names.Unit(t, u),
		RequestId: "publication:" + v.GetName(),
		Entry: &ledgerv1.Entry{
			Kind:           ledgerv1.EntryKind_ENTRY_KIND_PUBLICATION,
			OccurTime:      cmpTime(d.GetFreezeTime(), v.GetAnnounceTime()),
			FileName:       v.GetName(),
			FileFormat:     "text/html; charset=utf-8",
			Purpose:        fmt.Sprintf("%s %s (%s)", render.Title(v), what, render.Dates(v)),
			DocumentSha256: d.GetHtmlSha256(),
		},
	})
	if err != nil {
		return err
	}
	return ts.SetLedgerEntry(ctx, u, kind, n, e.GetName())
}

func cmpTime(ts ...*timestamppb.Timestamp) *timestamppb.Timestamp {
	for _, t := range ts {
		if t != nil {
			return t
		}
	}
	return timestamppb.Now()
}

// deliverSoon appends a version's publication after the call that froze it, without holding the
// call up; the queued job covers a failure.
func (s *Server) deliverSoon(t, u string, kind registryv1.PolicyKind, n int32) {
	if s.ledger == nil {
		return
	}
	go func() {
		if err := s.publish(context.Background(), t, u, kind, n); err != nil {
			slog.Info("publication left to its job", "version", names.Version(t, u, policy.Segment(kind), n), "err", err)
		}
	}()
}

// publishWorker is the outbox's job: it appends one version's publication.
type publishWorker struct {
	river.WorkerDefaults[pg.PublishArgs]
	s *Server
}

// Work appends the publication; a refusal as invalid ends the job (logged), anything else is
// retried.
func (w *publishWorker) Work(ctx context.Context, job *river.Job[pg.PublishArgs]) error {
	a := job.Args
	kind, _ := policy.KindFromSegment(a.Policy)
	err := w.s.publish(ctx, a.Tenant, a.Unit, kind, a.Number)
	if c := status.Code(err); c == codes.InvalidArgument || c == codes.PermissionDenied {
		slog.Error("the ledger refused a publication", "tenant", a.Tenant, "unit", a.Unit, "policy", a.Policy, "number", a.Number, "err", err)
		return river.JobCancel(err)
	}
	return err
}

// NextRetry: see jobs.Backoff.
func (w *publishWorker) NextRetry(job *river.Job[pg.PublishArgs]) time.Time {
	return jobs.Backoff(job.Attempt)
}
