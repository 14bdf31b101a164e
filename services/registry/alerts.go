package registry

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/pkg/outbound/mail"
	"github.com/pipa-kr/pipa/services/registry/register"
)

// Register-due alerts: every hour a job lists each tenant's register duties (the registers' own
// part of the obligations list) and mails the tenant's CPOs and the officers of the duty's unit
// when a dated duty is AlertDays or fewer days from its last day (D-7: a registration's 60 days,
// DEC-34-1; an assessment report's submission, DEC-38-2; a processor's education, PIPA-26-4) and
// again once it is overdue, each once per duty, kind and due date (outbound.Once, as the
// requests' D-3 alerts are), so a rerun, a retried job or a second replica sends nothing twice. A
// duty with no last day (a registration not yet recorded) is in the list but never falls due, so
// it is not mailed. D-7 rather than the requests' D-3: a register's duties run in months and
// their filing takes days on PIPC's portal.

// AlertDays is how many days before its last day a register duty is mailed.
const AlertDays = 7

// RegisterAlertArgs is the periodic job of the register-due alerts.
type RegisterAlertArgs struct{}

// Kind names the job in River's tables.
func (RegisterAlertArgs) Kind() string { return "registry.register_alerts" }

// registerAlerts finds the duties falling due and writes their alerts.
type registerAlerts struct {
	river.WorkerDefaults[RegisterAlertArgs]
	s   *Server
	out *outbound.Outbound
}

func (w *registerAlerts) periodic() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return RegisterAlertArgs{}, nil },
		&river.PeriodicJobOpts{ID: "registry.register_alerts", RunOnStart: true})
}

// Work alerts every tenant's duties; a tenant that fails is left to the next run.
func (w *registerAlerts) Work(ctx context.Context, _ *river.Job[RegisterAlertArgs]) error {
	tenants, err := w.s.store.TenantsWithUnits(ctx)
	if err != nil {
		return err
	}
	for _, t := range tenants {
		if err := w.tenant(ctx, t); err != nil {
			slog.WarnContext(ctx, "register alerts left to the next run", "tenant", t, "err", err)
		}
	}
	return nil
}

// alertKind is the alert a duty is due, if any: "d-7" or "overdue".
func alertKind(o *registryv1.Obligation) (kind, head string) {
	switch {
	case o.GetDueDate() == "":
		return "", ""
	case o.GetState() == registryv1.DeadlineState_DEADLINE_STATE_OVERDUE:
		return "overdue", "기한 경과"
	case o.GetState() == registryv1.DeadlineState_DEADLINE_STATE_DUE && o.GetDaysLeft() <= AlertDays:
		return "d-7", "기한 임박"
	}
	return "", ""
}

func (w *registerAlerts) tenant(ctx context.Context, t string) error {
	os, err := w.s.obligations(ctx, t, "")
	if err != nil {
		return err
	}
	officers, err := w.s.store.Tenant(t).Officers(ctx, "")
	if err != nil {
		return err
	}
	for _, o := range os {
		kind, head := alertKind(o)
		if kind == "" {
			continue
		}
		subject := fmt.Sprintf("[%s] %s (기한 %s)", head, o.GetTitle(), o.GetDueDate())
		text := fmt.Sprintf("개인정보 보호책임자 및 담당자께\n\n아래 의무의 기한이 %s.\n\n내용: %s\n근거: %s\n기한: %s (D%+d)\n대상: %s\n\n"+
			"이 알림은 pipa가 한 번만 보냅니다. 해야 할 일 전체는 의무 목록(GET /v1/%s/obligations)에서 볼 수 있습니다.",
			map[string]string{"d-7": "다가왔습니다", "overdue": "지났습니다"}[kind], o.GetTitle(), o.GetRule(), o.GetDueDate(),
			-o.GetDaysLeft(), o.GetResource(), names.Tenant(t))
		key := "register/" + o.GetResource() + "/" + o.GetRule() + "/" + kind + "/" + o.GetDueDate()
		to := recipients(officers, o.GetUnit())
		if err := w.s.store.InTx(ctx, func(tx pgx.Tx) error {
			_, err := mail.Alert(ctx, tx, w.out, t, key, o.GetResource(), subject, text, to)
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// recipients are the tenant's CPOs and the officers of unit ("" for a duty of the body), once each.
func recipients(officers []*registryv1.Officer, unit string) []mail.Officer {
	var out []mail.Officer
	for _, o := range officers {
		tt, uu, _ := names.UnitOf(o.GetName())
		if !register.IsCPO(o) && names.Unit(tt, uu) != unit {
			continue
		}
		if o.GetEmail() == "" || slices.ContainsFunc(out, func(m mail.Officer) bool { return m.Email == o.GetEmail() }) {
			continue
		}
		out = append(out, mail.Officer{ID: uu + "/" + names.Last(o.GetName()), Email: o.GetEmail()})
	}
	return out
}
