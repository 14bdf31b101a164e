package requests

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/pkg/outbound/mail"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/requests/breach"
	"github.com/pipa-kr/pipa/services/requests/clock"
	"github.com/pipa-kr/pipa/services/requests/request"
	"github.com/pipa-kr/pipa/services/requests/store/pg"
)

// Deadline alerts: every quarter of an hour a job looks for undecided requests due within
// clock.DueSoonDays (D-3) or past due, and mails the unit's officers once for each (per request,
// kind and due date: a deferral's new clock alerts again), with the overdue event
// kr.pipa.request.overdue for integrations. A request's decision is due in 10 days (PIPA-35-3,
// DEC-41-4,5); these alerts are what makes the counts of ListRequests reach someone. The same job
// mails the officers of a unit whose breach's notice or report (72 hours, PIPA-34-1, PIPA-34-4)
// is due within 24 hours, and again when it is overdue.

// AlertArgs is the periodic job of the deadline alerts.
type AlertArgs struct{}

// Kind names the job in River's tables.
func (AlertArgs) Kind() string { return "requests.deadline_alerts" }

// Alerts finds the deadlines and writes their alerts.
type Alerts struct {
	river.WorkerDefaults[AlertArgs]
	store    *pg.Store
	out      *outbound.Outbound
	registry registryv1.RegistryServiceClient
	token    func() (string, error)
	now      func() time.Time
	log      *slog.Logger
}

// Work alerts the requests due by D-3 or overdue, then the breaches whose 72-hour clocks stand
// at D-24h or overdue; an error of one request's or breach's alert leaves it to the next run. A
// unit's officers are looked up once in a run, however many of its requests and breaches alert.
func (a *Alerts) Work(ctx context.Context, _ *river.Job[AlertArgs]) error {
	now := a.now()
	officers := perUnit(a.officers)
	return errors.Join(a.requestAlerts(ctx, officers, now), a.breachAlerts(ctx, officers, now))
}

// officersOf answers the officers of a tenant's unit and the unit's name.
type officersOf func(ctx context.Context, tenant, unit string) ([]mail.Officer, string, error)

// perUnit is lookup answering each unit from its first answer; an error is not kept, so a later
// alert of the unit asks again.
func perUnit(lookup officersOf) officersOf {
	type answer struct {
		to   []mail.Officer
		name string
	}
	seen := map[string]answer{}
	return func(ctx context.Context, tenant, unit string) ([]mail.Officer, string, error) {
		key := names.Unit(tenant, unit)
		if got, ok := seen[key]; ok {
			return got.to, got.name, nil
		}
		to, name, err := lookup(ctx, tenant, unit)
		if err == nil {
			seen[key] = answer{to, name}
		}
		return to, name, err
	}
}

// requestAlerts pages through the requests due by D-3 and alerts each that is due soon or overdue.
func (a *Alerts) requestAlerts(ctx context.Context, officers officersOf, now time.Time) error {
	dueBy := seoul.Date(now.AddDate(0, 0, clock.DueSoonDays))
	for after := (pg.Undecided{}); ; {
		page, err := a.store.UndecidedDue(ctx, dueBy, after, 500)
		if err != nil || len(page) == 0 {
			return err
		}
		for _, u := range page {
			if err := a.alert(ctx, officers, u, now); err != nil {
				a.log.Warn("deadline alert left to the next run", "tenant", u.Tenant, "receipt", u.Receipt, "err", err)
			}
		}
		after = page[len(page)-1]
	}
}

// breachAlerts pages through the open breaches and alerts each duty whose clock calls for it.
func (a *Alerts) breachAlerts(ctx context.Context, officers officersOf, now time.Time) error {
	for after := (pg.BreachKey{}); ; {
		page, err := a.store.OpenBreaches(ctx, after, 500)
		if err != nil || len(page) == 0 {
			return err
		}
		for _, b := range page {
			if err := a.alertBreach(ctx, officers, b, now); err != nil {
				a.log.Warn("breach alert left to the next run", "tenant", b.Tenant, "unit", b.Unit, "breach", b.Number, "err", err)
			}
		}
		last := page[len(page)-1]
		after = pg.BreachKey{Tenant: last.Tenant, Unit: last.Unit, Number: last.Number}
	}
}

// breachDuty names a breach duty in an alert: what is due, and to whom.
var breachDuty = map[requestsv1.BreachDutyKind]string{
	requestsv1.BreachDutyKind_BREACH_DUTY_KIND_NOTICE:  "정보주체 통지",
	requestsv1.BreachDutyKind_BREACH_DUTY_KIND_REPORT:  "개인정보보호위원회·한국인터넷진흥원 신고",
	requestsv1.BreachDutyKind_BREACH_DUTY_KIND_POSTING: "통지가 닿지 않은 정보주체를 위한 홈페이지 게시",
}

// alertBreach mails the unit's officers once for each duty of breach b at D-24h and once when it is
// overdue (PIPA-34-1, PIPA-34-4: 72 hours from when the breach was known, hours that no working
// day stops), with the same dedup as the requests' alerts (mail.Alert, per breach, duty, stage
// and due time: a corrected known time alerts again).
func (a *Alerts) alertBreach(ctx context.Context, officersOf officersOf, b *pg.Breach, now time.Time) error {
	alerts := breach.Alerts(b.Doc, now)
	if len(alerts) == 0 {
		return nil
	}
	officers, unitName, err := officersOf(ctx, b.Tenant, b.Unit)
	if err != nil {
		return err
	}
	name := names.Breaches.NameN(b.Tenant, b.Unit, b.Number)
	for _, al := range alerts {
		due := al.Duty.GetDueTime().AsTime()
		stage, head, says := "d-24h", "기한 임박", "24시간 안에 다가왔습니다"
		if al.Overdue {
			stage, head, says = "overdue", "기한 경과", "지났습니다"
		}
		duty := breachDuty[al.Duty.GetKind()]
		subject := fmt.Sprintf("[유출등 %s %s] %s (기한 %s)", duty, head, name, minute(due))
		text := fmt.Sprintf("%s 담당자께\n\n아래 개인정보 유출등 사고의 %s 기한이 %s.\n\n사고: %s\n알게 된 일시: %s\n기한: %s (%s)\n근거: %s\n\n"+
			"이 알림은 pipa가 기한마다 단계별로 한 번만 보냅니다.", unitName, duty, says, name, minute(b.Doc.GetKnownTime().AsTime()), minute(due), breach.DueBasis(b.Doc, al.Duty),
			strings.Join(al.Duty.GetRules(), ", "))
		key := fmt.Sprintf("breach/%s/%d/%s/%s/%s", b.Unit, b.Number, strings.ToLower(strings.TrimPrefix(al.Duty.GetKind().String(), "BREACH_DUTY_KIND_")),
			stage, due.UTC().Format(time.RFC3339))
		if err := a.store.InTx(ctx, func(tx pgx.Tx) error {
			_, err := mail.Alert(ctx, tx, a.out, b.Tenant, key, name, subject, text, officers)
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// minute is t in Asia/Seoul to the minute, as the alerts state times.
func minute(t time.Time) string { return t.In(seoul.Location).Format("2006-01-02 15:04") }

func (a *Alerts) alert(ctx context.Context, officersOf officersOf, u pg.Undecided, now time.Time) error {
	r, err := a.store.GetAny(ctx, u.Tenant, u.Receipt)
	if err != nil {
		return err
	}
	due := r.Doc.GetDueTime()
	if due == nil {
		return nil
	}
	kind, head := "d-3", "처리기한 임박"
	switch clock.Classify(due.AsTime(), now) {
	case clock.OnTime:
		return nil
	case clock.Overdue:
		kind, head = "overdue", "처리기한 경과"
	}
	officers, unitName, err := officersOf(ctx, u.Tenant, r.Unit)
	if err != nil {
		return err
	}
	label := request.Label(r.Doc.GetType())
	subject := fmt.Sprintf("[%s] %s %s (기한 %s)", head, r.Doc.GetReceiptNumber(), label, r.Doc.GetDueDate())
	text := fmt.Sprintf("%s 담당자께\n\n아래 요구의 %s.\n\n접수번호: %s\n요구 유형: %s\n접수일시: %s\n처리기한: %s\n\n"+
		"기한 안에 결정하고 그 결과를 요구인에게 통지하여야 합니다(개인정보 보호법 제35조제3항, 시행령 제41조제4항).\n"+
		"이 알림은 pipa가 한 번만 보냅니다.", unitName, map[string]string{"d-3": "처리기한이 다가왔습니다", "overdue": "처리기한이 지났습니다"}[kind],
		r.Doc.GetReceiptNumber(), label, request.TimeText(r.Doc.GetReceiveTime()), r.Doc.GetDueDate())
	return a.store.InTx(ctx, func(tx pgx.Tx) error {
		fresh, err := mail.Alert(ctx, tx, a.out, u.Tenant, "request/"+u.Receipt+"/"+kind+"/"+r.Doc.GetDueDate(), r.Doc.GetName(), subject, text, officers)
		if err != nil || !fresh || kind != "overdue" {
			return err
		}
		_, err = a.out.Emit(ctx, tx, u.Tenant, outbound.Event{Unit: r.Unit, Type: request.EventOverdue,
			Subject: r.Doc.GetName(), Data: request.EventData(r, nil)})
		return err
	})
}

// officers are the unit's officers, by the registry, and the unit's name.
func (a *Alerts) officers(ctx context.Context, tenant, unit string) ([]mail.Officer, string, error) {
	sctx, err := unitauth.AsService(ctx, a.token)
	if err != nil {
		return nil, "", err
	}
	parent := names.Unit(tenant, unit)
	u, err := a.registry.GetUnit(sctx, &registryv1.GetUnitRequest{Name: parent})
	if err != nil {
		return nil, "", err
	}
	var out []mail.Officer
	for token := ""; ; {
		resp, err := a.registry.ListOfficers(sctx, &registryv1.ListOfficersRequest{Parent: parent, PageToken: token})
		if err != nil {
			return nil, "", err
		}
		for _, o := range resp.GetOfficers() {
			out = append(out, mail.Officer{ID: names.Last(o.GetName()), Email: o.GetEmail()})
		}
		if token = resp.GetNextPageToken(); token == "" {
			return out, u.GetFullName(), nil
		}
	}
}

// PeriodicJobs: the alerts every quarter of an hour, and when a leader starts.
func (a *Alerts) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(15*time.Minute),
		func() (river.JobArgs, *river.InsertOpts) { return AlertArgs{}, nil },
		&river.PeriodicJobOpts{ID: "requests.deadline_alerts", RunOnStart: true})}
}
