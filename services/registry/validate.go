package registry

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/pipa-kr/pipa/pkg/apierr"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/mailaddr"
	"github.com/pipa-kr/pipa/services/registry/policy"
	"github.com/pipa-kr/pipa/services/registry/render"
)

// Field validation of registry resources. Every rule names its field and, where the Act sets it,
// its LAW.md id. References to other resources (a site's manager) are checked in server.go,
// which can read the store.

var (
	phonePattern = regexp.MustCompile(`^[0-9+][0-9 ()~-]{5,24}$`)
	datePattern  = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
)

const (
	maxText = 20000
	// maxName bounds a display name in characters: it heads pages, tables and ledger lines.
	maxName = 200
)

func required(vs *apierr.Violations, field, v string) {
	if strings.TrimSpace(v) == "" {
		vs.Add(field, "required", "must not be empty")
	}
}

func checkText(vs *apierr.Violations, field, v string) {
	if len(v) > maxText {
		vs.Add(field, "range", "must be at most %d bytes", maxText)
	}
}

// checkSizes bounds every string of a registry resource m, whose request field is prefix (e.g.
// "site"), to maxText bytes, and its display name to maxName characters: without it a name of
// 90,000 characters was stored and printed on every public page that lists the unit.
func checkSizes(vs *apierr.Violations, prefix string, m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		field := prefix + "." + string(fd.Name())
		switch {
		case fd.IsList() && fd.Kind() == protoreflect.StringKind:
			for i := 0; i < v.List().Len(); i++ {
				checkText(vs, fieldIdx(field, i), v.List().Get(i).String())
			}
		case fd.IsList() && fd.Kind() == protoreflect.MessageKind:
			for i := 0; i < v.List().Len(); i++ {
				checkSizes(vs, fieldIdx(field, i), v.List().Get(i).Message())
			}
		case fd.IsMap():
		case fd.Kind() == protoreflect.MessageKind:
			checkSizes(vs, field, v.Message())
		case fd.Kind() == protoreflect.StringKind && fd.Name() == "display_name" && utf8.RuneCountInString(v.String()) > maxName:
			vs.Add(field, "range", "must be at most %d characters", maxName)
		case fd.Kind() == protoreflect.StringKind:
			checkText(vs, field, v.String())
		}
		return true
	})
}

func checkPhone(vs *apierr.Violations, field, v string) {
	if v != "" && !phonePattern.MatchString(v) {
		vs.Add(field, "format", "must be a phone number such as 063-539-5049 (got %q)", v)
	}
}

func checkDate(vs *apierr.Violations, field, v string) bool {
	if v == "" {
		return false
	}
	if _, err := time.Parse("2006-01-02", v); err != nil || !datePattern.MatchString(v) {
		vs.Add(field, "format", "must be a date YYYY-MM-DD (got %q)", v)
		return false
	}
	return true
}

func validateTenant(t *registryv1.Tenant) apierr.Violations {
	var vs apierr.Violations
	checkSizes(&vs, "tenant", t.ProtoReflect())
	required(&vs, "tenant.display_name", t.GetDisplayName())
	if t.GetKind() == registryv1.TenantKind_TENANT_KIND_UNSPECIFIED {
		vs.Add("tenant.kind", "required", "must say what kind of body the tenant is (e.g. TENANT_KIND_LOCAL_GOVERNMENT)")
	}
	if d := t.GetNoticeLeadDays(); d < 1 || d > 90 {
		// NOTICE-7D: the lead time is a tenant setting, 7 days when a new tenant states none.
		vs.Add("tenant.notice_lead_days", "NOTICE-7D", "must be between 1 and 90 days (got %d)", d)
	}
	checkPhone(&vs, "tenant.phone", t.GetPhone())
	if registryv1.DayCounting_name[int32(t.GetDayCounting())] == "" {
		vs.Add("tenant.day_counting", "PIPA-35-3", "unknown day counting %d", t.GetDayCounting())
	}
	seen := map[string]bool{}
	for i, c := range t.GetClosures() {
		f := fmt.Sprintf("tenant.closures[%d]", i)
		switch {
		case c.GetDate() == "":
			vs.Add(f+".date", "required", "must be a date YYYY-MM-DD")
		case checkDate(&vs, f+".date", c.GetDate()) && seen[c.GetDate()]:
			vs.Add(f+".date", "unique", "%s is listed twice", c.GetDate())
		}
		seen[c.GetDate()] = true
		required(&vs, f+".name", c.GetName())
	}
	for i, y := range t.GetHolidayYears() {
		if y < 2028 || y > 2100 {
			vs.Add(fmt.Sprintf("tenant.holiday_years[%d]", i), "range", "years 2024–2027 are shipped; list later years up to 2100 (got %d)", y)
		}
	}
	return vs
}

func validateUnit(u *registryv1.Unit) apierr.Violations {
	var vs apierr.Violations
	checkSizes(&vs, "unit", u.ProtoReflect())
	required(&vs, "unit.display_name", u.GetDisplayName())
	checkPhone(&vs, "unit.phone", u.GetPhone())
	return vs
}

func validateOfficer(o *registryv1.Officer) apierr.Violations {
	var vs apierr.Violations
	checkSizes(&vs, "officer", o.ProtoReflect())
	// Bodies publish a person, a post (seed 002) or only a department with its phone (seed 003).
	if strings.TrimSpace(o.GetDisplayName()+o.GetTitle()+o.GetAffiliation()) == "" {
		vs.Add("officer.display_name", "required", "an officer needs a name, a title (직위) or at least an affiliation (소속)")
	}
	if len(o.GetRoles()) == 0 {
		vs.Add("officer.roles", "required", "must hold at least one role (e.g. OFFICER_ROLE_CCTV_MANAGER)")
	}
	seen := map[registryv1.OfficerRole]bool{}
	for i, r := range o.GetRoles() {
		if _, ok := registryv1.OfficerRole_name[int32(r)]; !ok || r == registryv1.OfficerRole_OFFICER_ROLE_UNSPECIFIED {
			vs.Add(fieldIdx("officer.roles", i), "enum", "is not a known role")
		} else if seen[r] {
			vs.Add(fieldIdx("officer.roles", i), "unique", "%s is listed twice", r)
		}
		seen[r] = true
	}
	checkPhone(&vs, "officer.phone", o.GetPhone())
	mailaddr.Check(&vs, "officer.email", o.GetEmail())
	return vs
}

func validateSite(s *registryv1.Site) apierr.Violations {
	var vs apierr.Violations
	checkSizes(&vs, "site", s.ProtoReflect())
	required(&vs, "site.display_name", s.GetDisplayName())
	if s.GetCameraCount() <= 0 {
		vs.Add("site.camera_count", "DEC-25-1", "must be the number of cameras installed, at least 1 (DEC-25-1 item 2)")
	}
	if s.PublicCameraCount != nil || s.NonpublicCameraCount != nil {
		if s.GetPublicCameraCount() < 0 || s.GetNonpublicCameraCount() < 0 {
			vs.Add("site.public_camera_count", "range", "camera counts cannot be negative")
		} else if s.GetPublicCameraCount()+s.GetNonpublicCameraCount() != s.GetCameraCount() {
			vs.Add("site.camera_count", "consistency", "public (%d) and non-public (%d) cameras must add up to camera_count (%d)",
				s.GetPublicCameraCount(), s.GetNonpublicCameraCount(), s.GetCameraCount())
		}
	}
	if len(s.GetPurposes()) == 0 {
		vs.Add("site.purposes", "PIPA-25-1", "must state at least one purpose with its ground in PIPA 25(1)")
	}
	for i, p := range s.GetPurposes() {
		f := fieldIdx("site.purposes", i)
		required(&vs, f+".description", p.GetDescription())
		if _, ok := registryv1.CctvGround_name[int32(p.GetGround())]; !ok || p.GetGround() == registryv1.CctvGround_CCTV_GROUND_UNSPECIFIED {
			vs.Add(f+".ground", "PIPA-25-1", "must be one of the six grounds of PIPA 25(1) (e.g. CCTV_GROUND_CRIME_PREVENTION)")
		}
	}
	checkRetention(&vs, "site.retention_days", "site.retention_reason", s.GetRetentionDays(), s.GetRetentionReason())
	for i, z := range s.GetZoneRetentions() {
		f := fieldIdx("site.zone_retentions", i)
		required(&vs, f+".zone", z.GetZone())
		checkRetention(&vs, f+".retention_days", f+".reason", z.GetRetentionDays(), z.GetReason())
	}
	if s.GetRecordsAudio() {
		vs.Add("site.records_audio", "PIPA-25-5", "a CCTV site may not record audio (PIPA 25(5))")
	}
	if s.GetRestrictedArea() && strings.TrimSpace(s.GetRestrictedAreaException()) == "" {
		vs.Add("site.restricted_area", "PIPA-25-2", "cameras may not see inside toilets, baths or changing rooms unless the site is a correctional or mental-health facility (Decree 22(2)); state the exception in restricted_area_exception")
	}
	for i, l := range s.GetLocations() {
		required(&vs, fieldIdx("site.locations", i), l)
	}
	if cs := s.GetCameras(); len(cs) > 0 {
		// DEC-25-1 item 2: the places add up to the number of cameras published.
		sum := int32(0)
		for i, c := range cs {
			if c.GetCount() <= 0 {
				vs.Add(fieldIdx("site.cameras", i)+".count", "DEC-25-1", "must be the number of cameras at the place, at least 1")
			}
			required(&vs, fieldIdx("site.cameras", i)+".location", c.GetLocation())
			sum += c.GetCount()
		}
		if sum != s.GetCameraCount() {
			vs.Add("site.cameras", "DEC-25-1", "the cameras by place add up to %d, and camera_count is %d", sum, s.GetCameraCount())
		}
	}
	return vs
}

// checkRetention: STD-41-2 — more than 30 days needs a stated reason.
func checkRetention(vs *apierr.Violations, field, reasonField string, days int32, reason string) {
	switch {
	case days <= 0:
		vs.Add(field, "DEC-25-1", "must be the retention period in days, at least 1 (DEC-25-1 item 4)")
	case days > 3650:
		vs.Add(field, "range", "must be at most 3650 days (got %d)", days)
	case days > 30 && strings.TrimSpace(reason) == "":
		vs.Add(reasonField, "STD-41-2", "retention of %d days exceeds 30 days and needs a stated reason (STD-41-2)", days)
	}
}

// maxSystem bounds a system's name: the ledger's file_name, where access records keep it.
const maxSystem = 200

func validateFile(f *registryv1.PersonalInformationFile) apierr.Violations {
	var vs apierr.Violations
	checkSizes(&vs, "file", f.ProtoReflect())
	required(&vs, "file.display_name", f.GetDisplayName())
	required(&vs, "file.purpose", f.GetPurpose())
	required(&vs, "file.retention", f.GetRetention())
	if f.GetSubjectCount() < 0 {
		vs.Add("file.subject_count", "range", "cannot be negative")
	}
	// S-8-1: the systems name the access records whose period the file's facts set.
	seen := map[string]bool{}
	for i, sys := range f.GetSystems() {
		fi := fieldIdx("file.systems", i)
		switch {
		case strings.TrimSpace(sys) == "" || sys != strings.TrimSpace(sys):
			vs.Add(fi, "S-8-1", "a processing system's name, as its access records name it (AccessRecord.system), without surrounding spaces")
		case len(sys) > maxSystem:
			vs.Add(fi, "range", "at most %d bytes", maxSystem)
		case seen[sys]:
			vs.Add(fi, "unique", "%q is listed twice", sys)
		}
		seen[sys] = true
	}
	for i, r := range f.GetRecipients() {
		fi := fieldIdx("file.recipients", i)
		required(&vs, fi+".recipient", r.GetRecipient())
		required(&vs, fi+".purpose", r.GetPurpose())
	}
	return vs
}

func validateProcessor(p *registryv1.Processor) apierr.Violations {
	var vs apierr.Violations
	checkSizes(&vs, "processor", p.ProtoReflect())
	required(&vs, "processor.company", p.GetCompany())
	required(&vs, "processor.work", p.GetWork())
	checkPhone(&vs, "processor.phone", p.GetPhone())
	mailaddr.Check(&vs, "processor.email", p.GetEmail())
	okStart := checkDate(&vs, "processor.contract_start", p.GetContractStart())
	okEnd := checkDate(&vs, "processor.contract_end", p.GetContractEnd())
	if okStart && okEnd && p.GetContractEnd() < p.GetContractStart() {
		vs.Add("processor.contract_end", "range", "must not be before contract_start")
	}
	return vs
}

// validateArticles checks the text of a version as a client sends it: every article and
// attachment has a heading that reads as one, a body in the body syntax, and known item keys;
// article numbers are not repeated. Bindings are checked against the registry's data by :check.
func validateArticles(kind registryv1.PolicyKind, v *registryv1.PolicyVersion) apierr.Violations {
	var vs apierr.Violations
	checkText(&vs, "policy_version.title", v.GetTitle())
	checkBody(&vs, "policy_version.preamble", v.GetPreamble())
	numbers := map[string]string{}
	for _, group := range []struct {
		field string
		list  []*registryv1.Article
		want  policy.HeadingKind
	}{{"policy_version.articles", v.GetArticles(), policy.ArticleHeading}, {"policy_version.attachments", v.GetAttachments(), policy.AttachmentHeading}} {
		for i, a := range group.list {
			f := fieldIdx(group.field, i)
			hk, _, number, _ := policy.ParseHeading(a.GetHeading(), policy.NoStyle)
			switch {
			case strings.TrimSpace(a.GetHeading()) == "":
				vs.Add(f+".heading", "required", "must be the heading as published, e.g. \"제1조(목적)\"")
			case group.want == policy.AttachmentHeading && hk != policy.AttachmentHeading:
				vs.Add(f+".heading", "format", "an attachment's heading starts with its label, e.g. \"별표1 …\" or \"별지 제2호 서식\" (got %q)", a.GetHeading())
			case group.want == policy.ArticleHeading && hk == policy.AttachmentHeading:
				vs.Add(f+".heading", "format", "%q is an attachment; put it in attachments", a.GetHeading())
			}
			if number != "" {
				if prev, dup := numbers[number]; dup {
					vs.Add(f+".heading", "unique", "%q repeats the number of %q", a.GetHeading(), prev)
				}
				numbers[number] = a.GetHeading()
			}
			checkBody(&vs, f+".body", a.GetBody())
			for j, k := range a.GetItems() {
				if !policy.ValidItem(kind, k) {
					vs.Add(fieldIdx(f+".items", j), "enum", "%q is not an item of a %s policy", k, policy.Segment(kind))
				}
			}
		}
	}
	return vs
}

func checkBody(vs *apierr.Violations, field, body string) {
	checkText(vs, field, body)
	for _, e := range render.Check(body) {
		vs.Add(field, "format", "line %d: %s", e.Line, e.Msg)
	}
}

func fieldIdx(field string, i int) string {
	return field + "[" + strconv.Itoa(i) + "]"
}
