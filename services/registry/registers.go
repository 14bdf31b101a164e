package registry

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/registry/policy"
	"github.com/pipa-kr/pipa/services/registry/register"
	"github.com/pipa-kr/pipa/services/registry/store/pg"
)

// The registers (register package; LAW.md 9b, 9c). A write validates, stores the record and its
// REGISTER entry in one transaction (pg.CreateRecord, pkg/ledgerout), then delivers the entry at
// once; the outbox's job delivers it later if the ledger is out.

func withOutbox(o *ledgerout.Outbox) Option { return func(s *Server) { s.outbox = o } }

func (s *Server) today() policy.Date { return policy.Today(s.now()) }

// registerEntry is the REGISTER entry of a change: what changed, on the record named name.
func (s *Server) registerEntry(what string) pg.EntryFor {
	return func(name string) *ledgerv1.AppendEntryRequest {
		return &ledgerv1.AppendEntryRequest{Entry: &ledgerv1.Entry{
			Kind:      ledgerv1.EntryKind_ENTRY_KIND_REGISTER,
			OccurTime: timestamppb.New(s.now()),
			FileName:  name,
			Purpose:   what,
		}}
	}
}

// deliver appends the entry now, when it can; the outbox keeps it otherwise.
// updateRecord replaces a register record (pg.TenantStore.UpdateRecord) at most once per
// requestID (AIP-155) and hands its REGISTER entry to the ledger; a retry of a call that
// succeeded changes nothing and writes no second entry.
func (s *Server) updateRecord(ctx context.Context, t, u string, kind pg.RecordKind, id string, m proto.Message, etag string,
	entry pg.EntryFor, requestID string, req proto.Message) error {
	var oid int64
	_, err := s.once(ctx, t, requestID, req, pg.RecordName(t, u, kind, id), func(tx *pg.TenantStore) (err error) {
		oid, err = tx.UpdateRecord(ctx, u, kind, id, m, etag, entry)
		return err
	}, nil)
	if err == nil {
		s.deliver(ctx, t, oid) // nothing on a replay: oid is 0
	}
	return err
}

func (s *Server) deliver(ctx context.Context, tenant string, id int64) {
	if id == 0 || s.outbox == nil || s.ledger == nil {
		return
	}
	if _, err := s.outbox.Deliver(ctx, tenant, id); err != nil {
		slog.Info("register entry left to the outbox", "tenant", tenant, "id", id, "err", err)
	}
}

var kindLabel = map[registryv1.RegistrationKind]string{
	registryv1.RegistrationKind_REGISTRATION_KIND_REGISTRATION:   "개인정보파일 등록 사유 발생 (운용 개시)",
	registryv1.RegistrationKind_REGISTRATION_KIND_CHANGE:         "개인정보파일 변경등록 사유 발생",
	registryv1.RegistrationKind_REGISTRATION_KIND_DEREGISTRATION: "개인정보파일 등록 삭제 사유 발생 (파기)",
	registryv1.RegistrationKind_REGISTRATION_KIND_EXEMPTION:      "개인정보파일 등록 면제 (PIPA-32-2)",
}

// CreateRegistration records an event of a file's registration (PIPA-32-1, DEC-34-1).
func (s *Server) CreateRegistration(ctx context.Context, req *registryv1.CreateRegistrationRequest) (*registryv1.Registration, error) {
	t, u, f, err := names.Files.Parse("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, writeRoles); err != nil {
		return nil, err
	}
	r := proto.CloneOf(req.GetRegistration())
	if r == nil {
		r = &registryv1.Registration{}
	}
	clearOutputOnly(r, "state", "due_date", "ledger_entry")
	vs := register.ValidateRegistration(r, s.today())
	checkRequestID(&vs, req.GetRequestId())
	if err := vs.Err(); err != nil {
		return nil, err
	}
	ts := s.store.Tenant(t)
	what := fmt.Sprintf("%s: %s %s", kindLabel[r.GetKind()], req.GetParent(), r.GetEventDate())
	name, id, err := ts.CreateRecord(ctx, u, pg.Registrations, func(ctx context.Context, tx *pg.TenantStore) (string, error) {
		return tx.NextRegistration(ctx, u, f)
	}, r, idem(ctx, req.GetRequestId(), req), s.registerEntry(what))
	if err != nil {
		return nil, err
	}
	s.deliver(ctx, t, id)
	return s.getRegistration(ctx, name)
}

func (s *Server) getRegistration(ctx context.Context, name string) (*registryv1.Registration, error) {
	t, u, k, id, ok := pg.ParseRecordName(name)
	if !ok || k != pg.Registrations {
		return nil, names.Invalid("name", name, names.Files.Shape()+"/registrations/{n}")
	}
	r := &registryv1.Registration{}
	if err := s.store.Tenant(t).GetRecord(ctx, u, k, id, r); err != nil {
		return nil, err
	}
	register.SetOutput(r, s.today())
	return r, nil
}

// FileRegistration records that a registration event was filed with PIPC, with PIPC's number.
func (s *Server) FileRegistration(ctx context.Context, req *registryv1.FileRegistrationRequest) (*registryv1.Registration, error) {
	t, u, f, n, err := names.Registrations.Parse("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, writeRoles); err != nil {
		return nil, err
	}
	r, err := s.getRegistration(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	if r.GetFiledDate() != "" {
		if r.GetFiledDate() == req.GetFiledDate() && r.GetPipcNumber() == req.GetPipcNumber() {
			return r, nil // a retry
		}
		filed := apierr.Precondition("ALREADY_FILED", fmt.Sprintf("%s was filed on %s as %s; record a CHANGE for what changed since",
			req.GetName(), r.GetFiledDate(), r.GetPipcNumber()))
		// A request_id reused for another filing is refused as such (AIP-155) before ALREADY_FILED.
		_, err := s.once(ctx, t, req.GetRequestId(), req, req.GetName(), func(*pg.TenantStore) error { return filed }, nil)
		return nil, err
	}
	vs := register.ValidateFiling(r, req.GetFiledDate(), req.GetPipcNumber(), s.today(), "")
	checkRequestID(&vs, req.GetRequestId())
	if err := vs.Err(); err != nil {
		return nil, err
	}
	r.FiledDate, r.PipcNumber = req.GetFiledDate(), req.GetPipcNumber()
	r.State, r.DueDate, r.LedgerEntry = 0, "", ""
	what := fmt.Sprintf("개인정보보호위원회 등록 (%s, 등록번호 %s)", r.GetFiledDate(), r.GetPipcNumber())
	if err := s.updateRecord(ctx, t, u, pg.Registrations, f+"/"+strconv.FormatInt(n, 10), r, req.GetEtag(), s.registerEntry(what),
		req.GetRequestId(), req); err != nil {
		return nil, err
	}
	return s.getRegistration(ctx, req.GetName())
}

// ListRegistrations lists each file of the tenant or unit with its registration events, last
// first, and whether DEC-35 requires its assessment.
func (s *Server) ListRegistrations(ctx context.Context, req *registryv1.ListRegistrationsRequest) (*registryv1.ListRegistrationsResponse, error) {
	t, u, err := names.ParseScope("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, readRoles); err != nil {
		return nil, err
	}
	files, err := s.registrations(ctx, t, u)
	if err != nil {
		return nil, err
	}
	return &registryv1.ListRegistrationsResponse{Files: files}, nil
}

func (s *Server) registrations(ctx context.Context, t, u string) ([]*registryv1.FileRegistrations, error) {
	files, err := s.store.Tenant(t).Files(ctx, u)
	if err != nil {
		return nil, err
	}
	byFile, err := s.fileEvents(ctx, t, u, files)
	if err != nil {
		return nil, err
	}
	out := make([]*registryv1.FileRegistrations, len(files))
	for i, f := range files {
		events := byFile[f.GetName()]
		fr := &registryv1.FileRegistrations{File: f, Registrations: slices.Clone(events)}
		slices.Reverse(fr.Registrations) // last first
		fr.State = f.GetRegistrationState()
		fr.AssessmentThreshold = register.AssessmentThreshold(f)
		fr.AssessmentRequired = fr.AssessmentThreshold != ""
		out[i] = fr
	}
	return out, nil
}

// fileEvents reads the registration events of the unit's (or tenant's) files, oldest first by
// file, and sets each of files' registration status from them (register.FileStatus).
func (s *Server) fileEvents(ctx context.Context, t, u string, files []*registryv1.PersonalInformationFile) (map[string][]*registryv1.Registration, error) {
	recs, err := listRecords[*registryv1.Registration](ctx, s.store.Tenant(t), u, pg.Registrations)
	if err != nil {
		return nil, err
	}
	byFile := map[string][]*registryv1.Registration{}
	today := s.today()
	for _, r := range recs {
		register.SetOutput(r, today)
		tt, uu, f, _, _ := names.Registrations.Parse("name", r.GetName())
		file := names.Files.Name(tt, uu, f)
		byFile[file] = append(byFile[file], r)
	}
	for _, f := range files {
		register.FileStatus(f, byFile[f.GetName()], today)
	}
	return byFile, nil
}

// CreateAssessment records an impact assessment (PIPA 33).
func (s *Server) CreateAssessment(ctx context.Context, req *registryv1.CreateAssessmentRequest) (*registryv1.ImpactAssessment, error) {
	t, u, err := names.ParseUnit("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, writeRoles); err != nil {
		return nil, err
	}
	a := proto.CloneOf(req.GetAssessment())
	if a == nil {
		a = &registryv1.ImpactAssessment{}
	}
	clearOutputOnly(a, "ledger_entry")
	vs, err := s.validateAssessment(ctx, t, u, a)
	if err != nil {
		return nil, err
	}
	names.CheckID(&vs, "assessment_id", req.GetAssessmentId())
	checkRequestID(&vs, req.GetRequestId())
	if err := vs.Err(); err != nil {
		return nil, err
	}
	id := req.GetAssessmentId()
	name, oid, err := s.store.Tenant(t).CreateRecord(ctx, u, pg.Assessments, func(context.Context, *pg.TenantStore) (string, error) { return id, nil },
		a, idem(ctx, req.GetRequestId(), req), s.registerEntry("개인정보 영향평가 기록: "+a.GetDisplayName()))
	if err != nil {
		return nil, err
	}
	s.deliver(ctx, t, oid)
	return s.GetAssessment(ctx, &registryv1.GetAssessmentRequest{Name: name})
}

func (s *Server) validateAssessment(ctx context.Context, t, u string, a *registryv1.ImpactAssessment) (apierr.Violations, error) {
	files, err := s.store.Tenant(t).Files(ctx, u)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, f := range files {
		have[f.GetName()] = true
	}
	return register.ValidateAssessment(a, t, u, have, s.today()), nil
}

func (s *Server) GetAssessment(ctx context.Context, req *registryv1.GetAssessmentRequest) (*registryv1.ImpactAssessment, error) {
	t, u, id, err := names.Assessments.Parse("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, readRoles); err != nil {
		return nil, err
	}
	a := &registryv1.ImpactAssessment{}
	return a, s.store.Tenant(t).GetRecord(ctx, u, pg.Assessments, id, a)
}

func (s *Server) ListAssessments(ctx context.Context, req *registryv1.ListAssessmentsRequest) (*registryv1.ListAssessmentsResponse, error) {
	t, u, err := names.ParseUnit("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, readRoles); err != nil {
		return nil, err
	}
	as, err := listRecords[*registryv1.ImpactAssessment](ctx, s.store.Tenant(t), u, pg.Assessments)
	return &registryv1.ListAssessmentsResponse{Assessments: as}, err
}

// UpdateAssessment replaces an assessment's fields, at the etag read.
func (s *Server) UpdateAssessment(ctx context.Context, req *registryv1.UpdateAssessmentRequest) (*registryv1.ImpactAssessment, error) {
	in := req.GetAssessment()
	t, u, id, err := names.Assessments.Parse("assessment.name", in.GetName())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, writeRoles); err != nil {
		return nil, err
	}
	a := proto.CloneOf(in)
	clearOutputOnly(a, "ledger_entry")
	vs, err := s.validateAssessment(ctx, t, u, a)
	if err != nil {
		return nil, err
	}
	checkRequestID(&vs, req.GetRequestId())
	if err := vs.Err(); err != nil {
		return nil, err
	}
	if err := s.updateRecord(ctx, t, u, pg.Assessments, id, a, in.GetEtag(), s.registerEntry("개인정보 영향평가 변경: "+a.GetDisplayName()),
		req.GetRequestId(), req); err != nil {
		return nil, err
	}
	return s.GetAssessment(ctx, &registryv1.GetAssessmentRequest{Name: in.GetName()})
}

// CreateEvaluation records a year's 보호수준 평가 (PIPA-11의2).
func (s *Server) CreateEvaluation(ctx context.Context, req *registryv1.CreateEvaluationRequest) (*registryv1.ProtectionEvaluation, error) {
	t, u, err := names.ParseUnit("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, writeRoles); err != nil {
		return nil, err
	}
	e := proto.CloneOf(req.GetEvaluation())
	if e == nil {
		e = &registryv1.ProtectionEvaluation{}
	}
	clearOutputOnly(e, "ledger_entry")
	vs := register.ValidateEvaluation(e, s.today())
	checkRequestID(&vs, req.GetRequestId())
	if err := vs.Err(); err != nil {
		return nil, err
	}
	year := strconv.Itoa(int(e.GetYear()))
	ts := s.store.Tenant(t)
	name, oid, err := ts.CreateRecord(ctx, u, pg.Evaluations, func(context.Context, *pg.TenantStore) (string, error) { return year, nil },
		e, idem(ctx, req.GetRequestId(), req), s.registerEntry(fmt.Sprintf("%s년 개인정보 보호수준 평가 기록 (등급 %s)", year, e.GetGrade())))
	if err != nil {
		return nil, err
	}
	s.deliver(ctx, t, oid)
	out := &registryv1.ProtectionEvaluation{}
	_, _, _, id, _ := pg.ParseRecordName(name)
	return out, ts.GetRecord(ctx, u, pg.Evaluations, id, out)
}

func (s *Server) ListEvaluations(ctx context.Context, req *registryv1.ListEvaluationsRequest) (*registryv1.ListEvaluationsResponse, error) {
	t, u, err := names.ParseUnit("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, readRoles); err != nil {
		return nil, err
	}
	es, err := listRecords[*registryv1.ProtectionEvaluation](ctx, s.store.Tenant(t), u, pg.Evaluations)
	return &registryv1.ListEvaluationsResponse{Evaluations: es}, err
}

// UpdateEvaluation replaces an evaluation's fields (its year is its name), at the etag read.
func (s *Server) UpdateEvaluation(ctx context.Context, req *registryv1.UpdateEvaluationRequest) (*registryv1.ProtectionEvaluation, error) {
	in := req.GetEvaluation()
	t, u, id, err := names.Evaluations.Parse("evaluation.name", in.GetName())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, writeRoles); err != nil {
		return nil, err
	}
	e := proto.CloneOf(in)
	clearOutputOnly(e, "ledger_entry")
	vs := register.ValidateEvaluation(e, s.today())
	if strconv.Itoa(int(e.GetYear())) != id {
		vs.Add("evaluation.year", "PIPA-11의2", "the year is the evaluation's name (%s); record another year as a new evaluation", id)
	}
	checkRequestID(&vs, req.GetRequestId())
	if err := vs.Err(); err != nil {
		return nil, err
	}
	if err := s.updateRecord(ctx, t, u, pg.Evaluations, id, e, in.GetEtag(),
		s.registerEntry(fmt.Sprintf("%s년 개인정보 보호수준 평가 변경 (등급 %s)", id, e.GetGrade())), req.GetRequestId(), req); err != nil {
		return nil, err
	}
	out := &registryv1.ProtectionEvaluation{}
	return out, s.store.Tenant(t).GetRecord(ctx, u, pg.Evaluations, id, out)
}

func listRecords[M proto.Message](ctx context.Context, ts *pg.TenantStore, u string, k pg.RecordKind) ([]M, error) {
	msgs, err := ts.ListRecords(ctx, u, k, func() proto.Message { var m M; return m.ProtoReflect().New().Interface() })
	if err != nil {
		return nil, err
	}
	out := make([]M, len(msgs))
	for i, m := range msgs {
		out[i] = m.(M)
	}
	return out, nil
}

// ListObligations lists what is due in the tenant or unit, overdue first: the registers' duties
// and those the requests, breaches and retention keep, asked of their services with the caller's
// token (obligations.go). A source that does not answer is named in missing, never left out
// silently.
func (s *Server) ListObligations(ctx context.Context, req *registryv1.ListObligationsRequest) (*registryv1.ListObligationsResponse, error) {
	t, u, err := names.ParseScope("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, readRoles); err != nil {
		return nil, err
	}
	var vs apierr.Violations
	for i, st := range req.GetStates() {
		if _, ok := registryv1.DeadlineState_name[int32(st)]; !ok || st == registryv1.DeadlineState_DEADLINE_STATE_UNSPECIFIED {
			vs.Add(fmt.Sprintf("states[%d]", i), "enum", "a DeadlineState is required (got %d)", st)
		}
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	os, err := s.obligations(ctx, t, u)
	if err != nil {
		return nil, err
	}
	more, missing := s.sources.list(ctx, req.GetParent())
	os = append(os, more...)
	register.Sort(os)
	out := &registryv1.ListObligationsResponse{Missing: missing}
	for _, o := range os {
		if len(req.GetStates()) > 0 && !slices.Contains(req.GetStates(), o.GetState()) {
			continue
		}
		out.Obligations = append(out.Obligations, o)
		switch o.GetState() {
		case registryv1.DeadlineState_DEADLINE_STATE_DUE:
			out.DueCount++
		case registryv1.DeadlineState_DEADLINE_STATE_OVERDUE:
			out.OverdueCount++
		}
	}
	return out, nil
}

// obligations computes the registers' open duties (PIPA 32, 33, 11의2, 26, DEC-32-2, S-4) of the tenant, or of one unit, unauthorised:
// the caller checks.
func (s *Server) obligations(ctx context.Context, t, u string) ([]*registryv1.Obligation, error) {
	ts := s.store.Tenant(t)
	files, err := s.registrations(ctx, t, u)
	if err != nil {
		return nil, err
	}
	as, err := listRecords[*registryv1.ImpactAssessment](ctx, ts, u, pg.Assessments)
	if err != nil {
		return nil, err
	}
	es, err := listRecords[*registryv1.ProtectionEvaluation](ctx, ts, u, pg.Evaluations)
	if err != nil {
		return nil, err
	}
	ps, err := ts.Processors(ctx, u)
	if err != nil {
		return nil, err
	}
	cs, err := listRecords[*registryv1.ProcessorContract](ctx, ts, u, pg.Contracts)
	if err != nil {
		return nil, err
	}
	notices, err := listRecords[*registryv1.SubjectNotice](ctx, ts, u, pg.Notices)
	if err != nil {
		return nil, err
	}
	plans, err := listRecords[*registryv1.InternalPlan](ctx, ts, u, pg.InternalPlans)
	if err != nil {
		return nil, err
	}
	officers, err := ts.Officers(ctx, u)
	if err != nil {
		return nil, err
	}
	tenant, err := ts.Get(ctx)
	if err != nil {
		return nil, err
	}
	byUnit := map[string]*register.Registers{}
	of := func(name string) *register.Registers {
		tt, uu, _ := names.UnitOf(name)
		un := names.Unit(tt, uu)
		if byUnit[un] == nil {
			byUnit[un] = &register.Registers{Unit: un, Kind: tenant.GetKind(), Contracts: map[string]*registryv1.ProcessorContract{},
				Notices: map[string][]*registryv1.SubjectNotice{}}
		}
		return byUnit[un]
	}
	for _, f := range files {
		r := of(f.GetFile().GetName())
		r.Files = append(r.Files, f)
	}
	for _, a := range as {
		r := of(a.GetName())
		r.Assessments = append(r.Assessments, a)
	}
	for _, e := range es {
		r := of(e.GetName())
		r.Evaluations = append(r.Evaluations, e)
	}
	for _, p := range ps {
		r := of(p.GetName())
		r.Processors = append(r.Processors, p)
	}
	for _, c := range cs {
		of(c.GetName()).Contracts[c.GetProcessor()] = c
	}
	for _, n := range notices { // oldest first (ListRecords' order)
		t, u, p, _, _ := names.Notices.Parse("name", n.GetName())
		c := names.Contracts.Name(t, u, p)
		r := of(c)
		r.Notices[c] = append(r.Notices[c], n)
	}
	for _, p := range plans {
		r := of(p.GetName())
		r.InternalPlans = append(r.InternalPlans, p)
	}
	for _, o := range officers {
		r := of(o.GetName())
		r.Officers = append(r.Officers, o)
	}
	today := s.today()
	var out []*registryv1.Obligation
	for _, r := range byUnit {
		out = append(out, register.Obligations(*r, today)...)
	}
	if u == "" { // the yearly evaluation is the body's
		if o := register.EvaluationDue(tenant.GetKind(), es, names.Tenant(t), today); o != nil {
			out = append(out, o)
		}
		if o := register.PlanDue(plans, names.Tenant(t)); o != nil {
			out = append(out, o)
		}
	}
	for _, o := range out {
		o.Source = "registry"
	}
	register.Sort(out)
	return out, nil
}
