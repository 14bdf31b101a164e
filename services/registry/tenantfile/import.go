package tenantfile

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/registry/policy"
)

// ensure creates a resource unless it already exists.
func ensure(ctx context.Context, name string, get func() error, create func(requestID string) error) error {
	err := get()
	if status.Code(err) != codes.NotFound {
		return err
	}
	err = create("import:" + name)
	if status.Code(err) == codes.AlreadyExists {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// Import loads f through the registry's gRPC API, as any client would: the same validation
// applies, and a re-run skips what already exists. Versions whose effective date is after now's
// day are drafted and announced; the others are imported with their dates.
func Import(ctx context.Context, cl registryv1.RegistryServiceClient, f *File, now time.Time) error {
	t := f.Tenant
	if err := ensure(ctx, t.Tenant.GetName(),
		func() error {
			_, err := cl.GetTenant(ctx, &registryv1.GetTenantRequest{Name: t.Tenant.GetName()})
			return err
		},
		func(rid string) error {
			_, err := cl.CreateTenant(ctx, &registryv1.CreateTenantRequest{TenantId: t.ID, Tenant: t.Tenant, RequestId: rid})
			return err
		}); err != nil {
		return err
	}
	for _, u := range f.Units {
		parent := names.Tenant(t.ID)
		if err := ensure(ctx, u.Unit.GetName(),
			func() error {
				_, err := cl.GetUnit(ctx, &registryv1.GetUnitRequest{Name: u.Unit.GetName()})
				return err
			},
			func(rid string) error {
				_, err := cl.CreateUnit(ctx, &registryv1.CreateUnitRequest{Parent: parent, UnitId: u.ID, Unit: u.Unit, RequestId: rid})
				return err
			}); err != nil {
			return err
		}
		un := u.Unit.GetName()
		for _, o := range u.Officers {
			if err := ensure(ctx, o.Officer.GetName(),
				func() error {
					_, err := cl.GetOfficer(ctx, &registryv1.GetOfficerRequest{Name: o.Officer.GetName()})
					return err
				},
				func(rid string) error {
					_, err := cl.CreateOfficer(ctx, &registryv1.CreateOfficerRequest{Parent: un, OfficerId: o.ID, Officer: o.Officer, RequestId: rid})
					return err
				}); err != nil {
				return err
			}
		}
		for _, p := range u.Processors {
			if err := ensure(ctx, p.Processor.GetName(),
				func() error {
					_, err := cl.GetProcessor(ctx, &registryv1.GetProcessorRequest{Name: p.Processor.GetName()})
					return err
				},
				func(rid string) error {
					_, err := cl.CreateProcessor(ctx, &registryv1.CreateProcessorRequest{Parent: un, ProcessorId: p.ID, Processor: p.Processor, RequestId: rid})
					return err
				}); err != nil {
				return err
			}
		}
	}
	// Sites and files may reference officers and processors of any unit: create them second.
	for _, u := range f.Units {
		un := u.Unit.GetName()
		for _, s := range u.Sites {
			if err := ensure(ctx, s.Site.GetName(),
				func() error {
					_, err := cl.GetSite(ctx, &registryv1.GetSiteRequest{Name: s.Site.GetName()})
					return err
				},
				func(rid string) error {
					_, err := cl.CreateSite(ctx, &registryv1.CreateSiteRequest{Parent: un, SiteId: s.ID, Site: s.Site, RequestId: rid})
					return err
				}); err != nil {
				return err
			}
		}
		for _, fl := range u.Files {
			if err := ensure(ctx, fl.File.GetName(),
				func() error {
					_, err := cl.GetFile(ctx, &registryv1.GetFileRequest{Name: fl.File.GetName()})
					return err
				},
				func(rid string) error {
					_, err := cl.CreateFile(ctx, &registryv1.CreateFileRequest{Parent: un, FileId: fl.ID, File: fl.File, RequestId: rid})
					return err
				}); err != nil {
				return err
			}
		}
	}
	if err := importRegisters(ctx, cl, f); err != nil {
		return err
	}
	// Policies last: a version freezes the data of its unit and every sub-unit.
	today := policy.Today(now).String()
	for _, u := range f.Units {
		for _, p := range u.Policies {
			parent := names.Policy(t.ID, u.ID, policy.Segment(p.Kind))
			have, err := cl.ListPolicyVersions(ctx, &registryv1.ListPolicyVersionsRequest{Parent: parent})
			if err != nil {
				return err
			}
			for i, v := range p.Versions {
				if present(have.GetPolicyVersions(), v.Version) {
					continue // imported by an earlier run
				}
				if err := importVersion(ctx, cl, parent, v, today); err != nil {
					return fmt.Errorf("%s version %d: %w", parent, i+1, err)
				}
			}
		}
	}
	return nil
}

// present reports whether a version with e's period is already announced or imported. A draft
// left by an interrupted run is not: importing again replays its create (same request_id) and
// announces it.
func present(have []*registryv1.PolicyVersion, e *registryv1.PolicyVersion) bool {
	for _, v := range have {
		if v.GetState() != registryv1.PolicyState_POLICY_STATE_DRAFT &&
			v.GetEffectiveDate() == e.GetEffectiveDate() && (e.GetEffectiveDate() != "" || v.GetEndDate() == e.GetEndDate()) {
			return true
		}
	}
	return false
}

// importVersion loads one version: one already in force before today (or known by its period
// only) is imported with its dates and text, frozen as published; one still to take effect is
// drafted from its text and announced.
func importVersion(ctx context.Context, cl registryv1.RegistryServiceClient, parent string, e VersionEntry, today string) error {
	v := proto.CloneOf(e.Version)
	v.Name, v.State, v.Kind, v.Number = "", registryv1.PolicyState_POLICY_STATE_UNSPECIFIED, registryv1.PolicyKind_POLICY_KIND_UNSPECIFIED, 0
	rid := "import:" + parent + ":" + v.GetEffectiveDate() + ":" + v.GetEndDate()
	if v.GetEffectiveDate() <= today {
		_, err := cl.ImportPolicyVersion(ctx, &registryv1.ImportPolicyVersionRequest{Parent: parent, PolicyVersion: v,
			RequestId: rid, Source: e.Source, ArticleItems: e.ArticleItems})
		return err
	}
	d, err := cl.CreatePolicyVersion(ctx, &registryv1.CreatePolicyVersionRequest{Parent: parent,
		PolicyVersion: &registryv1.PolicyVersion{Title: v.GetTitle()}, Source: e.Source, RequestId: rid})
	if err != nil {
		return err
	}
	if len(e.ArticleItems) > 0 {
		// A draft takes its articles' items with its articles.
		numbered := map[string]*registryv1.Article{}
		for _, a := range append(d.GetArticles(), d.GetAttachments()...) {
			numbered[a.GetNumber()] = a
		}
		for _, ai := range e.ArticleItems {
			a := numbered[strings.Join(strings.Fields(ai.GetNumber()), "")]
			if a == nil {
				return fmt.Errorf("%s: articleItems: the text has no article %q", parent, ai.GetNumber())
			}
			a.Items = ai.GetItems()
		}
		if d, err = cl.UpdatePolicyVersion(ctx, &registryv1.UpdatePolicyVersionRequest{PolicyVersion: d,
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"articles", "attachments"}}}); err != nil {
			return err
		}
	}
	ann := v.GetAnnounceDate()
	if ann < today {
		ann = today
	}
	_, err = cl.AnnouncePolicyVersion(ctx, &registryv1.AnnouncePolicyVersionRequest{
		Name: d.GetName(), AnnounceDate: ann, EffectiveDate: v.GetEffectiveDate(),
		ChangeSummary: v.GetChangeSummary(), MajorChange: v.GetMajorChange(), Etag: d.GetEtag()})
	return err
}

// importRegisters records the files' registration events, the assessments and the evaluations
// that the registry does not hold yet: events are numbered per file, so those past the ones
// recorded are created; assessments by id, evaluations by year.
func importRegisters(ctx context.Context, cl registryv1.RegistryServiceClient, f *File) error {
	for _, u := range f.Units {
		un := u.Unit.GetName()
		have, err := cl.ListRegistrations(ctx, &registryv1.ListRegistrationsRequest{Parent: un})
		if err != nil {
			return err
		}
		count := map[string]int{}
		for _, fr := range have.GetFiles() {
			count[fr.GetFile().GetName()] = len(fr.GetRegistrations())
		}
		for _, fl := range u.Files {
			for i, r := range fl.Registrations[min(count[fl.File.GetName()], len(fl.Registrations)):] {
				n := count[fl.File.GetName()] + i + 1
				if _, err := cl.CreateRegistration(ctx, &registryv1.CreateRegistrationRequest{Parent: fl.File.GetName(), Registration: r,
					RequestId: fmt.Sprintf("import:%s/registrations/%d", fl.File.GetName(), n)}); err != nil {
					return fmt.Errorf("%s registration %d: %w", fl.File.GetName(), n, err)
				}
			}
		}
		for _, a := range u.Assessments {
			if err := ensure(ctx, a.Assessment.GetName(),
				func() error {
					_, err := cl.GetAssessment(ctx, &registryv1.GetAssessmentRequest{Name: a.Assessment.GetName()})
					return err
				},
				func(rid string) error {
					_, err := cl.CreateAssessment(ctx, &registryv1.CreateAssessmentRequest{Parent: un, AssessmentId: a.ID, Assessment: a.Assessment, RequestId: rid})
					return err
				}); err != nil {
				return err
			}
		}
		evs, err := cl.ListEvaluations(ctx, &registryv1.ListEvaluationsRequest{Parent: un})
		if err != nil {
			return err
		}
		years := map[int32]bool{}
		for _, e := range evs.GetEvaluations() {
			years[e.GetYear()] = true
		}
		for _, e := range u.Evaluations {
			if years[e.GetYear()] {
				continue
			}
			if _, err := cl.CreateEvaluation(ctx, &registryv1.CreateEvaluationRequest{Parent: un, Evaluation: e,
				RequestId: fmt.Sprintf("import:%s/evaluations/%d", un, e.GetYear())}); err != nil {
				return fmt.Errorf("%s evaluation %d: %w", un, e.GetYear(), err)
			}
		}
	}
	return nil
}
