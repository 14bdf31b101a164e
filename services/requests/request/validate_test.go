package request

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
)

// Unit tests of the statutory checks that need neither PostgreSQL nor the registry; the server's
// tests in services/pipa cover the rules that ask the registry (PIPA-58-2, the site's locations).

var testNow = time.Date(2026, 11, 2, 1, 0, 0, 0, time.UTC) // 10:00 in Seoul

// rules are the rule ids of vs by field.
func rules(vs apierr.Violations) map[string]string {
	out := map[string]string{}
	for _, v := range vs {
		out[v.Field] = v.Rule
	}
	return out
}

func person() *requestsv1.Person {
	return &requestsv1.Person{Name: "김민원", Phone: "010-1234-5678", BirthDate: "1980-05-01"}
}

func footage(appears bool) *requestsv1.Footage {
	return &requestsv1.Footage{Site: "tenants/t/units/u/sites/s", CameraLocation: "주차장 출입구",
		StartTime: timestamppb.New(testNow.Add(-26 * time.Hour)), EndTime: timestamppb.New(testNow.Add(-25 * time.Hour)),
		RequesterAppears: appears}
}

func TestValidateIntakeRules(t *testing.T) {
	child := &requestsv1.Person{Name: "김아동", BirthDate: "2016-03-01"}
	access := []requestsv1.AccessItem{requestsv1.AccessItem_ACCESS_ITEM_CONTENT}
	cases := []struct {
		name, field, rule string
		req               *requestsv1.Request
	}{
		{"PIPA-38-2: a child under 14 does not file alone", "request.requester.birth_date", "PIPA-38-2",
			&requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_ACCESS, AccessItems: access,
				Requester: &requestsv1.Person{Name: "김아동", BirthDate: "2016-03-01", Phone: "010-0000-0000"}}},
		{"PIPA-38-2: a child's request is the legal representative's, not a proxy's", "request.agency.kind", "PIPA-38-2",
			&requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_ACCESS, AccessItems: access, Requester: person(), Subject: child,
				Agency: &requestsv1.Agency{Kind: requestsv1.AgentKind_AGENT_KIND_PROXY, Relationship: "이웃", GrantedDate: "2026-01-01",
					Scope: []requestsv1.RequestType{requestsv1.RequestType_REQUEST_TYPE_ACCESS}}}},
		{"STD-44-1: only footage the requester appears in", "request.footage.requester_appears", "STD-44-1",
			&requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_CCTV_ACCESS, Requester: person(), Purpose: "분실물 확인",
				Footage: footage(false)}},
		{"STD-44-1: footage belongs to CCTV requests", "request.footage", "STD-44-1",
			&requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_ACCESS, AccessItems: access, Requester: person(),
				Footage: footage(true)}},
		{"an e-mail address pipa could not send to", "request.requester.email", "format",
			&requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_ACCESS, AccessItems: access,
				Requester: &requestsv1.Person{Name: "김민원", Email: "minwon@@example.kr"}}},
		{"PIPA-18-2: a subject's request carries no provision", "request.provision", "PIPA-18-2",
			&requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_ACCESS, AccessItems: access, Requester: person(),
				Provision: &requestsv1.Provision{RequestingBody: "정읍경찰서"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.rule, rules(validateIntake(c.req, testNow))[c.field])
		})
	}
	ok := &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_CCTV_ACCESS, Requester: person(), Purpose: "차량 파손 확인",
		Footage: footage(true)}
	require.Empty(t, validateIntake(ok, testNow), "the same CCTV request with the requester in the footage")
}

// C-9: a copy given to another body needs the date by which it is destroyed, not a past one.
func TestValidateProvisionC9(t *testing.T) {
	provision := func(due string, form requestsv1.ProvisionForm) *requestsv1.Request {
		return &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_THIRD_PARTY_PROVISION,
			Requester: &requestsv1.Person{Name: "홍길동", Phone: "063-570-0000"}, Purpose: "사건 수사",
			Provision: &requestsv1.Provision{RequestingBody: "정읍경찰서",
				Ground:     requestsv1.ProvisionGround_PROVISION_GROUND_CRIMINAL_INVESTIGATION,
				LegalBasis: "형사소송법 제199조제2항", Items: []string{"영상"}, Form: form,
				PeriodStartDate: "2026-11-02", PeriodEndDate: "2026-12-02", DestructionDueDate: due}}
	}
	const field = "request.provision.destruction_due_date"
	require.Equal(t, "C-9", rules(validateIntake(provision("", requestsv1.ProvisionForm_PROVISION_FORM_USB_COPY), testNow))[field])
	require.Equal(t, "C-9", rules(validateIntake(provision("2026-11-01", requestsv1.ProvisionForm_PROVISION_FORM_USB_COPY), testNow))[field])
	require.Empty(t, validateIntake(provision("2026-12-02", requestsv1.ProvisionForm_PROVISION_FORM_USB_COPY), testNow))
	require.Empty(t, validateIntake(provision("", requestsv1.ProvisionForm_PROVISION_FORM_ON_SITE_VIEWING), testNow),
		"nothing leaves with an on-site viewing")
}

// DEC-46 and STD-44-3: how the requester was verified.
func TestValidateVerification(t *testing.T) {
	m := func(m requestsv1.VerificationMethod) *requestsv1.Verification {
		return &requestsv1.Verification{Method: m}
	}
	access := &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_ACCESS}
	cctv := &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_CCTV_EXISTENCE}
	const field = "verification.method"
	require.Equal(t, "DEC-46", rules(validateVerification(access, m(0)))[field])
	require.Equal(t, "DEC-46", rules(validateVerification(access, m(requestsv1.VerificationMethod_VERIFICATION_METHOD_OFFICIAL_DOCUMENT)))[field])
	require.Empty(t, validateVerification(access, m(requestsv1.VerificationMethod_VERIFICATION_METHOD_ADMIN_DATA_SHARING)))
	require.Equal(t, "STD-44-3", rules(validateVerification(cctv, m(requestsv1.VerificationMethod_VERIFICATION_METHOD_ONLINE_AUTH)))[field])
	require.Empty(t, validateVerification(cctv, m(requestsv1.VerificationMethod_VERIFICATION_METHOD_DRIVER_LICENSE)))
	agent := &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_ACCESS,
		Agency: &requestsv1.Agency{Kind: requestsv1.AgentKind_AGENT_KIND_LEGAL_REPRESENTATIVE}}
	require.Contains(t, rules(validateVerification(agent, m(requestsv1.VerificationMethod_VERIFICATION_METHOD_RESIDENT_CARD))),
		"verification.agency_evidence", "DEC-46: an agent's authority is evidenced")
}

// PIPA-35-4, STD-44-4, DEC-44-3-5: a restriction cites a ground of its own type's list; STD-46:
// footage is released masked or with a reason.
func TestValidateReasonAndMasking(t *testing.T) {
	reason := func(g requestsv1.Ground) *requestsv1.Reason {
		return &requestsv1.Reason{Text: "사유", Grounds: []requestsv1.Ground{g}}
	}
	for typ, want := range map[rtype]string{
		requestsv1.RequestType_REQUEST_TYPE_ACCESS:             "PIPA-35-4",
		requestsv1.RequestType_REQUEST_TYPE_CCTV_ACCESS:        "STD-44-4",
		requestsv1.RequestType_REQUEST_TYPE_AUTOMATED_DECISION: "DEC-44-3-5",
	} {
		var vs apierr.Violations
		validateReason(&vs, typ, reason(requestsv1.Ground_GROUND_SUSPENSION_CONTRACT))
		require.Equal(t, want, rules(vs)["reason.grounds"], typ.String())
	}
	var vs apierr.Violations
	validateReason(&vs, requestsv1.RequestType_REQUEST_TYPE_CCTV_ACCESS, reason(requestsv1.Ground_GROUND_CCTV_NOT_REQUESTER))
	require.Empty(t, vs, "STD-44-1: not in the footage ends a CCTV request")

	grant := func(m *requestsv1.Masking) *requestsv1.Grant {
		return &requestsv1.Grant{Form: requestsv1.AccessForm_ACCESS_FORM_VIEWING, Method: requestsv1.DeliveryMethod_DELIVERY_METHOD_MAIL,
			Masking: m}
	}
	vs = nil
	validateGrant(&vs, requestsv1.RequestType_REQUEST_TYPE_CCTV_ACCESS, grant(nil))
	require.Equal(t, "STD-46", rules(vs)["grant.masking"])
	vs = nil
	validateGrant(&vs, requestsv1.RequestType_REQUEST_TYPE_CCTV_ACCESS, grant(&requestsv1.Masking{Done: true}))
	require.Empty(t, vs)
}
