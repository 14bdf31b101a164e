package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
)

// Check returns the completeness findings of v against its kind's catalogue (LAW.md rule 7, the
// policy completeness validator). Findings come in a fixed order: the sections' own shape (unknown
// or repeated item keys, by section index), then the catalogue items in published order, then the
// checks of the snapshot's data (sites, officers, processors, in snapshot order).
func Check(v *registryv1.PolicyVersion) []*registryv1.Finding {
	items := Items(v.GetKind())
	if items == nil {
		return []*registryv1.Finding{{Rule: "required", Field: "kind", Blocking: true,
			Message: fmt.Sprintf("policy kind %s is neither privacy nor cctv; it has no catalogue of items", v.GetKind())}}
	}
	c := &checker{kind: v.GetKind(), snap: v.GetSnapshot(), byKey: map[string]*registryv1.Section{}}
	c.sections(v.GetSections(), items[0].Rule)
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
	byKey map[string]*registryv1.Section
	out   []*registryv1.Finding
}

func (c *checker) add(blocking bool, rule, item, field, format string, args ...any) {
	c.out = append(c.out, &registryv1.Finding{Rule: rule, Item: item, Field: field,
		Message: fmt.Sprintf(format, args...), Blocking: blocking})
}

// sections rejects keys outside the catalogue and repeated keys; the first section of a key is
// the one the items are checked against.
func (c *checker) sections(sections []*registryv1.Section, rule string) {
	first := map[string]int{}
	for i, s := range sections {
		field := fmt.Sprintf("sections[%d].item", i)
		if _, ok := Lookup(c.kind, s.GetItem()); !ok {
			c.add(true, rule, "", field, "section %d has item %q, which is not an item of a %s policy (%s)",
				i, s.GetItem(), Segment(c.kind), rule)
			continue
		}
		if j, dup := first[s.GetItem()]; dup {
			c.add(true, rule, "", field, "section %d repeats item %q of section %d; state each item once (STD-18)",
				i, s.GetItem(), j)
			continue
		}
		first[s.GetItem()] = i
		c.byKey[s.GetItem()] = s
	}
}

func label(it Item) string {
	if it.Number == "" {
		return fmt.Sprintf("%q (%s)", it.Heading, it.Key)
	}
	return fmt.Sprintf("%s item %s %q (%s)", it.Rule, it.Number, it.Heading, it.Key)
}

func (c *checker) item(it Item) {
	s := c.byKey[it.Key]
	field := "sections[" + it.Key + "]"
	hasBody := strings.TrimSpace(s.GetBody()) != ""
	switch it.Requirement {
	case Mandatory:
		if s.GetNotProcessed() {
			c.add(true, it.Rule, it.Number, field+".not_processed",
				"%s is mandatory and cannot be declared not processed; state it", label(it))
			return
		}
		ok, missing := c.mandatoryData(it)
		switch {
		case ok:
		case hasBody:
			c.bodyOnly(it, s, field)
		default:
			c.add(true, it.Rule, it.Number, field, "%s is mandatory: write section %q or %s", label(it), it.Key, missing)
		}
	case Applicable:
		present, what := c.applicableData(it)
		if s.GetNotProcessed() && present {
			// WG26-ITEMS: "not processed" is a statement of fact, and the registry says otherwise.
			c.add(true, it.Rule, it.Number, field+".not_processed",
				"%s is declared not processed, but the registry has %s; remove the declaration or the data", label(it), what)
			return
		}
		if present || hasBody || s.GetNotProcessed() {
			return
		}
		// DEC-25-1 has no outsourcing item of its own: it is part of item 8 where cameras are run by a
		// contractor (seed 002 "해당하는 경우만"), so a CCTV policy without outsourced sites need not say so.
		if c.kind == registryv1.PolicyKind_POLICY_KIND_CCTV && it.Key == "outsourcing" {
			return
		}
		c.add(true, it.Rule, it.Number, field,
			"%s applies only where processed: fill section %q or declare it not processed (WG26-ITEMS)", label(it), it.Key)
	case Recommended:
		if !hasBody && !s.GetNotProcessed() {
			c.add(false, it.Rule, it.Number, field, "%s is recommended: consider writing section %q", label(it), it.Key)
		}
	}
}

// phonePattern matches Korean phone numbers as published: 063-539-5049, 02)123-4567, 1588-1234.
var phonePattern = regexp.MustCompile(`\b0\d{1,2}[-.) ]\s*\d{3,4}[-. ]\d{4}\b|\b1\d{3}-\d{4}\b`)

// bodyOnly checks an item that is stated only in free text, where the text must carry what the
// data would have.
func (c *checker) bodyOnly(it Item, s *registryv1.Section, field string) {
	// PIPA-30-1 (6): without a CPO, the policy names the department handling complaints and its phone.
	if c.kind == registryv1.PolicyKind_POLICY_KIND_PRIVACY && it.Key == "officers" && !phonePattern.MatchString(s.GetBody()) {
		c.add(true, it.Rule, it.Number, field,
			"%s: no officer holds the CPO role, so section %q must name the department handling privacy complaints with its phone number, and it has no phone number",
			label(it), it.Key)
	}
}

// mandatoryData reports whether the registry data satisfy a mandatory item (Item.Data) and, when
// they do not, what would.
func (c *checker) mandatoryData(it Item) (bool, string) {
	switch it.Data {
	case "history":
		return true, "" // the change history is generated from the versions
	case "sites":
		return len(c.snap.GetSites()) > 0, "register the unit's CCTV sites"
	case "files":
		for _, f := range c.snap.GetFiles() {
			switch it.Key {
			case "purpose":
				if strings.TrimSpace(f.GetPurpose()) != "" {
					return true, ""
				}
			case "items":
				if len(f.GetRequiredItems()) > 0 {
					return true, ""
				}
			case "retention":
				if strings.TrimSpace(f.GetRetention()) != "" {
					return true, ""
				}
			}
		}
		field := map[string]string{"purpose": "purpose (처리 목적)", "items": "required items (필수항목)",
			"retention": "retention period (보유기간)"}[it.Key]
		return false, "record a personal-information file with its " + field
	case "officers":
		if c.kind == registryv1.PolicyKind_POLICY_KIND_PRIVACY {
			return c.hasRole(registryv1.OfficerRole_OFFICER_ROLE_CPO), "register an officer with the CPO role (개인정보 보호책임자)"
		}
		// STD-37: the CPO may act as CCTV manager.
		manager := c.hasRole(registryv1.OfficerRole_OFFICER_ROLE_CCTV_MANAGER) || c.hasRole(registryv1.OfficerRole_OFFICER_ROLE_CPO)
		access := c.hasRole(registryv1.OfficerRole_OFFICER_ROLE_ACCESS_AUTHORIZED)
		var missing []string
		if !manager {
			missing = append(missing, "a CCTV manager (관리책임자, or the CPO acting as one, STD-37)")
		}
		if !access {
			missing = append(missing, "an officer with access rights (접근권한자)")
		}
		return manager && access, "register " + strings.Join(missing, " and ")
	}
	return false, "state it"
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
	return name[strings.LastIndexByte(name, '/')+1:]
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
	storageStated := strings.TrimSpace(c.byKey["operation"].GetBody()) != ""
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
