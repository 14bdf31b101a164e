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
		Sections: []*registryv1.Section{
			{Item: "review", Body: "- ① 확인방법 : 영상정보 접근권한자에게 미리 연락하고 본 기관을 방문하여 개인영상정보 열람․존재확인 청구서를 작성하여 제출하여야 합니다.\n- ② 확인장소 : 각 도서관 보관장소"},
			{Item: "requests", Body: "정보주체가 개인영상정보에 관하여 열람 또는 존재확인․파기를 원하는 경우 언제든지 영상정보처리기기 운영자에게 요구하실 수 있습니다. 거부하는 경우 10일 이내에 서면 등으로 거부사유를 통지합니다."},
			{Item: "safety", Body: "본 기관에서 처리하는 영상정보는 암호화 조치 등을 통하여 안전하게 관리되고 있습니다."},
		},
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

const seongnam = "tenants/seongnam/units/library"

// privacyVersion is a privacy policy shaped like seed 003 (성남시 도서관사업소): files carry
// purposes, items and retention; the CPO is registered; every other item is stated or declared
// not processed.
func privacyVersion() *registryv1.PolicyVersion {
	np := func(item string) *registryv1.Section { return &registryv1.Section{Item: item, NotProcessed: true} }
	body := func(item, text string) *registryv1.Section { return &registryv1.Section{Item: item, Body: text} }
	return &registryv1.PolicyVersion{
		Name:   seongnam + "/policies/privacy/versions/12",
		Kind:   registryv1.PolicyKind_POLICY_KIND_PRIVACY,
		Number: 12,
		State:  registryv1.PolicyState_POLICY_STATE_DRAFT,
		Sections: []*registryv1.Section{
			body("preamble", "성남시 도서관사업소는 정보주체의 자유와 권리 보호를 위해 「개인정보 보호법」을 준수합니다."),
			body("children", "14세 미만 아동의 회원가입 시 법정대리인의 동의를 받습니다."),
			body("destruction", "보유기간이 경과한 개인정보는 5일 이내에 파기합니다."),
			np("additional_use"),
			np("overseas"),
			body("safety", "내부관리계획 수립·시행, 접속기록 보관 및 위변조 방지."),
			np("sensitive"),
			np("pseudonymized"),
			body("auto_collection", "도서관 홈페이지는 쿠키를 사용합니다."),
			np("behavioral"),
			body("rights", "정보주체는 언제든지 개인정보 열람·정정·삭제·처리정지 요구 등의 권리를 행사할 수 있습니다."),
			np("automated_decisions"),
			np("domestic_agent"),
			body("remedies", "개인정보분쟁조정위원회 (1833-6972)"),
			np("mobile_cameras"),
			np("cctv"),
		},
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
			Processors: []*registryv1.Processor{{Name: seongnam + "/processors/kolas", Company: "(주)도서관시스템", Work: "도서관리시스템 유지보수", Phone: "02-000-0000"}},
		},
	}
}
