package retention

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/services/retention/lifecycle"
	"github.com/pipa-kr/pipa/services/retention/store/pg"
)

// planReason is the 파기 사유 of the plans a sweep proposes.
const planReason = "보유기간 경과"

// maxPlanItems bounds a plan, so that a certificate and a CPO's review stay readable; what is
// left waits for the next sweep.
const maxPlanItems = 10000

func (s *Server) SweepUnit(ctx context.Context, req *retentionv1.SweepUnitRequest) (*retentionv1.SweepResult, error) {
	tenant, unit, err := s.authorizedUnit(ctx, req.GetParent(), writeRoles)
	if err != nil {
		return nil, err
	}
	key, err := idem(req.GetRequestId(), retentionv1.RetentionService_SweepUnit_FullMethodName, req)
	if err != nil {
		return nil, err
	}
	if key.RequestID != "" {
		// A retry answers the sweep its first call recorded, and sweeps nothing again.
		if w, err := s.store.SweptFor(ctx, tenant, unit, key); err != nil || w != nil {
			return sweepResult(w), err
		}
	}
	res, _, err := s.Sweep(ctx, tenant, unit, time.Time{}, key, true)
	return res, err
}

// sweepResult is what the sweep recorded as w answered.
func sweepResult(w *retentionv1.Sweep) *retentionv1.SweepResult {
	if w == nil {
		return nil
	}
	return &retentionv1.SweepResult{Destroyed: w.GetDestroyed(), Planned: w.GetPlanned(), Held: w.GetHeld(),
		Overdue: w.GetOverdue(), Plans: w.GetPlans(), HoldsChecked: w.GetHoldsChecked(),
		AccessDestroyed: w.GetAccessDestroyed(), UnclassifiedSystems: w.GetUnclassifiedSystems()}
}

func (s *Server) ListSweeps(ctx context.Context, req *retentionv1.ListSweepsRequest) (*retentionv1.ListSweepsResponse, error) {
	tenant, unit, err := s.authorizedUnit(ctx, req.GetParent(), readRoles)
	if err != nil {
		return nil, err
	}
	var vs apierr.Violations
	size := names.PageSize(&vs, req.GetPageSize())
	query := names.Query{"retention.sweeps", req.GetParent()}
	before, terr := query.ParseN(req.GetPageToken())
	if err := vs.Err(); err != nil {
		return nil, err
	}
	if terr != nil {
		return nil, terr
	}
	sweeps, next, err := s.store.ListSweeps(ctx, tenant, unit, size, before)
	if err != nil {
		return nil, err
	}
	return &retentionv1.ListSweepsResponse{Sweeps: sweeps, NextPageToken: query.TokenN(next)}, nil
}

// Sweep runs one unit's sweep at the server's clock, with the service credential: it makes the
// items of sites' recording days up to yesterday, destroys the due and unheld items of automatic
// rules in bounded batches (one DESTRUCTION entry each, STD-42-2), puts those of rules that need
// approval into a plan (STD-55), and records what it did and which holds it checked. Several
// sweepers may run at once: each batch is claimed with SKIP LOCKED, and each entry is appended
// under a request_id fixed by its outbox row. A non-zero stop bounds the destructions: no batch is
// claimed after it, the sweep records what it did, and more reports that due items may remain
// (the River job's next attempt goes on where this one stopped). idem is the request_id of the
// SweepUnit call that runs it (AIP-155), recorded with the sweep's record. access adds the
// unit's access-record passes (sweepAccess), as a SweepUnit call asks; the hourly job leaves them
// to the daily one (SweepAccessAllArgs), which makes them for every unit.
func (s *Server) Sweep(ctx context.Context, tenant, unit string, stop time.Time, idem pg.Idem, access bool) (res *retentionv1.SweepResult, more bool, err error) {
	now := s.now()
	sctx, err := s.asService(ctx)
	if err != nil {
		return nil, false, err
	}
	rules, err := s.store.SweepRules(ctx, tenant, unit)
	if err != nil {
		return nil, false, err
	}
	holds, err := s.store.ActiveHolds(ctx, tenant, unit)
	if err != nil {
		return nil, false, err
	}
	res = &retentionv1.SweepResult{}
	for _, h := range holds {
		res.HoldsChecked = append(res.HoldsChecked, names.Holds.NameN(tenant, unit, h))
	}
	// The unit's officers are listed once a sweep, not once a rule.
	head := sync.OnceValues(func() (string, error) { return s.departmentHead(sctx, tenant, unit) })
	planning := false
	for _, r := range rules {
		site, err := s.ruleSite(sctx, r)
		if err != nil {
			return nil, false, err
		}
		name := r.Doc.GetDisplayName()
		if site != nil {
			if name, err = s.siteDays(sctx, r, site, now); err != nil {
				return nil, false, err
			}
		}
		if r.Doc.GetAction() == retentionv1.Action_ACTION_PLAN {
			planning = true
			continue
		}
		handler, err := s.autoDeleteHandler(sctx, r, site, head)
		if err != nil {
			return nil, false, err
		}
		for !more {
			outbox, n, err := s.store.ClaimBatch(ctx, tenant, unit, r.ID, now, s.batch, func(items []lifecycle.Claimed) *ledgerv1.AppendEntryRequest {
				return lifecycle.AutoDeletion(r, name, handler, items, now)
			})
			if err != nil {
				return nil, false, err
			}
			if n == 0 {
				break
			}
			if err := s.deliver(sctx, tenant, outbox); err != nil {
				return nil, false, fmt.Errorf("retention: sweep of %s: %w", names.Unit(tenant, unit), err)
			}
			res.Destroyed += int64(n)
			more = !stop.IsZero() && time.Now().After(stop)
		}
	}
	if access && !more {
		// S-8-1: the access records past their system's period, within the same bound.
		astop := stop
		if astop.IsZero() {
			astop = time.Now().Add(s.sweepBudget)
		}
		var amore bool
		if res.AccessDestroyed, res.UnclassifiedSystems, amore, err = s.sweepAccess(ctx, sctx, tenant, unit, now, astop); err != nil {
			return nil, false, fmt.Errorf("retention: sweep of the access records of %s: %w", names.Unit(tenant, unit), err)
		}
		more = amore
	}
	if planning {
		p, err := s.store.ProposePlan(ctx, tenant, unit, now, maxPlanItems, planReason)
		if err != nil {
			return nil, false, err
		}
		if p != nil {
			res.Planned, res.Plans = int64(p.Doc.GetItemCount()), []string{p.Doc.GetName()}
		}
	}
	if res.Held, res.Overdue, err = s.store.UnitCounts(ctx, tenant, unit, now); err != nil {
		return nil, false, err
	}
	answer, again, err := s.store.RecordSweep(ctx, tenant, unit, idem, lifecycle.SweepRecord{Time: now, Destroyed: res.Destroyed,
		Planned: res.Planned, Held: res.Held, Overdue: res.Overdue, HoldsChecked: res.HoldsChecked, Plans: res.Plans,
		AccessDestroyed: res.AccessDestroyed, UnclassifiedSystems: res.UnclassifiedSystems})
	if err != nil || !again {
		return res, more, err
	}
	// A call with the same request_id ran at once and recorded its sweep first: its answer is ours.
	w, err := s.store.Sweep(ctx, answer)
	return sweepResult(w), more, err
}

// ruleSite is a site rule's site as the registry has it; nil for other rules, and for a site the
// registry no longer has, which records nothing new and keeps the rule's last period.
func (s *Server) ruleSite(sctx context.Context, r *lifecycle.Rule) (*registryv1.Site, error) {
	if r.Doc.GetTarget() != retentionv1.RuleTarget_RULE_TARGET_SITE {
		return nil, nil
	}
	site, err := s.registry.GetSite(sctx, &registryv1.GetSiteRequest{Name: r.Doc.GetResource()})
	if status.Code(err) == codes.NotFound {
		s.log.Warn("retention: a site rule's site is gone; no new recording days", "rule", r.Doc.GetName())
		return nil, nil
	}
	return site, err
}

// siteDays follows the registry's site: a rule's period is the site's retention days, or its
// zone's (STD-41-2), and each recording day up to yesterday becomes an item. It returns the name
// of the site (and zone) for the records. A zone the registry no longer lists records nothing
// new and keeps the rule's last period.
func (s *Server) siteDays(sctx context.Context, r *lifecycle.Rule, site *registryv1.Site, now time.Time) (string, error) {
	name := lifecycle.RecordedName(site.GetDisplayName(), r.Doc.GetZone())
	if r.Deleted != nil {
		return name, nil
	}
	days, ok := lifecycle.RetentionDays(site, r.Doc.GetZone())
	if !ok {
		s.log.Warn("retention: a zone rule's zone is gone from its site; no new recording days", "rule", r.Doc.GetName(),
			"zone", r.Doc.GetZone())
		return name, nil
	}
	if days > 0 && days != r.Doc.GetPeriodDays() {
		updated, err := s.store.UpdateRule(sctx, r.Tenant, r.Unit, r.ID, "", pg.Idem{}, func(d *retentionv1.Rule) error {
			d.PeriodDays = days
			return nil
		})
		if err != nil {
			return "", err
		}
		r.Doc = updated.Doc
	}
	today := now.In(seoul.Location)
	yesterday := time.Date(today.Year(), today.Month(), today.Day()-1, 0, 0, 0, 0, seoul.Location)
	_, err := s.store.GenerateDays(sctx, r, yesterday, name)
	return name, err
}

// autoDeleteHandler is the official of an automatic deletion's record (lifecycle.AutoDeleteHandler):
// the CCTV manager the site names in the registry (site, from ruleSite), or failing one the
// unit's head (head, departmentHead).
func (s *Server) autoDeleteHandler(sctx context.Context, r *lifecycle.Rule, site *registryv1.Site, head func() (string, error)) (string, error) {
	var manager *registryv1.Officer
	if m := site.GetManager(); m != "" {
		o, err := s.registry.GetOfficer(sctx, &registryv1.GetOfficerRequest{Name: m})
		if err != nil && apierr.CodeOf(err) != codes.NotFound {
			return "", err
		}
		manager = o
	}
	var h string
	if manager == nil {
		var err error
		if h, err = head(); err != nil {
			return "", err
		}
	}
	handler, named := lifecycle.AutoDeleteHandler(manager, h)
	if !named {
		s.log.Warn("retention: the unit names no CCTV manager or CPO for its automatic deletions' records", "rule", r.Doc.GetName())
	}
	return handler, nil
}

// deliver appends outbox entry id to the ledger with the credential in ctx (pkg/ledgerout), which
// records it and what it records (pg.Store.Delivered). An entry waiting for the one it follows is
// left for later (ledgerout.ErrWaiting). One the ledger refuses can never be appended: the outbox
// undoes what it was to record (pg.Store.Refused), counts it (pipa.retention.ledger_refused) and
// logs it, and the error is LEDGER_REFUSED.
func (s *Server) deliver(ctx context.Context, tenant string, id int64) error {
	_, err := s.outbox.Deliver(ctx, tenant, id)
	var r *ledgerout.Refusal
	if errors.As(err, &r) {
		return ledgerRefused(id, r.Reason)
	}
	return err
}

// ledgerRefused is the error of an entry the ledger refused for good.
func ledgerRefused(id int64, why string) error {
	return apierr.Precondition("LEDGER_REFUSED", fmt.Sprintf("the ledger refused the record of this change (%s); "+
		"nothing was recorded, and what it was to record is as it was (retention outbox %d)", why, id))
}

// isRefused reports whether err is an entry's refusal by the ledger.
func isRefused(err error) bool {
	var e *apierr.Error
	return errors.As(err, &e) && e.Reason == "LEDGER_REFUSED"
}

// SweepAllArgs is the hourly job that starts a sweep of every unit with rules.
type SweepAllArgs struct{}

func (SweepAllArgs) Kind() string { return "retention.sweep_all" }

// SweepUnitArgs is one unit's sweep. Unique by unit per hour, so that replicas and restarts
// enqueue it once.
type SweepUnitArgs struct {
	Tenant string `json:"tenant"`
	Unit   string `json:"unit"`
}

func (SweepUnitArgs) Kind() string { return "retention.sweep_unit" }

func (SweepUnitArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: time.Hour}}
}

// SweepAllWorker enqueues the units' sweeps.
type SweepAllWorker struct {
	river.WorkerDefaults[SweepAllArgs]
	S *Server
}

func (w *SweepAllWorker) Work(ctx context.Context, _ *river.Job[SweepAllArgs]) error {
	units, err := w.S.store.SweptUnits(ctx)
	if err != nil {
		return err
	}
	return enqueuePerUnit(ctx, units, func(t, u string) river.JobArgs { return SweepUnitArgs{Tenant: t, Unit: u} })
}

// enqueuePerUnit inserts, from a running job, one job a unit (tenant, unit) made by args.
func enqueuePerUnit(ctx context.Context, units [][2]string, args func(tenant, unit string) river.JobArgs) error {
	if len(units) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(units))
	for i, u := range units {
		params[i] = river.InsertManyParams{Args: args(u[0], u[1])}
	}
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return err
	}
	_, err = client.InsertMany(ctx, params)
	return err
}

// SweepUnitWorker runs one unit's sweep, without the access-record passes: the daily
// SweepAccessWorker makes those.
type SweepUnitWorker struct {
	river.WorkerDefaults[SweepUnitArgs]
	S *Server
}

// Work sweeps for at most the server's sweep budget (WithSweepBudget), well within the job's
// timeout (jobs.Timeout), so that a unit with a long backlog never runs into it and a killed
// sweep is rescued as soon as any job (jobs.RescueAfter). What is left is the next attempt's: the
// job snoozes (which takes no attempt) only when this one destroyed something, so it cannot loop
// for ever; each destroyed batch is committed with its outbox entry, so no work is lost or done twice.
func (w *SweepUnitWorker) Work(ctx context.Context, job *river.Job[SweepUnitArgs]) error {
	res, more, err := w.S.Sweep(ctx, job.Args.Tenant, job.Args.Unit, time.Now().Add(w.S.sweepBudget), pg.Idem{}, false)
	if err == nil && more && res.GetDestroyed() > 0 {
		return river.JobSnooze(0)
	}
	return err
}
