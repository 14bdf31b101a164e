package render

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/services/registry/policy"
)

// Article is one numbered article of a published policy.
type Article struct {
	// Number is the article number: 1 for 제1조.
	Number int
	// Key is the catalogue item (policy.Item.Key) the article states.
	Key string
	// Heading is the article heading without its number, e.g. "설치대수, 설치위치 및 촬영범위".
	Heading string
	// Body is the article text in the package's Markdown subset.
	Body string
}

// Title is the heading as published: "제2조(설치대수, 설치위치 및 촬영범위)".
func (a Article) Title() string {
	return fmt.Sprintf("제%d조(%s)", a.Number, a.Heading)
}

// Articles returns the articles of a version in catalogue order, numbered from 제1조. The preamble
// is not an article (see Markdown and HTML); the changes article lists no previous versions, which
// only a Document knows.
func Articles(v *registryv1.PolicyVersion) []Article {
	return newDoc(v, nil).articles()
}

// Preamble returns the version's preamble text, empty when it has none.
func Preamble(v *registryv1.PolicyVersion) string {
	for _, s := range v.GetSections() {
		if s.GetItem() == "preamble" {
			return strings.TrimSpace(s.GetBody())
		}
	}
	return ""
}

// doc holds what the generators of one version need.
type doc struct {
	v        *registryv1.PolicyVersion
	snap     *registryv1.UnitSnapshot
	unit     string
	sections map[string]*registryv1.Section
	history  []*registryv1.PolicyHistoryEntry
}

func newDoc(v *registryv1.PolicyVersion, history []*registryv1.PolicyHistoryEntry) *doc {
	d := &doc{v: v, snap: v.GetSnapshot(), sections: map[string]*registryv1.Section{}, history: history}
	if d.snap == nil {
		d.snap = &registryv1.UnitSnapshot{}
	}
	d.unit = cmp.Or(d.snap.GetUnit().GetDisplayName(), d.snap.GetTenant().GetDisplayName(), "본 기관")
	for _, s := range v.GetSections() {
		d.sections[s.GetItem()] = s
	}
	return d
}

func (d *doc) title() string { return cmp.Or(d.v.GetTitle(), policy.DefaultTitle(d.v.GetKind())) }

func (d *doc) articles() []Article {
	var out []Article
	for _, it := range policy.Items(d.v.GetKind()) {
		if it.Key == "preamble" {
			continue
		}
		s := d.sections[it.Key]
		var body string
		if s.GetNotProcessed() {
			body = paragraphs(d.notProcessed(it), s.GetBody())
		} else {
			body = paragraphs(d.generate(it.Key), s.GetBody())
		}
		if body == "" {
			continue // neither filled nor declared
		}
		out = append(out, Article{
			Number:  len(out) + 1,
			Key:     it.Key,
			Heading: cmp.Or(s.GetHeading(), it.Heading),
			Body:    body,
		})
	}
	return out
}

// generate returns the text registry data states for an item, or "" when there is none.
func (d *doc) generate(key string) string {
	if key == "changes" {
		return d.changes()
	}
	if d.v.GetKind() == registryv1.PolicyKind_POLICY_KIND_CCTV {
		switch key {
		case "purpose":
			return d.cctvPurpose()
		case "installation":
			return d.installation()
		case "officers":
			return d.cctvOfficers()
		case "operation":
			return d.operation()
		case "outsourcing":
			return d.cctvOutsourcing()
		}
		return ""
	}
	switch key {
	case "purpose":
		return d.privacyPurpose()
	case "items":
		return d.items()
	case "retention":
		return d.retention()
	case "third_party":
		return d.thirdParty()
	case "outsourcing":
		return d.privacyOutsourcing()
	case "officers":
		return d.privacyOfficers()
	case "cctv":
		return d.cctvSummary()
	}
	return ""
}

// notProcessed is the one sentence an "only if applicable" item declared not processed renders
// (WG26-ITEMS: "we do not process this").
func (d *doc) notProcessed(it policy.Item) string {
	u := topic(d.unit)
	if d.v.GetKind() == registryv1.PolicyKind_POLICY_KIND_CCTV {
		if it.Key == "outsourcing" {
			return u + " 영상정보처리기기 설치 및 관리 등을 위탁하지 않습니다."
		}
		return u + " " + it.Heading + "에 해당하는 사항이 없습니다."
	}
	phrase := map[string]string{
		"children":            "14세 미만 아동의 개인정보를 처리하지 않습니다.",
		"third_party":         "개인정보를 제3자에게 제공하지 않습니다.",
		"additional_use":      "정보주체의 동의 없이 개인정보를 추가적으로 이용·제공하지 않습니다.",
		"outsourcing":         "개인정보 처리업무를 위탁하지 않습니다.",
		"overseas":            "개인정보를 국외에서 수집하거나 국외로 이전하지 않습니다.",
		"sensitive":           "공개될 가능성이 있는 민감정보를 처리하지 않습니다.",
		"pseudonymized":       "가명정보를 처리하지 않습니다.",
		"auto_collection":     "쿠키 등 개인정보 자동 수집 장치를 설치·운영하지 않습니다.",
		"behavioral":          "행태정보를 수집·이용·제공하지 않습니다.",
		"automated_decisions": "완전히 자동화된 시스템으로 개인정보를 처리하여 정보주체의 권리 또는 의무에 중대한 영향을 미치는 결정을 하지 않습니다.",
		"domestic_agent":      "국내대리인을 지정하고 있지 않습니다.",
		"cctv":                "고정형 영상정보처리기기를 설치·운영하지 않습니다.",
		"mobile_cameras":      "이동형 영상정보처리기기를 운영하지 않습니다.",
	}[it.Key]
	if phrase == "" {
		return u + " " + it.Heading + "에 해당하는 사항이 없습니다."
	}
	return u + " " + phrase
}

// --- CCTV policy (DEC-25-1) ---

var groundItem = map[registryv1.CctvGround]int{
	registryv1.CctvGround_CCTV_GROUND_LAW:                   1,
	registryv1.CctvGround_CCTV_GROUND_CRIME_PREVENTION:      2,
	registryv1.CctvGround_CCTV_GROUND_FACILITY_SAFETY:       3,
	registryv1.CctvGround_CCTV_GROUND_TRAFFIC_ENFORCEMENT:   4,
	registryv1.CctvGround_CCTV_GROUND_TRAFFIC_INFORMATION:   5,
	registryv1.CctvGround_CCTV_GROUND_STATISTICS_NO_STORAGE: 6,
}

// cctvPurpose lists the distinct purposes of all sites with their PIPA 25(1) ground (DEC-25-1 1).
func (d *doc) cctvPurpose() string {
	var lines []string
	seen := map[string]bool{}
	for _, s := range d.snap.GetSites() {
		for _, p := range s.GetPurposes() {
			line := "- " + p.GetDescription()
			if n := groundItem[p.GetGround()]; n > 0 {
				line += fmt.Sprintf(" (제25조 제1항 제%d호)", n)
			}
			if p.GetDescription() == "" || seen[line] {
				continue
			}
			seen[line] = true
			lines = append(lines, line)
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return topic(d.unit) + " 「개인정보 보호법」 제25조 제1항에 따라 다음과 같은 목적으로 영상정보처리기기를 설치·운영합니다.\n\n" +
		strings.Join(lines, "\n")
}

// installation is the table of sites, with the public/non-public split when given (DEC-25-1 2).
func (d *doc) installation() string {
	sites := d.snap.GetSites()
	if len(sites) == 0 {
		return ""
	}
	split := slices.ContainsFunc(sites, func(s *registryv1.Site) bool {
		return s.PublicCameraCount != nil || s.NonpublicCameraCount != nil
	})
	head := []string{"구분", "설치대수"}
	if split {
		head = append(head, "공개장소", "비공개장소")
	}
	head = append(head, "설치위치 및 촬영범위")
	t := newTable(head...)
	for _, s := range sites {
		row := []string{s.GetDisplayName(), count(s.GetCameraCount())}
		if split {
			row = append(row, optCount(s.PublicCameraCount), optCount(s.NonpublicCameraCount))
		}
		where := strings.Join(s.GetLocations(), ", ")
		if c := s.GetCoverage(); c != "" {
			where = strings.TrimSpace(where + " (촬영범위: " + c + ")")
		}
		t.row(append(row, where)...)
	}
	return t.String()
}

// officerRoles orders the roles as the seeds list them, with their standard terms.
var officerRoles = []struct {
	role registryv1.OfficerRole
	term string
}{
	{registryv1.OfficerRole_OFFICER_ROLE_CPO, "개인정보 보호책임자"},
	{registryv1.OfficerRole_OFFICER_ROLE_CCTV_MANAGER, "관리책임자"},
	{registryv1.OfficerRole_OFFICER_ROLE_ACCESS_AUTHORIZED, "접근권한자"},
	{registryv1.OfficerRole_OFFICER_ROLE_HANDLER, "업무처리자"},
	{registryv1.OfficerRole_OFFICER_ROLE_PRIVACY_STAFF, "개인정보 보호 담당자"},
	{registryv1.OfficerRole_OFFICER_ROLE_COMPLAINTS, "고충처리 담당자"},
}

// officersWith returns the officers holding any of the roles, ordered by their first such role,
// each with the label it is published under.
func (d *doc) officersWith(roles ...registryv1.OfficerRole) (out []*registryv1.Officer, labels []string) {
	for _, r := range officerRoles {
		if !slices.Contains(roles, r.role) {
			continue
		}
		for _, o := range d.snap.GetOfficers() {
			if !slices.Contains(o.GetRoles(), r.role) || slices.Contains(out, o) {
				continue
			}
			out = append(out, o)
			labels = append(labels, cmp.Or(o.GetRoleLabel(), r.term))
		}
	}
	return out, labels
}

func (d *doc) officerTable(officers []*registryv1.Officer, labels []string) string {
	named := slices.ContainsFunc(officers, func(o *registryv1.Officer) bool { return o.GetDisplayName() != "" })
	email := slices.ContainsFunc(officers, func(o *registryv1.Officer) bool { return o.GetEmail() != "" })
	head := []string{"구분"}
	if named {
		head = append(head, "이름")
	}
	head = append(head, "직위", "소속", "연락처")
	if email {
		head = append(head, "전자우편")
	}
	t := newTable(head...)
	for i, o := range officers {
		row := []string{labels[i]}
		if named {
			row = append(row, o.GetDisplayName())
		}
		row = append(row, o.GetTitle(), o.GetAffiliation(), o.GetPhone())
		if email {
			row = append(row, o.GetEmail())
		}
		t.row(row...)
	}
	return t.String()
}

// cctvOfficers is DEC-25-1 3: manager, responsible department and persons with access.
func (d *doc) cctvOfficers() string {
	officers, labels := d.officersWith(
		registryv1.OfficerRole_OFFICER_ROLE_CPO,
		registryv1.OfficerRole_OFFICER_ROLE_CCTV_MANAGER,
		registryv1.OfficerRole_OFFICER_ROLE_ACCESS_AUTHORIZED,
		registryv1.OfficerRole_OFFICER_ROLE_HANDLER)
	if len(officers) == 0 {
		return ""
	}
	return "정보주체의 영상정보를 보호하고 개인영상정보와 관련한 불만을 처리하기 위하여 아래와 같이 개인영상정보 관리책임자 및 접근권한자를 두고 있습니다.\n\n" +
		d.officerTable(officers, labels)
}

func retentionText(days int32, reason string) string {
	if days <= 0 {
		return ""
	}
	s := fmt.Sprintf("촬영일로부터 %d일", days)
	if reason != "" {
		s += " (" + reason + ")" // STD-41-2: why more than 30 days
	}
	return s
}

// operation is DEC-25-1 4: recording hours, retention, storage place and processing method. Sites
// sharing hours and retention are one row, as seed 000 prints them; otherwise one row per site and
// zone, as seed 002 does.
func (d *doc) operation() string {
	sites := d.snap.GetSites()
	if len(sites) == 0 {
		return ""
	}
	uniform := true
	for _, s := range sites {
		if len(s.GetZoneRetentions()) > 0 || s.GetRecordingHours() != sites[0].GetRecordingHours() ||
			s.GetRetentionDays() != sites[0].GetRetentionDays() || s.GetRetentionReason() != sites[0].GetRetentionReason() {
			uniform = false
		}
	}
	var t *table
	if uniform {
		var places []string
		for _, s := range sites {
			if p := s.GetStoragePlace(); p != "" && !slices.Contains(places, p) {
				places = append(places, p)
			}
		}
		t = newTable("촬영시간", "보관기간", "보관장소")
		t.row(sites[0].GetRecordingHours(), retentionText(sites[0].GetRetentionDays(), sites[0].GetRetentionReason()), strings.Join(places, ", "))
	} else {
		t = newTable("구분", "촬영시간", "보관기간", "보관장소")
		for _, s := range sites {
			name := s.GetDisplayName()
			if zs := s.GetZoneRetentions(); len(zs) > 0 {
				var zones []string
				for _, z := range zs {
					zones = append(zones, z.GetZone())
				}
				name += "(" + strings.Join(zones, ", ") + " 제외)"
			}
			t.row(name, s.GetRecordingHours(), retentionText(s.GetRetentionDays(), s.GetRetentionReason()), s.GetStoragePlace())
			for _, z := range s.GetZoneRetentions() {
				t.row(s.GetDisplayName()+" "+z.GetZone(), s.GetRecordingHours(),
					retentionText(z.GetRetentionDays(), z.GetReason()), cmp.Or(z.GetStoragePlace(), s.GetStoragePlace()))
			}
		}
	}
	return t.String() + "\n\n" +
		"- 처리방법 : 개인영상정보의 목적 외 이용, 제3자 제공, 파기, 열람 등 요구에 관한 사항을 기록·관리하고, 보관기간 만료 시 복원이 불가능한 방법으로 영구 삭제(출력물의 경우 파쇄 또는 소각)합니다."
}

func (d *doc) processor(name string) *registryv1.Processor {
	for _, p := range d.snap.GetProcessors() {
		if p.GetName() == name {
			return p
		}
	}
	return nil
}

// processorTable lists processors; the work column appears when any states it.
func processorTable(ps []*registryv1.Processor, period bool) string {
	work := slices.ContainsFunc(ps, func(p *registryv1.Processor) bool { return p.GetWork() != "" })
	sub := slices.ContainsFunc(ps, func(p *registryv1.Processor) bool { return p.GetSubprocessor() != "" })
	period = period && slices.ContainsFunc(ps, func(p *registryv1.Processor) bool { return p.GetContractStart() != "" })
	head := []string{"수탁업체"}
	if work {
		head = append(head, "위탁업무")
	}
	head = append(head, "담당자", "연락처")
	if period {
		head = append(head, "계약기간")
	}
	if sub {
		head = append(head, "재위탁")
	}
	t := newTable(head...)
	for _, p := range ps {
		row := []string{p.GetCompany()}
		if work {
			row = append(row, p.GetWork())
		}
		row = append(row, p.GetContactName(), cmp.Or(p.GetPhone(), p.GetEmail()))
		if period {
			row = append(row, Period(p.GetContractStart(), p.GetContractEnd()))
		}
		if sub {
			row = append(row, p.GetSubprocessor())
		}
		t.row(row...)
	}
	return t.String()
}

// cctvOutsourcing lists the processors operating the sites' cameras.
func (d *doc) cctvOutsourcing() string {
	var ps []*registryv1.Processor
	for _, s := range d.snap.GetSites() {
		if p := d.processor(s.GetProcessor()); p != nil && !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return ""
	}
	return topic(d.unit) + " 아래와 같이 영상정보처리기기 설치 및 관리 등을 위탁하고 있으며, 관계 법령에 따라 위탁계약 시 개인정보가 안전하게 관리될 수 있도록 필요한 사항을 규정하고 있습니다.\n\n" +
		processorTable(ps, false)
}

// changes states when the version applies and lists the previous versions with their periods
// (WG26-24).
func (d *doc) changes() string {
	title := d.title()
	var parts []string
	if eff := d.v.GetEffectiveDate(); eff != "" {
		parts = append(parts, "이 "+topic(title)+" "+Date(eff)+"부터 적용됩니다.")
	} else {
		parts = append(parts, "이 "+topic(title)+" 공고 후 시행일부터 적용됩니다.")
	}
	var facts []string
	if a := d.v.GetAnnounceDate(); a != "" {
		facts = append(facts, "- 공고일자 : "+Date(a))
		if eff := d.v.GetEffectiveDate(); eff != "" {
			facts = append(facts, "- 시행일자 : "+Date(eff))
		}
	}
	if c := d.v.GetChangeSummary(); c != "" {
		facts = append(facts, "- 주요 변경 내용 : "+c)
	}
	parts = append(parts, strings.Join(facts, "\n"))
	var prev []string
	for _, h := range d.history {
		// Previous means earlier in time: archived versions may be imported in any order.
		if h.GetNumber() == d.v.GetNumber() || (d.v.GetEffectiveDate() != "" && h.GetEffectiveDate() >= d.v.GetEffectiveDate()) {
			continue
		}
		text := cmp.Or(h.GetTitle(), title)
		if p := cmp.Or(h.GetPeriod(), Period(h.GetEffectiveDate(), h.GetEndDate())); p != "" {
			text += " (" + p + ")"
		}
		prev = append(prev, "- "+link(text, historyURL(h)))
	}
	if len(prev) > 0 {
		parts = append(parts, "이전의 "+topic(title)+" 아래에서 확인하실 수 있습니다.\n\n"+strings.Join(prev, "\n"))
	}
	return paragraphs(parts...)
}

func historyURL(h *registryv1.PolicyHistoryEntry) string {
	if h.GetState() == registryv1.PolicyState_POLICY_STATE_ARCHIVED {
		return cmp.Or(h.GetOriginalUrl(), h.GetUrl())
	}
	return cmp.Or(h.GetUrl(), h.GetOriginalUrl())
}

// --- privacy policy (WG26-ITEMS) ---

func (d *doc) privacyPurpose() string {
	var lines []string
	for _, f := range d.snap.GetFiles() {
		if f.GetPurpose() != "" {
			lines = append(lines, "- "+f.GetDisplayName()+" : "+f.GetPurpose())
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return topic(d.unit) + " 다음의 목적을 위하여 개인정보를 처리합니다. 처리하고 있는 개인정보는 다음의 목적 이외의 용도로는 이용되지 않으며, 이용 목적이 변경되는 경우에는 「개인정보 보호법」 제18조에 따라 별도의 동의를 받는 등 필요한 조치를 이행할 예정입니다.\n\n" +
		strings.Join(lines, "\n")
}

func (d *doc) items() string {
	files := slices.DeleteFunc(slices.Clone(d.snap.GetFiles()), func(f *registryv1.PersonalInformationFile) bool {
		return len(f.GetRequiredItems()) == 0 && len(f.GetOptionalItems()) == 0
	})
	if len(files) == 0 {
		return ""
	}
	method := slices.ContainsFunc(files, func(f *registryv1.PersonalInformationFile) bool { return f.GetCollectionMethod() != "" })
	head := []string{"개인정보파일", "필수항목", "선택항목"}
	if method {
		head = append(head, "수집방법")
	}
	t := newTable(head...)
	for _, f := range files {
		row := []string{f.GetDisplayName(), strings.Join(f.GetRequiredItems(), ", "), strings.Join(f.GetOptionalItems(), ", ")}
		if method {
			row = append(row, f.GetCollectionMethod())
		}
		t.row(row...)
	}
	return topic(d.unit) + " 다음의 개인정보 항목을 처리하고 있습니다.\n\n" + t.String()
}

func (d *doc) retention() string {
	files := slices.DeleteFunc(slices.Clone(d.snap.GetFiles()), func(f *registryv1.PersonalInformationFile) bool {
		return f.GetRetention() == ""
	})
	if len(files) == 0 {
		return ""
	}
	basis := slices.ContainsFunc(files, func(f *registryv1.PersonalInformationFile) bool { return f.GetRetentionBasis() != "" })
	head := []string{"개인정보파일", "보유기간"}
	if basis {
		head = append(head, "보유근거") // STD-11-2: data kept under another law say so
	}
	t := newTable(head...)
	for _, f := range files {
		row := []string{f.GetDisplayName(), f.GetRetention()}
		if basis {
			row = append(row, f.GetRetentionBasis())
		}
		t.row(row...)
	}
	return topic(d.unit) + " 법령에 따른 개인정보 보유·이용기간 또는 정보주체로부터 개인정보를 수집 시에 동의받은 개인정보 보유·이용기간 내에서 개인정보를 처리·보유합니다. 각각의 개인정보 처리 및 보유 기간은 다음과 같습니다.\n\n" +
		t.String()
}

func (d *doc) thirdParty() string {
	t := newTable("제공받는 자", "제공 목적", "제공 항목", "제공 근거", "보유·이용기간")
	for _, f := range d.snap.GetFiles() {
		for _, r := range f.GetRecipients() {
			t.row(r.GetRecipient(), r.GetPurpose(), strings.Join(r.GetItems(), ", "), r.GetLegalBasis(), r.GetRetention())
		}
	}
	if len(t.rows) == 0 {
		return ""
	}
	return topic(d.unit) + " 다음과 같이 개인정보를 제3자에게 제공하고 있습니다.\n\n" + t.String()
}

func (d *doc) privacyOutsourcing() string {
	ps := d.snap.GetProcessors()
	if len(ps) == 0 {
		return ""
	}
	return topic(d.unit) + " 원활한 개인정보 업무처리를 위하여 다음과 같이 개인정보 처리업무를 위탁하고 있으며, 위탁계약 시 「개인정보 보호법」 제26조에 따라 위탁업무 수행목적 외 개인정보 처리금지, 안전성 확보조치, 재위탁 제한, 수탁자에 대한 관리·감독, 손해배상 등 책임에 관한 사항을 문서에 명시하고 있습니다.\n\n" +
		processorTable(ps, true)
}

func (d *doc) privacyOfficers() string {
	officers, labels := d.officersWith(
		registryv1.OfficerRole_OFFICER_ROLE_CPO,
		registryv1.OfficerRole_OFFICER_ROLE_PRIVACY_STAFF,
		registryv1.OfficerRole_OFFICER_ROLE_COMPLAINTS)
	if len(officers) == 0 {
		return ""
	}
	return topic(d.unit) + " 개인정보 처리에 관한 업무를 총괄해서 책임지고, 개인정보 처리와 관련한 정보주체의 불만처리 및 피해구제 등을 위하여 아래와 같이 개인정보 보호책임자 및 담당부서를 지정하고 있습니다.\n\n" +
		d.officerTable(officers, labels)
}

func (d *doc) cctvSummary() string {
	sites := d.snap.GetSites()
	if len(sites) == 0 {
		return ""
	}
	t := newTable("구분", "설치대수", "설치위치 및 촬영범위", "촬영시간", "보관기간")
	for _, s := range sites {
		t.row(s.GetDisplayName(), count(s.GetCameraCount()), strings.Join(s.GetLocations(), ", "),
			s.GetRecordingHours(), retentionText(s.GetRetentionDays(), ""))
	}
	return topic(d.unit) + " 다음과 같이 고정형 영상정보처리기기를 설치·운영하고 있습니다.\n\n" + t.String()
}

// --- text helpers ---

func count(n int32) string { return strconv.Itoa(int(n)) + "대" }

func optCount(n *int32) string {
	if n == nil {
		return ""
	}
	return strconv.Itoa(int(*n))
}

// paragraphs joins the non-empty parts with blank lines.
func paragraphs(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "\n\n")
}

func link(text, url string) string {
	if url == "" {
		return text
	}
	return "[" + strings.NewReplacer("[", "(", "]", ")").Replace(text) + "](" + url + ")"
}

// table builds a Markdown-subset table.
type table struct {
	head []string
	rows [][]string
}

func newTable(head ...string) *table { return &table{head: head} }

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) String() string {
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + cellEscaper.Replace(c) + " |")
		}
		b.WriteString("\n")
	}
	line(t.head)
	sep := make([]string, len(t.head))
	for i := range sep {
		sep[i] = "---"
	}
	line(sep)
	for _, r := range t.rows {
		line(r)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

var cellEscaper = strings.NewReplacer("|", `\|`, "\n", " ")
