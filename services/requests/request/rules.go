package request

import (
	"fmt"
	"maps"
	"slices"

	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/services/requests/clock"
)

type (
	rtype  = requestsv1.RequestType
	rstate = requestsv1.RequestState
	ground = requestsv1.Ground
)

// typeRule is what the law says of one request type.
type typeRule struct {
	label string // Korean, as forms and notices name it
	law   string // the article, for the ledger's legal basis
	days  int    // the statutory period
	// grounds a restriction, deferral or refusal may cite.
	grounds []ground
	form    string // the notice form
	cctv    bool
	// deferrable under PIPA-35-3 (DEC-42-2); AUTOMATED_DECISION extends instead (DEC-44-3-5).
	deferrable bool
	// proxy is the 별지 제11호 scope box a proxy's power of attorney must tick.
	proxy rtype
	// clockRule is the LAW.md rule of the decision's period.
	clockRule string
}

var accessGrounds = []ground{
	requestsv1.Ground_GROUND_ACCESS_PROHIBITED_BY_LAW, requestsv1.Ground_GROUND_ACCESS_HARMS_OTHERS,
	requestsv1.Ground_GROUND_ACCESS_TAX, requestsv1.Ground_GROUND_ACCESS_SCHOOL_ASSESSMENT,
	requestsv1.Ground_GROUND_ACCESS_EXAMINATION, requestsv1.Ground_GROUND_ACCESS_ONGOING_ASSESSMENT,
	requestsv1.Ground_GROUND_ACCESS_ONGOING_AUDIT,
}

// STD-44-4: CCTV requests are restricted on the PIPA-35-4 grounds; footage destroyed after its
// retention period, or a requester who is not in it (STD-44-1), also ends them.
var cctvGrounds = append(slices.Clone(accessGrounds),
	requestsv1.Ground_GROUND_CCTV_DESTROYED, requestsv1.Ground_GROUND_CCTV_NOT_REQUESTER)

var typeRules = map[rtype]typeRule{
	// PIPA-35-3, PIPA-35-4, DEC-41-1.
	requestsv1.RequestType_REQUEST_TYPE_ACCESS: {label: "개인정보 열람", law: "개인정보 보호법 제35조", clockRule: "PIPA-35-3",
		days: clock.AccessDays, grounds: accessGrounds, form: "별지 제9호", deferrable: true,
		proxy: requestsv1.RequestType_REQUEST_TYPE_ACCESS},
	// PIPA-36-1, DEC-43-3.
	requestsv1.RequestType_REQUEST_TYPE_CORRECTION: {label: "개인정보 정정", law: "개인정보 보호법 제36조", clockRule: "DEC-43-3",
		days: clock.CorrectionDays, grounds: []ground{requestsv1.Ground_GROUND_CORRECTION_UNFOUNDED},
		form: "별지 제10호", proxy: requestsv1.RequestType_REQUEST_TYPE_CORRECTION},
	requestsv1.RequestType_REQUEST_TYPE_DELETION: {label: "개인정보 삭제", law: "개인정보 보호법 제36조", clockRule: "DEC-43-3",
		days: clock.CorrectionDays, grounds: []ground{requestsv1.Ground_GROUND_DELETION_REQUIRED_BY_LAW},
		form: "별지 제10호", proxy: requestsv1.RequestType_REQUEST_TYPE_CORRECTION},
	// PIPA-37-2, DEC-44-2.
	requestsv1.RequestType_REQUEST_TYPE_SUSPENSION: {label: "개인정보 처리정지·동의철회", law: "개인정보 보호법 제37조", clockRule: "DEC-44-2",
		days: clock.SuspensionDays, grounds: []ground{
			requestsv1.Ground_GROUND_SUSPENSION_REQUIRED_BY_LAW, requestsv1.Ground_GROUND_SUSPENSION_HARMS_OTHERS,
			requestsv1.Ground_GROUND_SUSPENSION_PUBLIC_DUTY, requestsv1.Ground_GROUND_SUSPENSION_CONTRACT},
		form: "별지 제10호", proxy: requestsv1.RequestType_REQUEST_TYPE_SUSPENSION},
	// DEC-44-3-5.
	requestsv1.RequestType_REQUEST_TYPE_AUTOMATED_DECISION: {label: "자동화된 결정 거부·설명", law: "개인정보 보호법 제37조의2", clockRule: "DEC-44-3-5",
		days: clock.AutomatedDecisionDays, grounds: []ground{requestsv1.Ground_GROUND_AUTOMATED_ADMIN_DISPOSITION},
		form: "별지 제10호", proxy: requestsv1.RequestType_REQUEST_TYPE_AUTOMATED_DECISION},
	// STD-44-1, STD-44-4.
	requestsv1.RequestType_REQUEST_TYPE_CCTV_ACCESS: {label: "개인영상정보 열람", law: "개인정보 보호법 제35조", clockRule: "STD-44-4",
		days: clock.CCTVDays, grounds: cctvGrounds, form: "별지 제9호", cctv: true, deferrable: true,
		proxy: requestsv1.RequestType_REQUEST_TYPE_ACCESS},
	requestsv1.RequestType_REQUEST_TYPE_CCTV_EXISTENCE: {label: "개인영상정보 존재확인", law: "개인정보 보호법 제35조", clockRule: "STD-44-4",
		days: clock.CCTVDays, grounds: cctvGrounds, form: "별지 제9호", cctv: true, deferrable: true,
		proxy: requestsv1.RequestType_REQUEST_TYPE_ACCESS},
	requestsv1.RequestType_REQUEST_TYPE_CCTV_DELETION: {label: "개인영상정보 삭제", law: "개인정보 보호법 제36조", clockRule: "STD-44-4",
		days: clock.CCTVDays, grounds: cctvGrounds, form: "별지 제10호", cctv: true,
		proxy: requestsv1.RequestType_REQUEST_TYPE_CORRECTION},
	// PIPA-18-2: no statutory clock runs on another body's request.
	requestsv1.RequestType_REQUEST_TYPE_THIRD_PARTY_PROVISION: {label: "개인정보 제3자 제공 요청", law: "개인정보 보호법 제18조제2항",
		grounds: []ground{requestsv1.Ground_GROUND_PROVISION_NO_LAWFUL_GROUND, requestsv1.Ground_GROUND_PROVISION_INFRINGES_INTERESTS},
		form:    "제3자 제공 결정 통지"},
}

// provisionGrounds describe the grounds of PIPA-18-2: the ledger's legal basis, whether only a
// public institution may rely on it, and whether PIPA-18-4 requires its publication (2–6, 8–10).
var provisionGrounds = map[requestsv1.ProvisionGround]struct {
	text                string
	publicOnly, publish bool
}{
	requestsv1.ProvisionGround_PROVISION_GROUND_CONSENT:                {"개인정보 보호법 제18조제2항제1호(정보주체의 별도 동의)", false, false},
	requestsv1.ProvisionGround_PROVISION_GROUND_OTHER_LAW:              {"개인정보 보호법 제18조제2항제2호(다른 법률의 특별한 규정)", false, true},
	requestsv1.ProvisionGround_PROVISION_GROUND_URGENT_INTERESTS:       {"개인정보 보호법 제18조제2항제3호(급박한 생명·신체·재산의 이익)", false, true},
	requestsv1.ProvisionGround_PROVISION_GROUND_PUBLIC_DUTY_PIPC:       {"개인정보 보호법 제18조제2항제5호(소관 업무, 보호위원회 심의·의결)", true, true},
	requestsv1.ProvisionGround_PROVISION_GROUND_TREATY:                 {"개인정보 보호법 제18조제2항제6호(조약·국제협정 이행)", true, true},
	requestsv1.ProvisionGround_PROVISION_GROUND_CRIMINAL_INVESTIGATION: {"개인정보 보호법 제18조제2항제7호(범죄 수사, 공소 제기·유지)", true, false},
	requestsv1.ProvisionGround_PROVISION_GROUND_COURT:                  {"개인정보 보호법 제18조제2항제8호(법원의 재판업무)", true, true},
	requestsv1.ProvisionGround_PROVISION_GROUND_SENTENCE:               {"개인정보 보호법 제18조제2항제9호(형 및 감호, 보호처분의 집행)", true, true},
	requestsv1.ProvisionGround_PROVISION_GROUND_PUBLIC_SAFETY:          {"개인정보 보호법 제18조제2항제10호(공공의 안전과 안녕)", false, true},
}

var provisionFormLabel = map[requestsv1.ProvisionForm]string{
	requestsv1.ProvisionForm_PROVISION_FORM_ON_SITE_VIEWING: "현장 열람", requestsv1.ProvisionForm_PROVISION_FORM_USB_COPY: "USB 사본 제공",
	requestsv1.ProvisionForm_PROVISION_FORM_ELECTRONIC_COPY: "전자파일 전송", requestsv1.ProvisionForm_PROVISION_FORM_PRINT: "출력물 제공",
	requestsv1.ProvisionForm_PROVISION_FORM_OTHER: "기타",
}

// groundText is each ground as a notice states it.
var groundText = map[ground]string{
	requestsv1.Ground_GROUND_ACCESS_PROHIBITED_BY_LAW:      "법률에 따라 열람이 금지되거나 제한되는 경우 (개인정보 보호법 제35조제4항제1호)",
	requestsv1.Ground_GROUND_ACCESS_HARMS_OTHERS:           "다른 사람의 생명·신체를 해할 우려가 있거나 다른 사람의 재산과 그 밖의 이익을 부당하게 침해할 우려가 있는 경우 (같은 항 제2호)",
	requestsv1.Ground_GROUND_ACCESS_TAX:                    "조세의 부과·징수 또는 환급에 관한 업무 수행에 중대한 지장을 초래하는 경우 (같은 항 제3호가목)",
	requestsv1.Ground_GROUND_ACCESS_SCHOOL_ASSESSMENT:      "학교의 성적 평가 또는 입학자 선발에 관한 업무 수행에 중대한 지장을 초래하는 경우 (같은 항 제3호나목)",
	requestsv1.Ground_GROUND_ACCESS_EXAMINATION:            "학력·기능 및 채용에 관한 시험, 자격 심사에 관한 업무 수행에 중대한 지장을 초래하는 경우 (같은 항 제3호다목)",
	requestsv1.Ground_GROUND_ACCESS_ONGOING_ASSESSMENT:     "보상금·급부금 산정 등에 대하여 진행 중인 평가 또는 판단에 관한 업무 수행에 중대한 지장을 초래하는 경우 (같은 항 제3호라목)",
	requestsv1.Ground_GROUND_ACCESS_ONGOING_AUDIT:          "다른 법률에 따라 진행 중인 감사 및 조사에 관한 업무 수행에 중대한 지장을 초래하는 경우 (같은 항 제3호마목)",
	requestsv1.Ground_GROUND_DELETION_REQUIRED_BY_LAW:      "다른 법령에서 그 개인정보가 수집 대상으로 명시되어 있는 경우 (개인정보 보호법 제36조제1항 단서)",
	requestsv1.Ground_GROUND_CORRECTION_UNFOUNDED:          "조사 결과 정정할 사유가 없음 (개인정보 보호법 시행령 제43조제3항)",
	requestsv1.Ground_GROUND_SUSPENSION_REQUIRED_BY_LAW:    "법률에 특별한 규정이 있거나 법령상 의무를 준수하기 위하여 불가피한 경우 (개인정보 보호법 제37조제2항제1호)",
	requestsv1.Ground_GROUND_SUSPENSION_HARMS_OTHERS:       "다른 사람의 생명·신체를 해할 우려가 있거나 다른 사람의 재산과 그 밖의 이익을 부당하게 침해할 우려가 있는 경우 (같은 항 제2호)",
	requestsv1.Ground_GROUND_SUSPENSION_PUBLIC_DUTY:        "개인정보를 처리하지 아니하면 다른 법률에서 정하는 소관 업무를 수행할 수 없는 경우 (같은 항 제3호)",
	requestsv1.Ground_GROUND_SUSPENSION_CONTRACT:           "개인정보를 처리하지 아니하면 약정한 서비스를 제공하지 못하는 등 계약의 이행이 곤란한 경우 (같은 항 제4호)",
	requestsv1.Ground_GROUND_CCTV_DESTROYED:                "보관기간이 경과하여 영상이 파기됨 (표준 개인정보 보호지침 제44조제4항)",
	requestsv1.Ground_GROUND_CCTV_NOT_REQUESTER:            "청구인이 촬영되지 않은 영상임 (표준 개인정보 보호지침 제44조제1항)",
	requestsv1.Ground_GROUND_AUTOMATED_ADMIN_DISPOSITION:   "행정기본법 제20조에 따른 자동적 처분 (개인정보 보호법 제37조의2제1항)",
	requestsv1.Ground_GROUND_PROVISION_NO_LAWFUL_GROUND:    "개인정보 보호법 제18조제2항 각 호의 제공 근거에 해당하지 않음",
	requestsv1.Ground_GROUND_PROVISION_INFRINGES_INTERESTS: "정보주체 또는 제3자의 이익을 부당하게 침해할 우려가 있음 (개인정보 보호법 제18조제2항 단서)",
}

// defaultObjection is the 이의제기방법 (PIPA-38-5) a notice gives when the decision names none.
const defaultObjection = "이 결정에 이의가 있으면 통지를 받은 날부터 90일 이내에 행정심판법에 따른 행정심판을 청구하거나, " +
	"행정소송법에 따른 행정소송을 제기할 수 있습니다. 개인정보침해 신고센터(국번 없이 118) 또는 " +
	"개인정보 분쟁조정위원회(1833-6972)에 상담·조정을 신청할 수도 있습니다."

// transitions are the states each step may start from. A request is decided only once its
// identity is verified (DEC-46, STD-44-3) and closed only once its decision's notice was issued.
var transitions = map[string][]rstate{
	"verifyIdentity":   {requestsv1.RequestState_REQUEST_STATE_RECEIVED},
	"approve":          {requestsv1.RequestState_REQUEST_STATE_VERIFIED},
	"partiallyApprove": {requestsv1.RequestState_REQUEST_STATE_VERIFIED},
	"defer":            {requestsv1.RequestState_REQUEST_STATE_VERIFIED},
	"resume":           {requestsv1.RequestState_REQUEST_STATE_DEFERRED},
	"refuse":           {requestsv1.RequestState_REQUEST_STATE_VERIFIED, requestsv1.RequestState_REQUEST_STATE_DEFERRED},
	"fulfill":          {requestsv1.RequestState_REQUEST_STATE_APPROVED},
	"withdraw": {requestsv1.RequestState_REQUEST_STATE_RECEIVED, requestsv1.RequestState_REQUEST_STATE_VERIFIED,
		requestsv1.RequestState_REQUEST_STATE_DEFERRED, requestsv1.RequestState_REQUEST_STATE_APPROVED},
	"close": {requestsv1.RequestState_REQUEST_STATE_FULFILLED, requestsv1.RequestState_REQUEST_STATE_REFUSED,
		requestsv1.RequestState_REQUEST_STATE_WITHDRAWN},
}

// precondition is the stable ErrorInfo reason of a transition refused for the request's state.
func precondition(step string, state rstate) (reason, message string) {
	switch {
	case step == "close" && state == requestsv1.RequestState_REQUEST_STATE_APPROVED:
		return "NOT_FULFILLED", "an approved request closes once it is fulfilled (:fulfill)"
	case step == "close":
		return "NOTICE_REQUIRED", "a request closes only once a decision's notice is issued (PIPA-35-3, DEC-43-3)"
	case state == requestsv1.RequestState_REQUEST_STATE_RECEIVED:
		return "IDENTITY_NOT_VERIFIED", fmt.Sprintf("%s needs the requester's identity verified first (DEC-46, STD-44-3): call :verifyIdentity", step)
	}
	return "INVALID_TRANSITION", fmt.Sprintf("%s is not possible in state %s", step, stateName(state))
}

func stateName(s rstate) string { return s.String()[len("REQUEST_STATE_"):] }

// Types are the request types, in their enum order.
func Types() []requestsv1.RequestType { return slices.Sorted(maps.Keys(typeRules)) }

// Label is a type as forms and notices name it, e.g. "개인영상정보 열람".
func Label(t requestsv1.RequestType) string { return typeRules[t].label }

// ClockRule is the LAW.md rule that sets a type's decision period ("" for another body's request,
// which runs no clock).
func ClockRule(t requestsv1.RequestType) string { return typeRules[t].clockRule }

// Days is a type's statutory period in days; 0 for another body's request, which runs no clock.
func Days(t requestsv1.RequestType) int { return typeRules[t].days }

// IsCCTV reports whether a type is a request about CCTV footage (STD-44).
func IsCCTV(t requestsv1.RequestType) bool { return typeRules[t].cctv }
