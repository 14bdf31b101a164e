package retention

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/riverqueue/river"

	"github.com/pipa-kr/pipa/pkg/accesslog"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/rolechange"
	"github.com/pipa-kr/pipa/services/retention/lifecycle"
	"github.com/pipa-kr/pipa/services/retention/store/pg"
)

// roleChangeReason is the reason of every REDACTION of a role change past S-5's three years.
const roleChangeReason = "보존기간 경과 (권한 부여·변경·말소 기록 3년, S-5)"

// sweepRoleChanges erases the values (account and name) of the ROLE_CHANGE entries of tenant's
// own log three years after their change (S-5), each by a REDACTION through the ledger, which
// keeps the leaf and every proof as they were, and deletes the index rows that no longer state
// an account's roles. It reads the entries not yet erased in index order and stops at the first
// not yet due: an entry carried into the log after a later one waits for it, late, never early.
// Each redaction's request_id is fixed by its entry, so a sweeper killed half-way appends nothing
// twice. more says the stop time cut it short.
func (s *Server) sweepRoleChanges(sctx context.Context, tenant string, now, stop time.Time) (erased int64, more bool, err error) {
	req := &ledgerv1.ListEntriesRequest{Parent: names.Unit(tenant, names.TenantLog), PageSize: accessPage,
		Kind: ledgerv1.EntryKind_ENTRY_KIND_ROLE_CHANGE, Unredacted: true}
	for {
		page, err := s.ledger.ListEntries(sctx, req)
		if err != nil {
			return erased, false, err
		}
		for _, e := range page.GetEntries() {
			if now.Before(rolechange.KeptUntil(e.GetOccurTime().AsTime())) {
				return erased, false, nil
			}
			if _, err := s.ledger.RedactEntry(sctx, &ledgerv1.RedactEntryRequest{Name: e.GetName(), Reason: roleChangeReason,
				RequestId: fmt.Sprintf("retention/role-change/%d", e.GetIndex())}); err != nil {
				return erased, false, fmt.Errorf("retention: erase the role change %s: %w", e.GetName(), err)
			}
			erased++
		}
		if req.PageToken = page.GetNextPageToken(); req.PageToken == "" {
			return erased, false, nil
		}
		if time.Now().After(stop) {
			return erased, true, nil
		}
	}
}

// accessPage is how many ACCESS entries a pass reads at a time.
const accessPage = 500

// accessReason is the reason of every REDACTION of an access record: fixed, so that a redaction
// repeated under its request_id is the same request whatever changed in between (AIP-155).
const accessReason = "보유기간 경과 (접속기록, S-8-1)"

// accessRun is one sweep's work on a unit's access records.
type accessRun struct {
	s            *Server
	sctx         context.Context
	tenant, unit string
	now, stop    time.Time
	classes      map[string]lifecycle.AccessClass
	// files are the unit's personal-information files, read from the registry when a record's
	// class is first needed (a unit without access records asks nothing).
	files     []*registryv1.PersonalInformationFile
	filesRead bool
	// seen are the systems of the entries the seen pass read.
	seen      map[string]bool
	destroyed int64
}

// sweepAccess destroys the unit's access records (ACCESS entries) past their system's period
// (S-8-1), each by a REDACTION through the ledger, which keeps the entry's leaf hash so that the
// log verifies as before (S-8-3). Three passes read the entries in index order, each from where it
// stopped (pg.PassSeen, PassShort, PassLong): one notes the systems of new entries; the short pass stops at the
// first record of a one-year system not yet due, the long pass at the first of a two-year system,
// and each redacts every due record it reads and passes over the other's records not yet due. So
// every entry is read a bounded number of times whatever the backlog, and a record is never
// redacted before its period, computed at the moment from the facts the files state
// (lifecycle.ClassifyAccess). A record behind a stopped pass (one taken in long after its access)
// is redacted late, never early; when the facts change a system's period, both passes start again
// from the first entry, so that no record is passed over by both. Each pass saves its position
// after each page, and each redaction's request_id is fixed by its entry
// ("retention/access/{index}"), so a sweeper killed at any point leaves the next one to redo at
// most a page, appending nothing twice; an entry already redacted is passed over. One sweeper
// works a unit's records at a time (its lease); another skips them. No call is made inside a
// transaction. It returns the count it redacted, the unit's unclassified systems, and whether the
// stop time cut it short.
func (s *Server) sweepAccess(ctx, sctx context.Context, tenant, unit string, now, stop time.Time) (int64, []string, bool, error) {
	cursors, ok, err := s.store.ClaimAccess(ctx, tenant, unit, stop.Add(time.Minute))
	if err != nil || !ok {
		return 0, nil, false, err
	}
	defer func() { _ = s.store.ReleaseAccess(context.WithoutCancel(ctx), tenant, unit) }()
	r := &accessRun{s: s, sctx: sctx, tenant: tenant, unit: unit, now: now, stop: stop,
		classes: map[string]lifecycle.AccessClass{}, seen: map[string]bool{}}
	more, err := r.pass(ctx, pg.PassSeen, cursors[pg.PassSeen], true)
	if err != nil {
		return 0, nil, false, err
	}
	applied, err := s.store.AccessSystems(ctx, tenant, unit)
	if err != nil {
		return 0, nil, false, err
	}
	years := map[string]int{}
	var unclassified []string
	restart := false
	for sys := range r.seen {
		if _, ok := applied[sys]; !ok {
			applied[sys] = 0 // new: no period applied yet
		}
	}
	for sys, was := range applied {
		c, err := r.class(sys)
		if err != nil {
			return 0, nil, false, err
		}
		years[sys] = c.Years
		if !c.Classified {
			unclassified = append(unclassified, sys)
		}
		if was != 0 && was != c.Years {
			s.log.Info("retention: a system's access-record period changed; the passes start again", "unit", names.Unit(tenant, unit),
				"system", sys, "years", c.Years, "was", was)
			cursors[pg.PassShort], cursors[pg.PassLong] = pg.AccessCursor{}, pg.AccessCursor{}
			restart = true
		}
	}
	slices.Sort(unclassified)
	for _, pass := range []pg.AccessPass{pg.PassShort, pg.PassLong} {
		m, err := r.pass(ctx, pass, cursors[pass], !restart)
		if err != nil {
			return r.destroyed, nil, false, err
		}
		more = more || m
	}
	// Recorded once both passes saved where they start under the periods now applied.
	if err := s.store.SetAccessSystems(ctx, tenant, unit, years, now); err != nil {
		return r.destroyed, nil, false, err
	}
	return r.destroyed, unclassified, more, nil
}

// pass runs one pass from c until it stops, the log ends or the stop time passes (more). saved
// says the store holds c already: a page that moves nothing is then not saved again.
func (r *accessRun) pass(ctx context.Context, pass pg.AccessPass, c pg.AccessCursor, saved bool) (more bool, err error) {
	parent := names.Unit(r.tenant, r.unit)
	for {
		page, err := r.s.ledger.ListEntries(r.sctx, &ledgerv1.ListEntriesRequest{Parent: parent, PageSize: accessPage,
			PageToken: c.Token, Kind: ledgerv1.EntryKind_ENTRY_KIND_ACCESS})
		if err != nil {
			return false, err
		}
		if bad := page.GetUnreadable(); len(bad) > 0 {
			// S-8-3: the ledger counts them too (pipa.ledger.sealed_unreadable); each is still
			// destroyed when due, from its system and time, which its leaf states.
			r.s.log.Error("retention: access records whose stored values do not open; the sweep goes on past them",
				"unit", parent, "entries", bad)
		}
		es := page.GetEntries()
		stopped, from := false, c.Skip
		for ; c.Skip < len(es); c.Skip++ {
			var settled bool
			if settled, err = r.visit(pass, es[c.Skip]); err != nil || !settled {
				stopped = true
				break
			}
		}
		// Saved once a page: where the pass stopped within it, or else the next page; not at
		// all when the store holds it already (a last page that moved nothing).
		last := err != nil || stopped || page.GetNextPageToken() == ""
		moved := c.Skip != from
		if !last {
			c, moved = pg.AccessCursor{Token: page.GetNextPageToken()}, true
		}
		if !saved || moved {
			if serr := r.s.store.SaveAccess(ctx, r.tenant, r.unit, pass, c); serr != nil && err == nil {
				err = serr
			}
		}
		saved = true
		if last || err != nil {
			return false, err
		}
		if time.Now().After(r.stop) {
			return true, nil
		}
	}
}

// visit settles e for pass: false when the pass must stop at e (a record of its own not yet due).
func (r *accessRun) visit(pass pg.AccessPass, e *ledgerv1.Entry) (bool, error) {
	sys := accesslog.System(e)
	if pass == pg.PassSeen {
		r.seen[sys] = true
		return true, nil
	}
	c, err := r.class(sys)
	if err != nil {
		return false, err
	}
	mine := (pass == pg.PassShort) == (c.Years == accesslog.ShortYears)
	switch {
	case e.GetRedacted():
		return true, nil
	case !c.AccessDue(e.GetOccurTime().AsTime(), r.now):
		return !mine, nil // the other pass's record waits for that pass
	}
	_, err = r.s.ledger.RedactEntry(r.sctx, &ledgerv1.RedactEntryRequest{Name: e.GetName(), Reason: accessReason,
		RequestId: fmt.Sprintf("retention/access/%d", e.GetIndex())})
	if err != nil {
		return false, fmt.Errorf("retention: redact the access record %s: %w", e.GetName(), err)
	}
	r.destroyed++
	return true, nil
}

// class is sys's class from the unit's files, computed once a sweep.
func (r *accessRun) class(sys string) (lifecycle.AccessClass, error) {
	if c, ok := r.classes[sys]; ok {
		return c, nil
	}
	if !r.filesRead && r.unit != names.TenantLog { // a tenant's own log holds pipa's records alone, of no file's system
		files, err := r.s.unitFiles(r.sctx, r.tenant, r.unit)
		if err != nil {
			return lifecycle.AccessClass{}, err
		}
		r.files, r.filesRead = files, true
	}
	c := lifecycle.ClassifyAccess(sys, r.files)
	r.classes[sys] = c
	return c, nil
}

// unitFiles are the unit's personal-information files, every page.
func (s *Server) unitFiles(sctx context.Context, tenant, unit string) ([]*registryv1.PersonalInformationFile, error) {
	var out []*registryv1.PersonalInformationFile
	tok := ""
	for {
		page, err := s.registry.ListFiles(sctx, &registryv1.ListFilesRequest{Parent: names.Unit(tenant, unit), PageSize: 500, PageToken: tok})
		if err != nil {
			return nil, err
		}
		out = append(out, page.GetFiles()...)
		if tok = page.GetNextPageToken(); tok == "" {
			return out, nil
		}
	}
}

// accessLogs are the logs that hold access records: the units of every tenant, as the registry
// lists them to the service, and each tenant's own log (names.TenantLog, the operators' too),
// which holds the records of its reads and its staff's role changes.
func (s *Server) accessLogs(ctx context.Context) ([][2]string, error) {
	sctx, err := s.asService(ctx)
	if err != nil {
		return nil, err
	}
	out := [][2]string{{names.OperatorTenant, names.TenantLog}}
	for ttok := ""; ; {
		ts, err := s.registry.ListTenants(sctx, &registryv1.ListTenantsRequest{PageSize: 500, PageToken: ttok})
		if err != nil {
			return nil, err
		}
		for _, t := range ts.GetTenants() {
			tenant, err := names.ParseTenant("tenant", t.GetName())
			if err != nil {
				return nil, err
			}
			out = append(out, [2]string{tenant, names.TenantLog})
			for utok := ""; ; {
				us, err := s.registry.ListUnits(sctx, &registryv1.ListUnitsRequest{Parent: t.GetName(), PageSize: 500, PageToken: utok})
				if err != nil {
					return nil, err
				}
				for _, u := range us.GetUnits() {
					tenant, unit, err := names.ParseUnit("unit", u.GetName())
					if err != nil {
						return nil, err
					}
					out = append(out, [2]string{tenant, unit})
				}
				if utok = us.GetNextPageToken(); utok == "" {
					break
				}
			}
		}
		if ttok = ts.GetNextPageToken(); ttok == "" {
			return out, nil
		}
	}
}

// SweepAccessAllArgs is the daily job that starts the access-record pass of every unit the
// registry lists (S-8-1): each unit's ledger keeps access records, whether or not it has rules.
// A SweepUnit call makes the same pass; the hourly sweep of a unit's rules does not. It starts
// the pass of each tenant's own log too, which also erases its role changes past S-5's three
// years.
type SweepAccessAllArgs struct{}

func (SweepAccessAllArgs) Kind() string { return "retention.sweep_access_all" }

// SweepAccessArgs is one unit's access-record pass, unique by unit per day.
type SweepAccessArgs struct {
	Tenant string `json:"tenant"`
	Unit   string `json:"unit"`
}

func (SweepAccessArgs) Kind() string { return "retention.sweep_access" }

func (SweepAccessArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: 24 * time.Hour}}
}

// SweepAccessAllWorker enqueues the units' access-record passes.
type SweepAccessAllWorker struct {
	river.WorkerDefaults[SweepAccessAllArgs]
	S *Server
}

func (w *SweepAccessAllWorker) Work(ctx context.Context, _ *river.Job[SweepAccessAllArgs]) error {
	units, err := w.S.accessLogs(ctx)
	if err != nil {
		return err
	}
	return enqueuePerUnit(ctx, units, func(t, u string) river.JobArgs { return SweepAccessArgs{Tenant: t, Unit: u} })
}

// SweepAccessWorker runs one unit's access-record pass within the sweep budget, as
// SweepUnitWorker does; a pass that destroyed records is recorded as a sweep (access_destroyed,
// with the unit's unclassified systems), even when an error cut it short, and snoozes while
// records remain.
type SweepAccessWorker struct {
	river.WorkerDefaults[SweepAccessArgs]
	S *Server
}

func (w *SweepAccessWorker) Work(ctx context.Context, job *river.Job[SweepAccessArgs]) error {
	s, t, u := w.S, job.Args.Tenant, job.Args.Unit
	sctx, err := s.asService(ctx)
	if err != nil {
		return err
	}
	now, stop := s.now(), time.Now().Add(s.sweepBudget)
	var roleErr error
	roleMore := false
	if u == names.TenantLog {
		// S-5: the tenant's own log holds its staff's role changes, erased three years on. One
		// that fails does not keep the log's access records (S-8-1) from going: both run.
		var erased int64
		erased, roleMore, roleErr = s.sweepRoleChanges(sctx, t, now, stop)
		if erased > 0 {
			s.log.Info("retention: role changes past their three years erased (S-5)", "log", names.Unit(t, u), "entries", erased)
		}
	}
	n, unclassified, more, err := s.sweepAccess(ctx, sctx, t, u, now, stop)
	more = more || roleMore
	if n > 0 && u == names.TenantLog { // no unit's sweep record: logged
		s.log.Info("retention: access records past their period destroyed (S-8-1)", "log", names.Unit(t, u), "entries", n)
	} else if n > 0 {
		if _, _, rerr := s.store.RecordSweep(ctx, t, u, pg.Idem{}, lifecycle.SweepRecord{Time: now, AccessDestroyed: n,
			UnclassifiedSystems: unclassified}); rerr != nil && err == nil {
			err = rerr
		}
	}
	err = errors.Join(roleErr, err)
	// Out of time with more to read: again at once. Each run saved its cursor past what it read,
	// so a unit whose records are not yet due still catches up (S-8-1).
	if err == nil && more {
		return river.JobSnooze(0)
	}
	return err
}
