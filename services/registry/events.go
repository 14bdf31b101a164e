package registry

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/services/registry/policy"
	"github.com/pipa-kr/pipa/services/registry/store/pg"
)

// The registry's events reach the request service's subscriptions through its outbound
// (outbound.Relay): written in the transaction of the announcement, or of the job that finds a
// version's effective date come, and relayed until the request service takes them.

// policyEvent is an event of version v of unit u: its name, kind, number and dates.
func policyEvent(typ, u string, v *registryv1.PolicyVersion) outbound.Event {
	return outbound.Event{Unit: u, Type: typ, Subject: v.GetName(), Data: map[string]any{"version": v.GetName(),
		"kind": policy.Segment(v.GetKind()), "number": v.GetNumber(), "announceDate": v.GetAnnounceDate(),
		"effectiveDate": v.GetEffectiveDate(), "majorChange": v.GetMajorChange()}}
}

// inForceKey makes a version's in-force event the only one (pg.ComingIntoForce reads it).
func inForceKey(version string) string { return "policy-in-force/" + version }

// announcementEvents writes, in tx, the events of announcing v: announced, and in force when its
// effective date is today or earlier (STD-21).
func announcementEvents(ctx context.Context, tx *pg.TenantStore, u string, v *registryv1.PolicyVersion, eff, today policy.Date) error {
	if err := tx.Relay(ctx, "", policyEvent(outbound.PolicyAnnounced, u, v)); err != nil {
		return err
	}
	if eff.After(today) {
		return nil // the job tells of it on the day (InForceArgs)
	}
	return tx.Relay(ctx, inForceKey(v.GetName()), policyEvent(outbound.PolicyInForce, u, v))
}

// inForceLookback is how far back the job looks for effective dates it has not told of: a
// registry down for up to a week still tells of each, and a first start does not tell of every
// version ever announced.
const inForceLookback = 7

// InForceArgs is the periodic job that tells of the versions whose effective date came.
type InForceArgs struct{}

// Kind names the job in the registry's River tables.
func (InForceArgs) Kind() string { return "registry.policies_in_force" }

type inForceWorker struct {
	river.WorkerDefaults[InForceArgs]
	s *Server
}

// Work writes the in-force event of every announced version whose effective date came in the
// last inForceLookback days and has none yet, each in its own transaction.
func (w *inForceWorker) Work(ctx context.Context, _ *river.Job[InForceArgs]) error {
	today := policy.Today(w.s.now())
	for {
		due, err := w.s.store.ComingIntoForce(ctx, today.AddDays(-inForceLookback).String(), today.String(), 100)
		if err != nil || len(due) == 0 {
			return err
		}
		for _, e := range due {
			kind, _ := policy.KindFromSegment(e.Kind)
			ts := w.s.store.Tenant(e.Tenant)
			if err := ts.InTx(ctx, func(tx *pg.TenantStore) error {
				v, err := tx.GetVersion(ctx, e.Unit, kind, e.Number)
				if err != nil {
					return err
				}
				return tx.Relay(ctx, inForceKey(v.GetName()), policyEvent(outbound.PolicyInForce, e.Unit, v))
			}); err != nil {
				return err
			}
		}
	}
}

// inForceJob runs the worker hourly, and when a leader starts: a version's event comes within
// the hour its date begins in Asia/Seoul.
func inForceJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return InForceArgs{}, nil },
		&river.PeriodicJobOpts{ID: "registry.policies_in_force", RunOnStart: true})
}
