package requests

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"google.golang.org/grpc/codes"

	"github.com/pipa-kr/pipa/pkg/apierr"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/jobs"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/requests/request"
	"github.com/pipa-kr/pipa/services/requests/store/pg"
)

// The request service never waits on the retention service: what retention must keep track of is
// handed to it by jobs written in the transaction of the step that calls for it — a provided
// copy once its PROVISION entry is in the ledger (the outbox's hook, C-9), a closed request's
// record when it closes (PIPA-21-1) — tried once at once by that step's call and retried by the
// job while retention is out or not configured. Retention calls this service at run time (to read
// a request, and to erase one at the end of its retention); this service only hands work to it,
// so the two never wait on each other.

// HandOff gives the retention service what it tracks, with the service credential.
type HandOff struct {
	store     *pg.Store
	retention retentionv1.RetentionServiceClient
	token     func() (string, error)
	log       *slog.Logger
}

// NewHandOff returns the hand-offs to retention (nil while its address is not set: they wait).
func NewHandOff(store *pg.Store, retention retentionv1.RetentionServiceClient, token func() (string, error)) *HandOff {
	return &HandOff{store: store, retention: retention, token: token, log: slog.Default()}
}

// serviceCtx carries the service credential on outgoing calls, bounded in time.
func (h *HandOff) serviceCtx(ctx context.Context) (context.Context, context.CancelFunc, error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	sctx, err := unitauth.AsService(cctx, h.token)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return sctx, cancel, nil
}

// errNoRetention: without the retention service's address, what it must keep waits in its job.
var errNoRetention = errors.New("requests: the retention service's address is not set (PIPA_RETENTION_ADDR): retention work waits")

// errNoCopy: the request has no copy to track, which is not a failure.
var errNoCopy = errors.New("requests: no copy to track")

// errProvisionPending: the PROVISION entry a copy follows is not in the ledger yet.
var errProvisionPending = errors.New("requests: the provision's entry is not in the ledger yet")

// provisionWait bounds how long a copy's job waits for its PROVISION entry. The outbox writes the
// job once the entry is in the ledger, so only a job written with the step (an earlier version)
// waits at all; an entry still missing after an hour is not coming by itself (the ledger has
// been out that long, or the outbox row is stuck), and the copy is given up loudly rather than
// waited on for ever.
const provisionWait = time.Hour

// TrackCopy creates, in the retention service, the tracked copy of an approved provision, once
// its PROVISION entry (the request's first) is in the ledger (C-9). Its request_id is fixed by the
// request, so calling it twice creates one copy.
func (h *HandOff) TrackCopy(ctx context.Context, tenant, receipt string) error {
	r, err := h.store.GetAny(ctx, tenant, receipt)
	if err != nil || r.Doc.GetCopy() != "" {
		return err
	}
	p := r.Doc.GetProvision()
	if p == nil || p.GetForm() == requestsv1.ProvisionForm_PROVISION_FORM_ON_SITE_VIEWING || len(r.Doc.GetLedger()) == 0 {
		return errNoCopy
	}
	switch first := r.Doc.GetLedger()[0]; {
	case first.GetFailure() != "":
		return errNoCopy // no PROVISION entry to amend: the failure is shown on the request
	case first.GetPending():
		return errProvisionPending
	}
	if h.retention == nil {
		return errNoRetention
	}
	cctx, cancel, err := h.serviceCtx(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	c, err := h.retention.CreateCopy(cctx, &retentionv1.CreateCopyRequest{
		Parent:    names.Unit(tenant, r.Unit),
		RequestId: request.Key(r) + "/copy",
		Copy: &retentionv1.Copy{Request: r.Doc.GetName(), ProvisionIndex: r.Doc.GetLedger()[0].GetIndex(),
			Recipient: p.GetRequestingBody(), Description: request.CopyDescription(r),
			DestructionDueDate: p.GetDestructionDueDate(), PublicRecipient: p.GetPublicRecipient(),
			RecipientEmail: r.Personal.Requester.GetEmail()}, // the requesting officer gets the reminders (C-9)
	})
	if err != nil {
		return err
	}
	return h.store.CopyTracked(ctx, tenant, receipt, c.GetName())
}

// CopyWorker is the job that hands a provided copy to the retention service.
type CopyWorker struct {
	river.WorkerDefaults[pg.CopyArgs]
	H *HandOff
}

// Work tracks the copy; a retention service that refuses it as invalid ends the job (logged),
// anything else is retried. A PROVISION entry not yet in the ledger is retried as a failed
// attempt (logged, with backoff) for provisionWait after the job was written, then the job is
// cancelled: logged at Error and counted by pipa.requests.copy_handoffs_failed.
func (w *CopyWorker) Work(ctx context.Context, job *river.Job[pg.CopyArgs]) error {
	a := job.Args
	err := w.H.TrackCopy(ctx, a.Tenant, a.Receipt)
	switch c := apierr.CodeOf(err); {
	case err == nil, errors.Is(err, errNoCopy):
		return nil
	case errors.Is(err, errProvisionPending) && time.Since(job.CreatedAt) > provisionWait:
		w.H.log.Error("a provided copy was not handed to the retention service: its PROVISION entry is still not in the ledger",
			"tenant", a.Tenant, "receipt", a.Receipt, "waited", time.Since(job.CreatedAt).Round(time.Second))
		return river.JobCancel(err)
	case c == codes.InvalidArgument, c == codes.AlreadyExists:
		// Refused, or tracked already under another request (staff entered it): never retried.
		w.H.log.Error("the retention service refused a provided copy", "tenant", a.Tenant, "receipt", a.Receipt, "err", err)
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
func (h *HandOff) RegisterClosed(ctx context.Context, tenant, receipt string) error {
	if h.retention == nil {
		return errNoRetention
	}
	r, err := h.store.GetAny(ctx, tenant, receipt)
	if err != nil {
		return err
	}
	cctx, cancel, err := h.serviceCtx(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	parent := names.Unit(tenant, r.Unit)
	for token := ""; ; {
		rules, err := h.retention.ListRules(cctx, &retentionv1.ListRulesRequest{Parent: parent, PageToken: token})
		if err != nil {
			return err
		}
		for _, rule := range rules.GetRules() {
			if rule.GetTarget() != retentionv1.RuleTarget_RULE_TARGET_CLOSED_REQUESTS {
				continue
			}
			if _, err := h.retention.CreateItem(cctx, &retentionv1.CreateItemRequest{Parent: parent,
				RequestId: request.Key(r) + "/" + names.Last(rule.GetName()),
				Item:      &retentionv1.Item{Rule: rule.GetName(), Resource: r.Doc.GetName(), ClockStartTime: r.Doc.GetCloseTime()},
			}); err != nil && apierr.CodeOf(err) != codes.AlreadyExists { // staff registered it already
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
	H *HandOff
}

// Work registers the record; a refusal as invalid ends the job (logged), anything else is retried.
func (w *ClosedWorker) Work(ctx context.Context, job *river.Job[pg.ClosedArgs]) error {
	err := w.H.RegisterClosed(ctx, job.Args.Tenant, job.Args.Receipt)
	if apierr.CodeOf(err) == codes.InvalidArgument {
		w.H.log.Error("the retention service refused a closed request's record", "tenant", job.Args.Tenant, "receipt", job.Args.Receipt, "err", err)
		return river.JobCancel(err)
	}
	return err
}

// NextRetry: see jobs.Backoff.
func (w *ClosedWorker) NextRetry(job *river.Job[pg.ClosedArgs]) time.Time {
	return jobs.Backoff(job.Attempt)
}
