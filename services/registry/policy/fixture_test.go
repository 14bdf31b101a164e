package policy

import (
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
)

const jeongeup = "tenants/jeongeup/units/library"

// seed000 is seed 000 (정읍시립도서관 영상정보처리기기 운영·관리방침) as pipa holds it: the sites,
// officers and retention live in the registry, and only the articles without registry data
// (제5조 확인 방법, 제6조 열람 등 요구, 제7조 안전성 확보조치) are free text.
func seed000() *registryv1.PolicyVersion {
	purposes := []*registryv1.SitePurpose{
		{Description: "시설 안전 및 화재 예방", Ground: registryv1.CctvGround_CCTV_GROUND_FACILITY_SAFETY},
		{Description: "이용자 안전을 위한 범죄 예방", Ground: registryv1.CctvGround_CCTV_GROUND_CRIME_PREVENTION},
		{Description: "주차장 차량 도난 및 파손 방지", Ground: registryv1.CctvGround_CCTV_GROUND_CRIME_PREVENTION},
	}
	site := func(id, name string, cameras int32, storage string, locations ...string) *registryv1.Site {
		return &registryv1.Site{
			Name: jeongeup + "/sites/" + id, DisplayName: name, CameraCount: cameras, Locations: locations,
			Purposes: purposes, RecordingHours: "24시간", RetentionDays: 30, StoragePlace: storage,
			Manager: jeongeup + "/officers/song-hyeonsuk",
		}
	}
	officer := func(id, name, title, affiliation, phone string, role registryv1.OfficerRole) *registryv1.Officer {
		return &registryv1.Officer{Name: jeongeup + "/officers/" + id, DisplayName: name, Title: title,
			Affiliation: affiliation, Phone: phone, Roles: []registryv1.OfficerRole{role}}
	}
	access := registryv1.OfficerRole_OFFICER_ROLE_ACCESS_AUTHORIZED
	return &registryv1.PolicyVersion{
		Name:   jeongeup + "/policies/cctv/versions/3",
		Kind:   registryv1.PolicyKind_POLICY_KIND_CCTV,
		Number: 3,
		State:  registryv1.PolicyState_POLICY_STATE_DRAFT,
		Title:  "영상정보처리기기운영·관리방침",
		Articles: articles(
			"제1조(영상정보처리기기의 설치근거 및 설치목적)", "- ▶ {{purpose.description}}",
			"제2조(설치대수, 설치위치 및 촬영범위)", "| 구 분 | 설치대수 |\n| --- | --- |\n| {{site.displayName}} | {{site.cameraCount}}대 |",
			"제3조(관리책임자 및 접근권한자)", "| 구 분 | 이 름 |\n| --- | --- |\n| {{officer.role}} | {{officer.displayName}} |",
			"제4조(영상정보의 촬영시간, 보관기간, 보관장소 및 처리방법)", "촬영일로부터 {{sites.retentionDays}}일",
			"제5조(개인영상정보의 확인 방법 및 장소에 관한 사항)", "- ① 확인방법 : 영상정보 접근권한자에게 미리 연락하고 본 기관을 방문하여 개인영상정보 열람․존재확인 청구서를 작성하여 제출하여야 합니다.",
			"제6조(정보주체의 영상정보 열람 등 요구에 대한 조치)", "정보주체가 개인영상정보에 관하여 열람 또는 존재확인․파기를 원하는 경우 언제든지 영상정보처리기기 운영자에게 요구하실 수 있습니다.",
			"제7조(개인영상정보의 안전성 확보조치)", "본 기관에서 처리하는 영상정보는 암호화 조치 등을 통하여 안전하게 관리되고 있습니다.",
			"제8조(영상정보처리기기 운영․관리방침 변경에 관한 사항)", "이 방침은 2024. 01. 16.부터 적용됩니다.",
		),
		Snapshot: &registryv1.UnitSnapshot{
			Tenant: &registryv1.Tenant{Name: "tenants/jeongeup", DisplayName: "정읍시",
				Kind: registryv1.TenantKind_TENANT_KIND_LOCAL_GOVERNMENT, PublicInstitution: true, NoticeLeadDays: 7},
			Unit: &registryv1.Unit{Name: jeongeup, DisplayName: "정읍시립도서관"},
			Officers: []*registryv1.Officer{
				officer("song-hyeonsuk", "송현숙", "소장", "도서관사업소", "063-539-5049", registryv1.OfficerRole_OFFICER_ROLE_CCTV_MANAGER),
				officer("song-seunghak", "송승학", "주무관", "도서관사업소(중앙)", "063-539-6433", access),
				officer("so-yeonghyu", "소영휴", "주무관", "도서관사업소(신태인)", "063-539-6442", access),
				officer("yuk-jeongran", "육정란", "주무관", "도서관사업소(기적)", "063-539-6453", access),
			},
			Sites: []*registryv1.Site{
				site("central", "중앙도서관", 27, "중앙도서관 2층 전산실", "도서관 건물 내부 및 외부", "도서관 주차장"),
				site("sintaein", "신태인도서관", 8, "신태인도서관 사무실"),
				site("miracle", "기적의도서관", 25, "기적의도서관 사무실"),
				site("smart", "스마트도서관", 1, "중앙도서관 2층 전산실", "스마트도서관 부스 내부"),
				site("park", "시민공원", 4, "중앙도서관 2층 전산실"),
			},
		},
	}
}

// articles makes articles from heading, body pairs, their numbers and titles read.
func articles(pairs ...string) []*registryv1.Article {
	var out []*registryv1.Article
	for i := 0; i+1 < len(pairs); i += 2 {
		a := &registryv1.Article{Heading: pairs[i], Body: pairs[i+1]}
		SetHeading(a)
		out = append(out, a)
	}
	return out
}

const seongnam = "tenants/seongnam/units/library"

// privacyVersion is a privacy policy shaped like seed 003 (성남시 도서관사업소): its own 18-article
// outline, the registry's file, CPO and processor; the items it does not state (overseas,
// sensitive, behavioral, automated decisions, domestic agent, mobile cameras) attested not
// processed by the CPO and bound in its last article.
func privacyVersion() *registryv1.PolicyVersion {
	attested := []string{"overseas", "sensitive", "behavioral", "automated_decisions", "domestic_agent", "mobile_cameras"}
	var atts []*registryv1.Attestation
	bindings := ""
	for _, it := range attested {
		atts = append(atts, &registryv1.Attestation{Name: "tenants/seongnam/attestations/" + it, Unit: seongnam,
			Kind: registryv1.PolicyKind_POLICY_KIND_PRIVACY, Item: it, Statement: it + " 처리하지 않음",
			Officer: seongnam + "/officers/cpo", OfficerLabel: "도서관사업소장"})
		bindings += "- {{attestation/" + it + ".statement}}\n"
	}
	return &registryv1.PolicyVersion{
		Name:     seongnam + "/policies/privacy/versions/12",
		Kind:     registryv1.PolicyKind_POLICY_KIND_PRIVACY,
		Number:   12,
		State:    registryv1.PolicyState_POLICY_STATE_DRAFT,
		Preamble: "성남시 도서관사업소는 정보주체의 자유와 권리 보호를 위해 「개인정보 보호법」을 준수합니다.",
		Articles: articles(
			"제1조(개인정보의 처리목적)", "- {{file.displayName}} : {{file.purpose}}",
			"제2조(개인정보의 처리 및 보유기간)", "{{file/members.retention}}",
			"제3조(14세 미만 아동의 개인정보 처리에 관한 사항)", "14세 미만 아동의 회원가입 시 법정대리인의 동의를 받습니다.",
			"제4조(처리하는 개인정보 항목)", "필수항목: {{file/members.requiredItems|, }}",
			"제5조(개인정보 영향평가의 수행 결과)", "도서대출회원정보 등 2개 일반정보 2016",
			"제6조(개인정보의 파기 절차 및 방법)", "보유기간이 경과한 개인정보는 5일 이내에 파기합니다.",
			"제7조(개인정보의 제3자 제공)", "| 제공받는 자 |\n| --- |\n| {{recipient.recipient}} |",
			"제8조(개인정보 처리의 위탁)", "| 수탁업체 |\n| --- |\n| {{processor.company}} |",
			"제9조(개인정보의 안전성 확보조치)", "내부관리계획 수립·시행, 접속기록 보관 및 위변조 방지.",
			"제10조(가명정보의 처리)", "가명정보는 재식별되지 않도록 분리하여 별도 저장·관리합니다.",
			"제11조(개인정보 자동 수집 장치의 설치·운영 및 거부에 관한 사항)", "도서관 홈페이지는 쿠키를 사용합니다.",
			"제12조(정보주체와 법정대리인의 권리·의무 및 행사방법)", "정보주체는 언제든지 개인정보 열람·정정·삭제·처리정지 요구 등의 권리를 행사할 수 있습니다.",
			"제13조(개인정보 보호책임자)", "{{officer/cpo.displayName}} {{officer/cpo.phone}}",
			"제14조(추가적인 이용·제공 판단기준)", "당초 수집 목적과 관련성이 있는지 여부",
			"제15조(권익침해 구제방법)", "개인정보분쟁조정위원회 (1833-6972)",
			"제16조(영상정보처리기기 설치·운영)", "영상정보처리기기 운영·방침을 부서별로 수립하여 운영하고 있습니다.",
			"제17조(개인정보 보호수준 평가 결과)", "2023년도 'A'등급",
			"제18조(개인정보 처리방침 변경)", "이 개인정보 처리방침은 2024. 06. 20.부터 적용됩니다.\n\n"+bindings,
		),
		Snapshot: &registryv1.UnitSnapshot{
			Tenant: &registryv1.Tenant{Name: "tenants/seongnam", DisplayName: "성남시", PublicInstitution: true},
			Unit:   &registryv1.Unit{Name: seongnam, DisplayName: "성남시 도서관사업소"},
			Officers: []*registryv1.Officer{{Name: seongnam + "/officers/cpo", DisplayName: "도서관사업소장",
				Phone: "031-729-4600", Roles: []registryv1.OfficerRole{registryv1.OfficerRole_OFFICER_ROLE_CPO}}},
			Files: []*registryv1.PersonalInformationFile{{
				Name: seongnam + "/files/members", DisplayName: "도서관 회원 관리",
				Purpose: "도서관 회원 가입 및 도서 대출", RequiredItems: []string{"성명", "생년월일", "휴대전화번호"},
				Retention: "회원 탈퇴 시까지 또는 2년", Recipients: []*registryv1.Recipient{{Recipient: "국립중앙도서관", Purpose: "책바다 상호대차"}},
				Processors: []string{seongnam + "/processors/kolas"},
			}},
			Processors:   []*registryv1.Processor{{Name: seongnam + "/processors/kolas", Company: "(주)도서관시스템", Work: "도서관리시스템 유지보수", Phone: "02-000-0000"}},
			Attestations: atts,
		},
	}
}
