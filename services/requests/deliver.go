package requests

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/jobs"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/requests/store/pg"
)

// Deliverer appends the outbox's entries to the ledger: at once, from the call that made the
// step, and again from its job until the ledger has it. Each entry carries a request_id fixed
// when the step was written, so delivering twice appends once (the ledger answers a replay with
// the first entry).
type Deliverer struct {
	store     *pg.Store
	ledger    ledgerv1.LedgerServiceClient
	retention retentionv1.RetentionServiceClient
	token     func() (string, error)
	log       *slog.Logger
}

// NewDeliverer returns a Deliverer appending with the service credential token; it also hands
// provided copies to the retention service.
func NewDeliverer(store *pg.Store, ledger ledgerv1.LedgerServiceClient, retention retentionv1.RetentionServiceClient, token func() (string, error)) *Deliverer {
	return &Deliverer{store: store, ledger: ledger, retention: retention, token: token, log: slog.Default()}
}

// serviceCtx carries the service credential on outgoing calls, bounded in time.
func (d *Deliverer) serviceCtx(ctx context.Context) (context.Context, context.CancelFunc, error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	sctx, err := unitauth.AsService(cctx, d.token)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return sctx, cancel, nil
}

// errNoRetention: without the retention service's address, what it must keep waits in the outbox.
var errNoRetention = errors.New("requests: the retention service's address is not set (PIPA_RETENTION_ADDR): retention work waits")

// errNoCopy: the request has no copy to track (yet), which is not a failure.
var errNoCopy = errors.New("requests: no copy to track")

// TrackCopy creates, in the retention service, the tracked copy of an approved provision whose
// PROVISION entry is step seq, once that entry is in the ledger (C-9). Its request_id is fixed by
// the request, so calling it twice creates one copy.
func (d *Deliverer) TrackCopy(ctx context.Context, tenant, receipt string, seq int) error {
	st, err := d.store.Step(ctx, tenant, receipt, seq)
	switch {
	case err != nil:
		return err
	case st.Failed != "":
		return errNoCopy // no PROVISION entry to amend: the failure is reported as the step's
	case st.Delivered == nil:
		return pg.ErrFollowedPending
	}
	rec, err := d.store.GetAny(ctx, tenant, receipt)
	if err != nil || rec.Doc.GetCopy() != "" {
		return err
	}
	if d.retention == nil {
		return errNoRetention
	}
	p := rec.Doc.GetProvision()
	cctx, cancel, err := d.serviceCtx(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	c, err := d.retention.CreateCopy(cctx, &retentionv1.CreateCopyRequest{
		Parent:    names.Unit(tenant, rec.Unit),
		RequestId: requestKey(rec) + "/copy",
		Copy: &retentionv1.Copy{Request: rec.Doc.GetName(), ProvisionIndex: *st.Delivered,
			Recipient: p.GetRequestingBody(), Description: subjectMatter(rec) + ", " + provisionFormLabel[p.GetForm()],
			DestructionDueDate: p.GetDestructionDueDate(), PublicRecipient: p.GetPublicRecipient()},
	})
	if err != nil {
		return err
	}
	return d.store.CopyTracked(ctx, tenant, receipt, c.GetName())
}

// ErrRefused means the ledger refused the step's entry; the step is recorded as failed.
var ErrRefused = errors.New("requests: the ledger refused the entry")

// Deliver appends step seq of a request and records its index. An entry the ledger refuses as
// invalid can never be appended: the step is recorded as failed (with every step that follows
// it) and ErrRefused returned, instead of retrying for ever.
func (d *Deliverer) Deliver(ctx context.Context, tenant, receipt string, seq int) (int64, error) {
	st, err := d.store.Step(ctx, tenant, receipt, seq)
	if errors.Is(err, pg.ErrFollowedFailed) {
		return 0, d.refused(ctx, tenant, receipt, seq, "follows a step the ledger refused")
	}
	if err != nil {
		return 0, err
	}
	switch {
	case st.Delivered != nil:
		return *st.Delivered, nil
	case st.Failed != "":
		return 0, ErrRefused
	}
	if st.FollowsIndex != nil {
		st.Entry.Entry.Follows = st.FollowsIndex
	}
	actx, cancel, err := d.serviceCtx(ctx)
	if err != nil {
		return 0, err
	}
	defer cancel()
	e, err := d.ledger.AppendEntry(actx, st.Entry)
	if c := status.Code(err); c == codes.InvalidArgument || c == codes.FailedPrecondition {
		return 0, d.refused(ctx, tenant, receipt, seq, status.Convert(err).Message())
	}
	if err != nil {
		return 0, err
	}
	return e.GetIndex(), d.store.Delivered(ctx, tenant, receipt, seq, e.GetIndex())
}

func (d *Deliverer) refused(ctx context.Context, tenant, receipt string, seq int, reason string) error {
	d.log.Error("the ledger refused a request step's entry", "tenant", tenant, "receipt", receipt, "seq", seq, "reason", reason)
	if err := d.store.Failed(ctx, tenant, receipt, seq, reason); err != nil {
		return err
	}
	return ErrRefused
}

// Worker is the outbox's job: it delivers one step, retried with backoff while the ledger is out.
type Worker struct {
	river.WorkerDefaults[pg.DeliverArgs]
	D *Deliverer
}

// Work delivers the step; a refused entry ends the job (it is recorded as failed), anything else
// is retried.
func (w *Worker) Work(ctx context.Context, job *river.Job[pg.DeliverArgs]) error {
	a := job.Args
	_, err := w.D.Deliver(ctx, a.Tenant, a.Receipt, a.Seq)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pg.ErrFollowedPending):
		return river.JobSnooze(5 * time.Second)
	case errors.Is(err, ErrRefused):
		return river.JobCancel(err)
	}
	return err
}

// NextRetry: see jobs.Backoff.
func (w *Worker) NextRetry(job *river.Job[pg.DeliverArgs]) time.Time {
	return jobs.Backoff(job.Attempt)
}

// CopyWorker is the job that hands a provided copy to the retention service.
type CopyWorker struct {
	river.WorkerDefaults[pg.CopyArgs]
	D *Deliverer
}

// Work tracks the copy once its PROVISION entry is in the ledger; a retention service that refuses
// it as invalid ends the job (logged), anything else is retried.
func (w *CopyWorker) Work(ctx context.Context, job *river.Job[pg.CopyArgs]) error {
	a := job.Args
	err := w.D.TrackCopy(ctx, a.Tenant, a.Receipt, a.Seq)
	switch {
	case err == nil, errors.Is(err, errNoCopy):
		return nil
	case errors.Is(err, pg.ErrFollowedPending):
		return river.JobSnooze(5 * time.Second)
	case status.Code(err) == codes.InvalidArgument, status.Code(err) == codes.AlreadyExists:
		// Refused, or tracked already under another request (staff entered it): never retried.
		w.D.log.Error("the retention service refused a provided copy", "tenant", a.Tenant, "receipt", a.Receipt, "err", err)
		return river.JobCancel(err)
	}
	return err
}

// NextRetry: see jobs.Backoff.
func (w *CopyWorker) NextRetry(job *river.Job[pg.CopyArgs]) time.Time {
	return jobs.Backoff(job.Attempt)
}

// RegisterClosed registers a closed request's record as an item of each of its unit's rules for
// closed requests (none: nothing to register). The request_ids are fixed by request and rule, so
// registering twice registers once.
func (d *Deliverer) RegisterClosed(ctx context.Context, tenant, receipt string) error {
	if d.retention == nil {
		return errNoRetention
	}
	rec, err := d.store.GetAny(ctx, tenant, receipt)
	if err != nil {
		return err
	}
	cctx, cancel, err := d.serviceCtx(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	parent := names.Unit(tenant, rec.Unit)
	for token := ""; ; {
		rules, err := d.retention.ListRules(cctx, &retentionv1.ListRulesRequest{Parent: parent, PageToken: token})
		if err != nil {
			return err
		}
		for _, r := range rules.GetRules() {
			if r.GetTarget() != retentionv1.RuleTarget_RULE_TARGET_CLOSED_REQUESTS {
				continue
			}
			if _, err := d.retention.CreateItem(cctx, &retentionv1.CreateItemRequest{Parent: parent,
				RequestId: requestKey(rec) + "/" + names.Last(r.GetName()),
				Item:      &retentionv1.Item{Rule: r.GetName(), Resource: rec.Doc.GetName(), ClockStartTime: rec.Doc.GetCloseTime()},
			}); err != nil && status.Code(err) != codes.AlreadyExists { // staff registered it already
				return err
			}
		}
		if token = rules.GetNextPageToken(); token == "" {
			return nil
		}
	}
}

// ClosedWorker is the job that registers a closed request's record with the retention service.
type ClosedWorker struct {
	river.WorkerDefaults[pg.ClosedArgs]
	D *Deliverer
}

// Work registers the record; a refusal as invalid ends the job (logged), anything else is retried.
func (w *ClosedWorker) Work(ctx context.Context, job *river.Job[pg.ClosedArgs]) error {
	err := w.D.RegisterClosed(ctx, job.Args.Tenant, job.Args.Receipt)
	if status.Code(err) == codes.InvalidArgument {
		w.D.log.Error("the retention service refused a closed request's record", "tenant", job.Args.Tenant, "receipt", job.Args.Receipt, "err", err)
		return river.JobCancel(err)
	}
	return err
}

// NextRetry: see jobs.Backoff.
func (w *ClosedWorker) NextRetry(job *river.Job[pg.ClosedArgs]) time.Time {
	return jobs.Backoff(job.Attempt)
}
