package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
)

// Check returns the completeness findings of v (LAW.md rule 7, the policy completeness
// validator), in a fixed order: the articles' own shape (by index), then the catalogue items in
// published order, each looked for in the articles wherever the body placed it, then the checks of
// the snapshot's data (sites, officers, processors, in snapshot order). A version already
// published is held as published whatever its findings; they are what its next version needs.
func Check(v *registryv1.PolicyVersion) []*registryv1.Finding {
	items := Items(v.GetKind())
	if items == nil {
		return []*registryv1.Finding{{Rule: "required", Field: "kind", Blocking: true,
			Message: fmt.Sprintf("policy kind %s is neither privacy nor cctv; it has no catalogue of items", v.GetKind())}}
	}
	c := &checker{kind: v.GetKind(), snap: v.GetSnapshot(), v: v, cover: covering(v)}
	c.articles()
	for _, it := range items {
		c.item(it)
	}
	if c.kind == registryv1.PolicyKind_POLICY_KIND_CCTV {
		c.cctvSites()
		c.cctvOfficers()
		c.cctvProcessors()
	} else {
		c.privacyOfficers()
	}
	return c.out
}

// Ready reports whether findings allow announcing: none of them is blocking.
func Ready(findings []*registryv1.Finding) bool {
	return !slices.ContainsFunc(findings, (*registryv1.Finding).GetBlocking)
}

type checker struct {
	kind  registryv1.PolicyKind
	snap  *registryv1.UnitSnapshot
	v     *registryv1.PolicyVersion
	cover map[string][]string
	out   []*registryv1.Finding
}

func (c *checker) add(blocking bool, rule, item, field, format string, args ...any) {
	c.out = append(c.out, &registryv1.Finding{Rule: rule, Item: item, Field: field,
		Message: fmt.Sprintf(format, args...), Blocking: blocking})
}

// covering maps each catalogue key to the headings of the articles stating it: by the items an
// article names, else by its title; the preamble states the title-and-preamble item.
func covering(v *registryv1.PolicyVersion) map[string][]string {
	out := map[string][]string{}
	if strings.TrimSpace(v.GetPreamble()) != "" {
		out["preamble"] = []string{"전문"}
	}
	for _, a := range v.GetArticles() {
		for _, k := range ArticleItems(v.GetKind(), a) {
			out[k] = append(out[k], a.GetHeading())
		}
	}
	return out
}

// articles checks what each article is: numbered once, with text, naming known items.
func (c *checker) articles() {
	rule := Items(c.kind)[1].Rule
	seen := map[string]int{}
	for i, a := range c.v.GetArticles() {
		field := fmt.Sprintf("articles[%d]", i)
		if strings.TrimSpace(a.GetHeading()) == "" {
			c.add(true, rule, "", field+".heading", "article %d has no heading", i+1)
		}
		if n := a.GetNumber(); n != "" {
			if j, dup := seen[n]; dup {
				c.add(true, rule, "", field+".heading", "%s repeats the number of article %d (%s); each article has its own number",
					a.GetHeading(), j+1, c.v.GetArticles()[j].GetHeading())
			}
			seen[n] = i
		}
		if strings.TrimSpace(a.GetBody()) == "" {
			c.add(true, rule, "", field+".body", "%s has no text yet", a.GetHeading())
		}
		for j, k := range a.GetItems() {
			if !ValidItem(c.kind, k) {
				c.add(true, rule, "", fmt.Sprintf("%s.items[%d]", field, j), "%q is not an item of a %s policy (%s)", k, Segment(c.kind), rule)
			}
		}
	}
}

func label(it Item) string {
	if it.Number == "" {
		return fmt.Sprintf("%q (%s)", it.Heading, it.Key)
	}
	return fmt.Sprintf("%s item %s %q (%s)", it.Rule, it.Number, it.Heading, it.Key)
}

// also names the other lists' items a catalogue key answers (STD-19, PIPA-30-1).
func (c *checker) also(key string) string {
	if c.kind != registryv1.PolicyKind_POLICY_KIND_PRIVACY {
		return ""
	}
	var refs []string
	for _, l := range [][]ListItem{STD19, PIPA301} {
		for _, li := range l {
			if slices.Contains(li.Keys, key) {
				refs = append(refs, li.Rule+" "+li.Number)
			}
		}
	}
	if len(refs) == 0 {
		return ""
	}
	return " (also " + strings.Join(refs, ", ") + ")"
}

func (c *checker) item(it Item) {
	field := "articles[" + it.Key + "]"
	stated := len(c.cover[it.Key]) > 0
	attested, bound := c.attested(it.Key)
	switch it.Requirement {
	case Mandatory:
		if stated || it.Data == "history" { // the page publishes the dates and the history itself
			return
		}
		if it.Key == "preamble" {
			c.add(true, it.Rule, it.Number, "preamble", "%s is mandatory: write the preamble (전문)", label(it))
			return
		}
		c.add(true, it.Rule, it.Number, field, "%s%s is mandatory and no article states it: write one, or name %q in the items of the article that does",
			label(it), c.also(it.Key), it.Key)
	case Applicable:
		present, what := c.applicableData(it)
		if attested && present {
			// WG26-ITEMS: "not processed" is a statement of fact, and the registry says otherwise.
			c.add(true, it.Rule, it.Number, field, "%s is attested as not processed, but the registry has %s; withdraw the attestation or correct the data", label(it), what)
			return
		}
		switch {
		case stated, attested && bound:
			return
		case attested:
			c.add(true, it.Rule, it.Number, field, "%s is attested as not processed, but no article states it: bind {{attestation/%s}} where the policy should say so", label(it), it.Key)
		case present:
			c.add(true, it.Rule, it.Number, field, "%s%s applies (the registry has %s) and no article states it", label(it), c.also(it.Key), what)
		case c.kind == registryv1.PolicyKind_POLICY_KIND_CCTV && it.Key == "outsourcing":
			// DEC-25-1 has no outsourcing item of its own: it is part of item 8 where cameras are run
			// by a contractor (seed 002 "해당하는 경우만").
		default:
			c.add(true, it.Rule, it.Number, field, "%s%s applies only where processed: state it in an article, or have an officer attest that it is not processed and bind the attestation",
				label(it), c.also(it.Key))
		}
	case Recommended:
		if !stated {
			c.add(false, it.Rule, it.Number, field, "%s is recommended: consider an article on it", label(it))
		}
	}
}

// attested reports whether the snapshot holds an attestation of the item, and whether an article
// binds it.
func (c *checker) attested(key string) (attested, bound bool) {
	for _, a := range c.snap.GetAttestations() {
		if a.GetItem() == key {
			_, bound = BoundAttestations(c.v)[key]
			return true, bound
		}
	}
	return false, false
}

// Coverage lists, for each item of the policy's statutory lists (DEC-25-1 for CCTV policies;
// WG26-ITEMS, STD-19 and PIPA-30-1 for privacy policies), the articles that state it.
func Coverage(v *registryv1.PolicyVersion) []*registryv1.ItemCoverage {
	cover := covering(v)
	bound := BoundAttestations(v)
	var out []*registryv1.ItemCoverage
	row := func(rule, number, heading string, keys ...string) {
		ic := &registryv1.ItemCoverage{Rule: rule, Item: number, Key: strings.Join(keys, ","), Heading: heading}
		for _, k := range keys {
			for _, h := range cover[k] {
				if !slices.Contains(ic.Articles, h) {
					ic.Articles = append(ic.Articles, h)
				}
			}
			for _, a := range v.GetSnapshot().GetAttestations() {
				if h, ok := bound[k]; ok && a.GetItem() == k {
					ic.Attestation = a.GetName()
					if !slices.Contains(ic.Articles, h) {
						ic.Articles = append(ic.Articles, h)
					}
				}
			}
		}
		out = append(out, ic)
	}
	for _, it := range Items(v.GetKind()) {
		row(it.Rule, it.Number, it.Heading, it.Key)
	}
	if v.GetKind() == registryv1.PolicyKind_POLICY_KIND_PRIVACY {
		for _, l := range [][]ListItem{STD19, PIPA301} {
			for _, li := range l {
				row(li.Rule, li.Number, li.Heading, li.Keys...)
			}
		}
	}
	return out
}

// applicableData reports whether the registry shows that an "only if applicable" item applies,
// and what it shows.
func (c *checker) applicableData(it Item) (bool, string) {
	switch it.Data {
	case "processors":
		if c.kind == registryv1.PolicyKind_POLICY_KIND_CCTV {
			// The unit's processors may run its other systems; only a contractor operating a site
			// makes CCTV outsourcing apply.
			var sites []string
			for _, s := range c.snap.GetSites() {
				if s.GetProcessor() != "" {
					sites = append(sites, display(s.GetDisplayName(), s.GetName()))
				}
			}
			return len(sites) > 0, "sites operated by a contractor (" + strings.Join(sites, ", ") + ")"
		}
		names := make([]string, 0, len(c.snap.GetProcessors()))
		for _, p := range c.snap.GetProcessors() {
			names = append(names, display(p.GetCompany(), p.GetName()))
		}
		if len(names) == 0 { // files may reference processors the snapshot did not carry
			for _, f := range c.snap.GetFiles() {
				for _, p := range f.GetProcessors() {
					names = append(names, id(p, 0))
				}
			}
		}
		return len(names) > 0, "processors (" + strings.Join(names, ", ") + ")"
	case "recipients":
		var files []string
		for _, f := range c.snap.GetFiles() {
			if len(f.GetRecipients()) > 0 {
				files = append(files, display(f.GetDisplayName(), f.GetName()))
			}
		}
		return len(files) > 0, "third-party recipients of files (" + strings.Join(files, ", ") + ")"
	case "sites":
		names := make([]string, 0, len(c.snap.GetSites()))
		for _, s := range c.snap.GetSites() {
			names = append(names, display(s.GetDisplayName(), s.GetName()))
		}
		return len(names) > 0, "CCTV sites (" + strings.Join(names, ", ") + ")"
	}
	return false, ""
}

func (c *checker) hasRole(role registryv1.OfficerRole) bool {
	return slices.ContainsFunc(c.snap.GetOfficers(), func(o *registryv1.Officer) bool { return hasRole(o, role) })
}

func hasRole(o *registryv1.Officer, role registryv1.OfficerRole) bool {
	return slices.Contains(o.GetRoles(), role)
}

// id is the last segment of a resource name, which findings use to point at data; the index when
// the resource has no name.
func id(name string, i int) string {
	if name == "" {
		return strconv.Itoa(i)
	}
	return names.Last(name)
}

func display(displayName, name string) string {
	if displayName != "" {
		return displayName
	}
	return id(name, 0)
}

// cctvSites checks each site's facts that DEC-25-1 items 1, 2 and 4 publish and that PIPA 25
// forbids or conditions.
func (c *checker) cctvSites() {
	public := c.snap.GetTenant().GetPublicInstitution()
	processors := map[string]bool{}
	for _, p := range c.snap.GetProcessors() {
		processors[p.GetName()] = true
	}
	officers := map[string]bool{}
	for _, o := range c.snap.GetOfficers() {
		officers[o.GetName()] = true
	}
	storageStated := len(c.cover["operation"]) > 0
	for _, s := range c.snap.GetSites() {
		storageStated = storageStated || strings.TrimSpace(s.GetStoragePlace()) != ""
	}
	for i, s := range c.snap.GetSites() {
		f := "snapshot.sites[" + id(s.GetName(), i) + "]."
		n := display(s.GetDisplayName(), s.GetName())

		// PIPA-25-1: cameras in public places only for the enumerated grounds.
		if len(s.GetPurposes()) == 0 {
			c.add(true, "PIPA-25-1", "1", f+"purposes", "site %s states no purpose of installation with its PIPA 25(1) ground", n)
		}
		for j, p := range s.GetPurposes() {
			if p.GetGround() == registryv1.CctvGround_CCTV_GROUND_UNSPECIFIED {
				c.add(true, "PIPA-25-1", "1", fmt.Sprintf("%spurposes[%d].ground", f, j),
					"site %s: purpose %q has no PIPA 25(1) ground", n, p.GetDescription())
			}
		}

		if s.GetCameraCount() <= 0 {
			c.add(true, "DEC-25-1", "2", f+"camera_count", "site %s: the number of cameras must be positive, got %d", n, s.GetCameraCount())
		}
		if s.PublicCameraCount != nil || s.NonpublicCameraCount != nil {
			pub, non := s.GetPublicCameraCount(), s.GetNonpublicCameraCount()
			if pub < 0 || non < 0 || pub+non != s.GetCameraCount() {
				c.add(true, "DEC-25-1", "2", f+"public_camera_count",
					"site %s: %d public + %d non-public cameras do not add up to its %d cameras", n, pub, non, s.GetCameraCount())
			}
		}
		// PIPA-25-2: no cameras seeing inside toilets, baths or changing rooms, save Decree 22(2).
		if s.GetRestrictedArea() && strings.TrimSpace(s.GetRestrictedAreaException()) == "" {
			c.add(true, "PIPA-25-2", "2", f+"restricted_area_exception",
				"site %s has cameras seeing inside toilets, baths or changing rooms; this is banned unless it is a correctional or mental-health facility (Decree 22(2)) and the exception is stated", n)
		}
		// PIPA-25-5: no audio recording.
		if s.GetRecordsAudio() {
			c.add(true, "PIPA-25-5", "2", f+"records_audio", "site %s records audio, which PIPA 25(5) forbids", n)
		}

		// DEC-25-1 item 4: recording hours, retention period, storage place.
		if strings.TrimSpace(s.GetRecordingHours()) == "" {
			c.add(true, "DEC-25-1", "4", f+"recording_hours", "site %s states no recording hours (촬영시간), e.g. \"24시간\"", n)
		}
		c.retention(f, n, s.GetRetentionDays(), s.GetRetentionReason(), "retention_days", "retention_reason")
		for j, z := range s.GetZoneRetentions() {
			zf := fmt.Sprintf("zone_retentions[%d].", j)
			c.retention(f+zf, n+" zone "+z.GetZone(), z.GetRetentionDays(), z.GetReason(), "retention_days", "reason")
		}
		// The policy must state where footage is stored; a site without its own place (seed 000's
		// 스마트도서관 and 시민공원) only warns while the policy states some place.
		if strings.TrimSpace(s.GetStoragePlace()) == "" {
			c.add(!storageStated, "DEC-25-1", "4", f+"storage_place", "site %s states no storage place (보관장소)", n)
		}

		// PIPA-25-4 (3)/(4): the sign shows the manager's and the contractor's contact, so both
		// must be on record.
		if m := s.GetManager(); m != "" && !officers[m] {
			c.add(true, "PIPA-25-4", "3", f+"manager", "site %s names manager %s, who is not among the unit's officers", n, m)
		}
		if p := s.GetProcessor(); p != "" && !processors[p] {
			c.add(true, "PIPA-25-4", "8", f+"processor", "site %s names contractor %s, which is not among the unit's processors", n, p)
		}

		// PIPA-25-3: a public institution consults residents and experts before installing.
		if public && strings.TrimSpace(s.GetConsultation()) == "" {
			c.add(false, "PIPA-25-3", "1", f+"consultation",
				"site %s: a public institution must consult experts and residents before installing cameras (행정예고, hearing, briefing or survey); record how", n)
		}
	}
}

func (c *checker) retention(f, n string, days int32, reason, daysField, reasonField string) {
	if days <= 0 {
		c.add(true, "DEC-25-1", "4", f+daysField, "site %s: the retention period (보관기간) must be a positive number of days, got %d", n, days)
		return
	}
	// STD-41-2: more than 30 days only with the reason stated in the policy.
	if days > 30 && strings.TrimSpace(reason) == "" {
		c.add(true, "STD-41-2", "4", f+reasonField,
			"site %s keeps footage %d days; more than 30 days needs the reason stated in the policy", n, days)
	}
}

// cctvOfficers: the policy and the signs publish the contact of the manager and of the access
// holders (PIPA-25-4 (3), DEC-25-1 item 3), so each needs a phone.
func (c *checker) cctvOfficers() {
	managed := map[string]bool{}
	for _, s := range c.snap.GetSites() {
		if s.GetManager() != "" {
			managed[s.GetManager()] = true
		}
	}
	cpoManages := !c.hasRole(registryv1.OfficerRole_OFFICER_ROLE_CCTV_MANAGER) // STD-37
	unitPhone := strings.TrimSpace(c.snap.GetUnit().GetPhone())
	for i, o := range c.snap.GetOfficers() {
		var role string
		switch {
		case hasRole(o, registryv1.OfficerRole_OFFICER_ROLE_CCTV_MANAGER):
			role = "관리책임자"
		case cpoManages && hasRole(o, registryv1.OfficerRole_OFFICER_ROLE_CPO):
			role = "개인정보 보호책임자 acting as 관리책임자"
		case hasRole(o, registryv1.OfficerRole_OFFICER_ROLE_ACCESS_AUTHORIZED):
			role = "접근권한자"
		case managed[o.GetName()]:
			role = "manager named on a sign"
		default:
			continue
		}
		// The sign must give the manager's contact; the unit's phone serves when the manager has
		// none of their own (seed 001 prints the school office's number). Access holders without a
		// phone only warn.
		if strings.TrimSpace(o.GetPhone()) == "" {
			blocking := role != "접근권한자" && unitPhone == ""
			c.add(blocking, "PIPA-25-4", "3", "snapshot.officers["+id(o.GetName(), i)+"].phone",
				"officer %s (%s) has no phone; the CCTV policy and the signs publish their contact", display(o.GetDisplayName(), o.GetName()), role)
		}
	}
}

// cctvProcessors: a contractor operating a site is named on its sign with its contact
// (PIPA-25-4 (4), STD-39(1)4).
func (c *checker) cctvProcessors() {
	used := map[string]bool{}
	for _, s := range c.snap.GetSites() {
		if s.GetProcessor() != "" {
			used[s.GetProcessor()] = true
		}
	}
	for i, p := range c.snap.GetProcessors() {
		if used[p.GetName()] && strings.TrimSpace(p.GetPhone()) == "" {
			c.add(true, "PIPA-25-4", "8", "snapshot.processors["+id(p.GetName(), i)+"].phone",
				"contractor %s operates cameras and has no phone; the signs publish its contact", display(p.GetCompany(), p.GetName()))
		}
	}
}

// privacyOfficers: WG26 item 18 publishes how to reach the CPO.
func (c *checker) privacyOfficers() {
	for i, o := range c.snap.GetOfficers() {
		if hasRole(o, registryv1.OfficerRole_OFFICER_ROLE_CPO) &&
			strings.TrimSpace(o.GetPhone()) == "" && strings.TrimSpace(o.GetEmail()) == "" {
			c.add(true, "WG26-ITEMS", "18", "snapshot.officers["+id(o.GetName(), i)+"].phone",
				"the CPO %s has neither phone nor email; the policy must say how to reach them", display(o.GetDisplayName(), o.GetName()))
		}
	}
}
