package lifecycle

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/seoul"
)

// A destruction plan (파기요청서, STD-55 별지4) is proposed by a sweep, approved by the CPO and
// completed by the CPO once the data are destroyed (STD-10-4: the CPO confirms the result), with
// a signed certificate and the 별지5 rows.

// PlanView is a plan as served: overdue when, with items, not completed 5 days after its first
// item was due (STD-10-1).
func PlanView(p *Plan, now time.Time) *retentionv1.Plan {
	out := p.Doc
	out.Overdue = out.GetState() != retentionv1.PlanState_PLAN_STATE_COMPLETED && out.GetItemCount() > 0 && !now.Before(p.OverdueTime)
	return out
}

// Approve records the CPO's approval of a proposed plan (STD-55).
func Approve(p *Plan, cpo string, now time.Time) error {
	if st := p.Doc.GetState(); st != retentionv1.PlanState_PLAN_STATE_PROPOSED {
		return apierr.Precondition("PLAN_NOT_PROPOSED", p.Doc.GetName()+" is "+st.String()+"; only a proposed plan is approved")
	}
	p.Doc.State, p.Doc.ApprovedBy, p.Doc.ApproveTime = retentionv1.PlanState_PLAN_STATE_APPROVED, cpo, timestamppb.New(now)
	return nil
}

// Completion is how, by whom and when a plan's data were destroyed (DEC-16, STD-42-2), as the CPO
// confirms it.
type Completion struct {
	Method, DestroyedBy string
	Time                time.Time
	// TimeGiven: the CPO stated the time (else it is when the completion was first asked).
	TimeGiven bool
	// Etag is the plan's etag the CPO read, if any.
	Etag string
}

// StartCompletion records c on an approved plan (STD-55). A completion started before — cut short,
// or whose answer was lost — is repeated with the values it recorded, whatever the etag the caller
// read before it started; other values are refused.
func StartCompletion(p *Plan, c Completion) error {
	d := p.Doc
	if d.GetState() == retentionv1.PlanState_PLAN_STATE_PROPOSED {
		return apierr.Precondition("PLAN_NOT_APPROVED", d.GetName()+" is not approved: the CPO approves a plan before it is carried out (STD-55)")
	}
	if d.GetMethod() != "" {
		if d.GetMethod() != c.Method || d.GetDestroyedBy() != c.DestroyedBy ||
			(c.TimeGiven && !d.GetDestructionTime().AsTime().Equal(c.Time)) {
			if d.GetState() == retentionv1.PlanState_PLAN_STATE_COMPLETED {
				return apierr.Precondition("PLAN_COMPLETED", d.GetName()+" is already completed")
			}
			return apierr.Precondition("COMPLETION_STARTED", d.GetName()+"'s completion was started with other values: repeat it with method, destroyed_by and destruction_time as recorded")
		}
		return nil
	}
	if c.Etag != "" && c.Etag != d.GetEtag() {
		return apierr.EtagMismatch(d.GetName())
	}
	if c.Time.Before(d.GetApproveTime().AsTime()) {
		return apierr.Invalid(apierr.Violation{Field: "destruction_time", Rule: "STD-55",
			Description: "a plan is carried out after the CPO approved it (" + d.GetApproveTime().AsTime().In(seoul.Location).Format("2006-01-02 15:04") + ")"})
	}
	d.Method, d.DestroyedBy, d.DestructionTime = c.Method, c.DestroyedBy, timestamppb.New(c.Time)
	return nil
}

// Finish completes a plan whose items are all destroyed and recorded: its certificate, signed
// with the tenant's key (unitTitle names the unit in it), and its 별지5 rows, headed by head.
func Finish(p *Plan, items []PlanItem, rules map[string]*Rule, key *TenantKey, unitTitle, head string) error {
	cert, err := Certificate(key, p.Tenant, p.Unit, unitTitle, p.Doc, items)
	if err != nil {
		return err
	}
	p.Doc.Records, p.Doc.Certificate = DestructionRecords(p.Doc, items, rules, head), cert
	p.Doc.State = retentionv1.PlanState_PLAN_STATE_COMPLETED
	return nil
}
