// Package requeststest holds requests as the seeds' citizens and staff make them, for the tests of
// the request service and of the services that follow its requests.
package requeststest

import (
	"context"
	"testing"
	"time"

	kst "github.com/pipa-kr/pipa/pkg/seoul"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
)

// Citizen is a data subject of Jeongeup.
func Citizen() *requestsv1.Person {
	return &requestsv1.Person{Name: "김민원", Phone: "010-1234-5678", BirthDate: "1980-05-01", Address: "전북 정읍시 중앙1길 1"}
}

// AccessRequest is the citizen's request to see their data and whom it was given to (DEC-41-1).
func AccessRequest() *requestsv1.Request {
	return &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_ACCESS, Requester: Citizen(),
		AccessItems: []requestsv1.AccessItem{requestsv1.AccessItem_ACCESS_ITEM_CONTENT, requestsv1.AccessItem_ACCESS_ITEM_PROVISION_HISTORY}}
}

// WithChannel marks r as taken in person, as staff intake requires.
func WithChannel(r *requestsv1.Request) *requestsv1.Request {
	r.Channel = requestsv1.Channel_CHANNEL_VISIT
	return r
}

// VisitGrant is access at the library's desk two days from now.
func VisitGrant() *requestsv1.Grant {
	return &requestsv1.Grant{AccessTime: timestamppb.New(time.Now().Add(48 * time.Hour)), AccessPlace: "정읍시립도서관 2층 민원실",
		Form: requestsv1.AccessForm_ACCESS_FORM_VIEWING, Method: requestsv1.DeliveryMethod_DELIVERY_METHOD_VISIT}
}

// Closed takes an access request of unit through to its close (PIPA-35-3), as staff, a handler
// of the unit.
func Closed(t testing.TB, cl requestsv1.RequestServiceClient, staff context.Context, unit string) *requestsv1.Request {
	t.Helper()
	r, err := cl.CreateRequest(staff, &requestsv1.CreateRequestRequest{Parent: unit, Request: WithChannel(AccessRequest())})
	require.NoError(t, err)
	name := r.GetRequest().GetName()
	_, err = cl.VerifyIdentity(staff, &requestsv1.VerifyIdentityRequest{Name: name,
		Verification: &requestsv1.Verification{Method: requestsv1.VerificationMethod_VERIFICATION_METHOD_ADMIN_DATA_SHARING}})
	require.NoError(t, err)
	_, err = cl.ApproveRequest(staff, &requestsv1.ApproveRequestRequest{Name: name, Grant: VisitGrant()})
	require.NoError(t, err)
	_, err = cl.FulfillRequest(staff, &requestsv1.FulfillRequestRequest{Name: name, Note: "원본 열람 제공"})
	require.NoError(t, err)
	got, err := cl.CloseRequest(staff, &requestsv1.CloseRequestRequest{Name: name})
	require.NoError(t, err)
	require.Equal(t, requestsv1.RequestState_REQUEST_STATE_CLOSED, got.GetState())
	return got
}

// PoliceProvision is the Jeongeup police asking for two-day-old footage of site, on ground
// (seed 001 별표3 row 2), to be destroyed within a month (C-9).
func PoliceProvision(site string, ground requestsv1.ProvisionGround) *requestsv1.Request {
	today := time.Now().In(kst.Location)
	return &requestsv1.Request{Channel: requestsv1.Channel_CHANNEL_VISIT,
		Requester: &requestsv1.Person{Name: "홍길동", Phone: "063-570-0000"}, Purpose: "차량 파손 사건 수사",
		Provision: &requestsv1.Provision{RequestingBody: "정읍경찰서", OfficerTitle: "경위", Ground: ground,
			LegalBasis: "형사소송법 제199조제2항, 수사협조의뢰(형사과-1234)", Items: []string{"영상(얼굴, 차량번호)"},
			Footage: &requestsv1.Footage{Site: site, SiteLocation: "도서관 주차장", CameraLocation: "주차장 CH03",
				StartTime: timestamppb.New(today.Add(-50 * time.Hour)), EndTime: timestamppb.New(today.Add(-49 * time.Hour))},
			Form: requestsv1.ProvisionForm_PROVISION_FORM_USB_COPY, PeriodStartDate: today.Format(time.DateOnly),
			PeriodEndDate: today.AddDate(0, 1, 0).Format(time.DateOnly), DestructionDueDate: today.AddDate(0, 1, 0).Format(time.DateOnly)}}
}

// Approve approves provision r as staff, with the safety requests made of the recipient (PIPA
// 18(5)) and no masking needed, after verifying the requesting body's official document.
func Approve(t testing.TB, cl requestsv1.RequestServiceClient, staff context.Context, r *requestsv1.Request) *requestsv1.Request {
	t.Helper()
	_, err := cl.VerifyIdentity(staff, &requestsv1.VerifyIdentityRequest{Name: r.GetName(),
		Verification: &requestsv1.Verification{Method: requestsv1.VerificationMethod_VERIFICATION_METHOD_OFFICIAL_DOCUMENT}})
	require.NoError(t, err)
	got, err := cl.ApproveRequest(staff, &requestsv1.ApproveRequestRequest{Name: r.GetName(),
		Grant: &requestsv1.Grant{SafetyRequests: "수사 목적 외 이용 금지, 사건 종결 시 파기 후 회신",
			Masking: &requestsv1.Masking{NotNeededReason: "피의 차량 외 촬영된 사람 없음"}}})
	require.NoError(t, err)
	return got
}
