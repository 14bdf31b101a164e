package requests

import (
	"context"
	"fmt"
	"strings"
	"time"

	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/obligation"
	"github.com/pipa-kr/pipa/services/requests/breach"
	"github.com/pipa-kr/pipa/services/requests/request"
)

// ListObligations lists the running clocks of the tenant's or unit's requests and breaches: each
// undecided request's decision, due on its due date (PIPA-35-3, DEC-43-3, DEC-44-2, STD-44-4),
// and each open breach's pending notice and report, due 72 hours after it was known (PIPA-34-1,
// PIPA-34-4). The registry merges them into the body's one list.
func (s *Server) ListObligations(ctx context.Context, req *requestsv1.ListObligationsRequest) (*requestsv1.ListObligationsResponse, error) {
	tenant, unit, err := names.ParseScope("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := obligation.Authorize(ctx, tenant, unit, readRoles, s.units.Authorize); err != nil {
		return nil, err
	}
	clocks, err := s.store.Clocks(ctx, tenant, unit)
	if err != nil {
		return nil, err
	}
	out := &requestsv1.ListObligationsResponse{}
	now := s.now()
	for _, c := range clocks {
		out.Obligations = append(out.Obligations, obligation.Duty{Source: "requests", Tenant: tenant, Unit: c.Unit,
			Resource: names.Requests.Name(tenant, c.Unit, c.Receipt), Rule: request.ClockRule(c.Type),
			Title: fmt.Sprintf("%s 요구 처리 (%s)", request.Label(c.Type), c.Receipt)}.Dated(c.Due, now))
	}
	bs, err := s.store.OpenBreachesOf(ctx, tenant, unit)
	if err != nil {
		return nil, err
	}
	now = s.breachNow()
	for _, b := range bs {
		for _, d := range breach.Duties(b.Doc, now) {
			if d.GetStatus() != requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_PENDING {
				continue // done, not required, or interim (the rest follows when known, DEC-39-2)
			}
			out.Obligations = append(out.Obligations, obligation.Duty{Source: "breaches", Tenant: tenant, Unit: b.Unit,
				Resource: names.Breaches.NameN(tenant, b.Unit, b.Number), Rule: strings.Join(d.GetRules(), ", "),
				Title: fmt.Sprintf("%s (유출등 %d번, %s)", dutyTitle[d.GetKind()], b.Number, breach.DueBasis(b.Doc, d))}.Timed(d.GetDueTime().AsTime(), now))
		}
	}
	return out, nil
}

var dutyTitle = map[requestsv1.BreachDutyKind]string{
	requestsv1.BreachDutyKind_BREACH_DUTY_KIND_NOTICE:  "유출등 사실의 정보주체 통지",
	requestsv1.BreachDutyKind_BREACH_DUTY_KIND_REPORT:  "유출등 신고 (개인정보보호위원회 또는 한국인터넷진흥원)",
	requestsv1.BreachDutyKind_BREACH_DUTY_KIND_POSTING: "통지가 닿지 않은 정보주체를 위한 홈페이지 게시",
}

// breachNow is the breaches' clock (Breaches sets it; tests move it), s's own until then.
func (s *Server) breachNow() time.Time {
	if s.breachClock != nil {
		return s.breachClock()
	}
	return s.now()
}
