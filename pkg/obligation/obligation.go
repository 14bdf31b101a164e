// Package obligation builds the entries that the services contribute to the one list of what is
// due in a tenant (the registry's ListObligations, LAW.md 9 "What a platform automates"): a duty
// with its last day or last instant, its D-days or hours left and whether it is overdue, as of
// now in Asia/Seoul, and the check of who may read a tenant's or a unit's list.
package obligation

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/seoul"
)

// Duty is one open duty of a unit as a service knows it.
type Duty struct {
	// Source names the service ("requests", "breaches", "retention").
	Source string
	// Tenant and Unit are the unit's ids; Resource the record the duty is about.
	Tenant, Unit, Resource string
	// Rule is the LAW.md rule that sets it; Title says what is to be done, in Korean.
	Rule, Title string
}

// Dated is d due on the day due (YYYY-MM-DD, Asia/Seoul; "" where no day is set): due until the
// end of that day, overdue after it.
func (d Duty) Dated(due string, now time.Time) *registryv1.Obligation {
	o := d.obligation()
	o.DueDate = due
	o.State = registryv1.DeadlineState_DEADLINE_STATE_DUE
	if due == "" {
		return o
	}
	today, _ := time.Parse(time.DateOnly, seoul.Date(now))
	last, err := time.Parse(time.DateOnly, due)
	if err != nil {
		return o
	}
	o.DaysLeft = int32(last.Sub(today).Hours() / 24)
	if o.DaysLeft < 0 {
		o.State = registryv1.DeadlineState_DEADLINE_STATE_OVERDUE
	}
	return o
}

// Timed is d due at the instant due, a clock kept in hours (a breach's 72 hours): overdue once
// now is past it.
func (d Duty) Timed(due, now time.Time) *registryv1.Obligation {
	o := d.Dated(seoul.Date(due), now)
	o.DueTime = timestamppb.New(due)
	left := due.Sub(now)
	o.HoursLeft = int64(left / time.Hour)
	if left < 0 && left%time.Hour != 0 {
		o.HoursLeft-- // rounded down, as the breach's own clock shows it
	}
	o.State = registryv1.DeadlineState_DEADLINE_STATE_DUE
	if now.After(due) {
		o.State = registryv1.DeadlineState_DEADLINE_STATE_OVERDUE
	}
	return o
}

func (d Duty) obligation() *registryv1.Obligation {
	return &registryv1.Obligation{Source: d.Source, Unit: names.Unit(d.Tenant, d.Unit), Resource: d.Resource,
		Rule: d.Rule, Title: d.Title}
}

// Authorize lets the caller read the obligations of tenant, or of its unit (unit != ""): on the
// tenant, a role on the whole tenant; on a unit, what unitAuth says (unitauth.Units.Authorize:
// a role on the unit or a subtree holding it).
func Authorize(ctx context.Context, tenant, unit string, roles []auth.Role,
	unitAuth func(ctx context.Context, tenant, unit string, roles []auth.Role) error) error {
	if unit != "" {
		return unitAuth(ctx, tenant, unit, roles)
	}
	p, ok := auth.FromContext(ctx)
	if !ok {
		return status.Error(codes.Unauthenticated, "a bearer token is required")
	}
	if !p.Allows(tenant, nil, roles...) {
		return apierr.Denied("the caller's roles do not cover " + names.Tenant(tenant))
	}
	return nil
}
