package render

import (
	"cmp"
	"slices"
	"strings"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
)

// Sign builds the sign (안내판) of a site with the four fields of PIPA-25-4 / DEC-24 / STD-39:
// (1) purpose and location, (2) recording range and hours, (3) the manager's contact, (4) the
// processor's name and contact when operation is outsourced; and the printed text, laid out like
// seed 001's sign. The manager is the site's, else the first CCTV manager of the snapshot, else
// the unit itself with its phone.
func Sign(site *registryv1.Site, snap *registryv1.UnitSnapshot) *registryv1.SiteSign {
	s := &registryv1.SiteSign{Site: site.GetName(), Hours: site.GetRecordingHours()}

	var purposes []string
	for _, p := range site.GetPurposes() {
		if d := p.GetDescription(); d != "" && !slices.Contains(purposes, d) {
			purposes = append(purposes, d)
		}
	}
	s.Purpose = strings.Join(purposes, ", ")
	s.Location = site.GetDisplayName()
	if ls := site.GetLocations(); len(ls) > 0 {
		s.Location += " (" + strings.Join(ls, ", ") + ")"
	}
	s.Range = cmp.Or(site.GetCoverage(), strings.Join(site.GetLocations(), ", "))

	var mgr *registryv1.Officer
	for _, o := range snap.GetOfficers() {
		if site.GetManager() != "" && o.GetName() == site.GetManager() {
			mgr = o
			break
		}
	}
	if mgr == nil {
		for _, o := range snap.GetOfficers() {
			if slices.Contains(o.GetRoles(), registryv1.OfficerRole_OFFICER_ROLE_CCTV_MANAGER) {
				mgr = o
				break
			}
		}
	}
	if mgr != nil {
		s.Manager = strings.TrimSpace(mgr.GetTitle() + " " + mgr.GetDisplayName())
		if s.Manager == "" {
			s.Manager = mgr.GetAffiliation()
		}
		s.ManagerPhone = mgr.GetPhone()
	}
	if s.ManagerPhone == "" {
		// PIPA-25-4 (3) needs a contact: fall back to the unit, then the tenant.
		if s.Manager == "" {
			s.Manager = cmp.Or(snap.GetUnit().GetDisplayName(), snap.GetTenant().GetDisplayName())
		}
		s.ManagerPhone = cmp.Or(snap.GetUnit().GetPhone(), snap.GetTenant().GetPhone())
	}

	if site.GetProcessor() != "" {
		for _, p := range snap.GetProcessors() {
			if p.GetName() == site.GetProcessor() {
				s.Processor = p.GetCompany()
				s.ProcessorPhone = p.GetPhone()
			}
		}
	}

	lines := []string{"CCTV 설치 안내"}
	add := func(label, value string) {
		if value != "" {
			lines = append(lines, label+" : "+value)
		}
	}
	add("설치목적", s.Purpose)
	add("설치장소", s.Location)
	add("촬영범위", s.Range)
	add("촬영시간", s.Hours)
	add("관리책임자", contact(s.Manager, s.ManagerPhone))
	add("수탁관리자", contact(s.Processor, s.ProcessorPhone))
	if site.GetIntegratedControl() {
		// STD-39(3): integrated control must be stated on the sign.
		lines = append(lines, "※ 이 영상정보처리기기는 통합관제센터에서 통합관리합니다.")
	}
	s.Text = strings.Join(lines, "\n")
	return s
}

func contact(name, phone string) string {
	if phone == "" {
		return name
	}
	return strings.TrimSpace(name + "(" + phone + ")")
}
