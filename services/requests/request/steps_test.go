package request

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/services/requests/clock"
)

// The state machine on its own: what each step allows, refuses, notifies and records, at a fixed
// clock (testNow, 2026-11-02 10:00 in Seoul).

func env(t *testing.T, public bool) Env {
	t.Helper()
	cal, err := clock.New(clock.Settings{})
	require.NoError(t, err)
	return Env{Now: testNow, Officer: "주무관 송승학", Tenant: Tenant{Calendar: cal, Public: public, DisplayName: "정읍시"},
		Issuer: "정읍시립도서관"}
}

func received(typ requestsv1.RequestType) *Request {
	return &Request{Tenant: "jeongeup", Unit: "library", Doc: &requestsv1.Request{
		Name: "tenants/jeongeup/units/library/requests/R-2026-000001", ReceiptNumber: "R-2026-000001", Type: typ,
		State: requestsv1.RequestState_REQUEST_STATE_RECEIVED, AccessItems: []requestsv1.AccessItem{requestsv1.AccessItem_ACCESS_ITEM_CONTENT},
		ReceiveTime: timestamppb.New(testNow.Add(-24 * time.Hour)), DueTime: timestamppb.New(testNow.Add(9 * 24 * time.Hour)),
		CreateTime: timestamppb.New(testNow.Add(-24 * time.Hour))},
		Personal: Personal{Requester: person()}}
}

func reasonOf(t *testing.T, err error) string {
	t.Helper()
	var e *apierr.Error
	require.ErrorAs(t, err, &e)
	return e.Reason
}

func verified(t *testing.T, typ requestsv1.RequestType) *Request {
	r := received(typ)
	out, err := Apply(r, Verify{Verification: &requestsv1.Verification{Method: requestsv1.VerificationMethod_VERIFICATION_METHOD_RESIDENT_CARD}}, env(t, true))
	require.NoError(t, err)
	// As the store keeps it: the step's entry is the request's first record.
	r.Doc.Ledger = append(r.Doc.Ledger, &requestsv1.LedgerRecord{Step: out.Entry.Step})
	return r
}

var visit = &requestsv1.Grant{Form: requestsv1.AccessForm_ACCESS_FORM_VIEWING, Method: requestsv1.DeliveryMethod_DELIVERY_METHOD_VISIT,
	AccessTime: timestamppb.New(testNow.Add(48 * time.Hour)), AccessPlace: "2층 민원실"}

// DEC-46, STD-44-3: nothing is decided before the requester is verified; the verification opens
// the request log in the ledger, a VIEWING entry (STD-44-5) naming the official.
func TestApply_DEC_46_IdentityBeforeDecision(t *testing.T) {
	r := received(requestsv1.RequestType_REQUEST_TYPE_ACCESS)
	_, err := Apply(r, Approve{Grant: visit}, env(t, true))
	require.Equal(t, "IDENTITY_NOT_VERIFIED", reasonOf(t, err))
	require.Contains(t, err.Error(), "DEC-46")
	require.Equal(t, requestsv1.RequestState_REQUEST_STATE_RECEIVED, r.Doc.GetState(), "nothing changed")

	out, err := Apply(r, Verify{Verification: &requestsv1.Verification{Method: requestsv1.VerificationMethod_VERIFICATION_METHOD_PASSPORT}}, env(t, true))
	require.NoError(t, err)
	require.Equal(t, requestsv1.RequestState_REQUEST_STATE_VERIFIED, r.Doc.GetState())
	require.Nil(t, out.Notice)
	e := out.Entry.Append.GetEntry()
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_VIEWING, e.GetKind())
	require.Equal(t, "주무관 송승학", e.GetHandler())
	require.Equal(t, "김민원", e.GetRequesterName())
	require.False(t, out.Entry.Follows)
}

// PIPA-35-4, STD-44-4: a refusal cites a coded ground of the request type's list, and its notice
// says how to object (PIPA-38-5); the ledger records the ground as the law words it, as an
// amendment of the request's first entry.
func TestApply_PIPA_35_4_RefusalGrounds(t *testing.T) {
	r := verified(t, requestsv1.RequestType_REQUEST_TYPE_ACCESS)
	_, err := Apply(r, Refuse{Reason: &requestsv1.Reason{Text: "사유"}}, env(t, true))
	require.Equal(t, "GROUND_REQUIRED", reasonOf(t, err))
	_, err = Apply(r, Refuse{Reason: &requestsv1.Reason{Text: "사유", Grounds: []requestsv1.Ground{requestsv1.Ground_GROUND_CCTV_DESTROYED}}}, env(t, true))
	require.Equal(t, "GROUND_REQUIRED", reasonOf(t, err), "a CCTV ground is not an access request's")

	out, err := Apply(r, Refuse{Reason: &requestsv1.Reason{Text: "감사 진행 중",
		Grounds: []requestsv1.Ground{requestsv1.Ground_GROUND_ACCESS_ONGOING_AUDIT}}}, env(t, true))
	require.NoError(t, err)
	require.Equal(t, requestsv1.RequestState_REQUEST_STATE_REFUSED, r.Doc.GetState())
	require.Equal(t, requestsv1.NoticeKind_NOTICE_KIND_REFUSAL, out.Notice.GetKind())
	require.Equal(t, "별지 제9호", out.Notice.GetForm())
	require.NotEmpty(t, out.Notice.GetReason().GetObjectionMethod(), "PIPA-38-5: how to object")
	require.Contains(t, out.Notice.GetHtml(), "정읍시립도서관")
	require.True(t, out.Entry.Follows)
	require.Equal(t, ledgerv1.AmendmentKind_AMENDMENT_KIND_PROGRESS, out.Entry.Append.GetEntry().GetAmendmentKind())
	require.Contains(t, out.Entry.Append.GetEntry().GetRefusalReason(), "제3호마목")
	require.NotContains(t, out.Entry.Append.GetEntry().GetRefusalReason(), "감사 진행 중", "the officer's words stay in the sealed request")
}

// PIPA-35-3, DEC-42-2: only access requests are deferred, which stops the clock; STD-31-1: it runs
// again from the day the reason ended, never before the deferral.
func TestApply_PIPA_35_3_DeferAndResume(t *testing.T) {
	c := verified(t, requestsv1.RequestType_REQUEST_TYPE_CORRECTION)
	audit := &requestsv1.Reason{Text: "감사", Grounds: []requestsv1.Ground{requestsv1.Ground_GROUND_ACCESS_ONGOING_AUDIT}}
	_, err := Apply(c, Defer{Reason: audit}, env(t, true))
	require.Equal(t, "NOT_DEFERRABLE", reasonOf(t, err))

	r := verified(t, requestsv1.RequestType_REQUEST_TYPE_ACCESS)
	_, err = Apply(r, Defer{Reason: audit}, env(t, true))
	require.NoError(t, err)
	require.Empty(t, r.Doc.GetDueDate(), "the clock stops")
	e := env(t, true)
	e.Now = testNow.Add(72 * time.Hour)
	_, err = Apply(r, Resume{ReasonEndDate: "2026-11-01"}, e)
	var ae *apierr.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "STD-31-1", ae.Violations[0].Rule)
	_, err = Apply(r, Resume{ReasonEndDate: "2026-11-04"}, e)
	require.NoError(t, err)
	require.Equal(t, requestsv1.RequestState_REQUEST_STATE_VERIFIED, r.Doc.GetState())
	require.Greater(t, r.Doc.GetDueDate(), "2026-11-04")
}

// DEC-44-3-5: an automated-decision request is extended, naming the etag it read, twice at most.
func TestApply_DEC_44_3_5_Extensions(t *testing.T) {
	r := verified(t, requestsv1.RequestType_REQUEST_TYPE_AUTOMATED_DECISION)
	why := &requestsv1.Reason{Text: "검토 중"}
	_, err := Apply(r, Defer{Reason: why}, env(t, true))
	require.ErrorAs(t, err, new(*apierr.Error))
	require.Contains(t, err.Error(), "etag")
	for range 2 {
		_, err = Apply(r, Defer{Reason: why, Etag: "e"}, env(t, true))
		require.NoError(t, err)
	}
	require.EqualValues(t, 2, r.Doc.GetExtensions())
	_, err = Apply(r, Defer{Reason: why, Etag: "e"}, env(t, true))
	require.Equal(t, "EXTENSION_LIMIT", reasonOf(t, err))
}

// PIPA-35-3, DEC-43-3: a request closes only once a decision's notice was issued; an approved one
// once it is fulfilled. Closing hands the record to retention (PIPA-21-1).
func TestApply_DEC_43_3_CloseNeedsNotice(t *testing.T) {
	r := verified(t, requestsv1.RequestType_REQUEST_TYPE_ACCESS)
	_, err := Apply(r, Close{}, env(t, true))
	require.Equal(t, "NOTICE_REQUIRED", reasonOf(t, err), "undecided")
	_, err = Apply(r, Approve{Grant: visit}, env(t, true))
	require.NoError(t, err)
	_, err = Apply(r, Close{}, env(t, true))
	require.Equal(t, "NOT_FULFILLED", reasonOf(t, err))
	_, err = Apply(r, Fulfill{Note: "열람 제공"}, env(t, true))
	require.NoError(t, err)
	_, err = Apply(r, Close{}, env(t, true))
	require.Equal(t, "NOTICE_REQUIRED", reasonOf(t, err), "the store lists the issued notices; none here")
	r.Doc.Notices = []string{r.Doc.GetName() + "/notices/1"}
	out, err := Apply(r, Close{}, env(t, true))
	require.NoError(t, err)
	require.True(t, out.Closed)
	require.NotNil(t, r.Doc.GetCloseTime())
}

// STD-42-2: fulfilling a deletion is its own DESTRUCTION entry, with the method.
func TestApply_STD_42_2_DeletionIsADestruction(t *testing.T) {
	r := verified(t, requestsv1.RequestType_REQUEST_TYPE_DELETION)
	r.Doc.Details = "주소 삭제"
	_, err := Apply(r, Approve{Grant: &requestsv1.Grant{Content: "주소 삭제"}}, env(t, true))
	require.NoError(t, err)
	out, err := Apply(r, Fulfill{Note: "삭제함"}, env(t, true))
	require.NoError(t, err)
	e := out.Entry.Append.GetEntry()
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION, e.GetKind())
	require.Contains(t, e.GetDestructionMethod(), "PIPA-36-3")
	require.False(t, out.Entry.Follows)
}

// STD-42-1, DEC-15: another body's approved request is its PROVISION entry, a copy's (C-9) marked
// for the retention service; PIPA-18-4: a public body publishes it within 30 days, except on
// ground 7; STD-46: footage leaves masked or with a reason.
func TestApply_STD_42_1_Provision(t *testing.T) {
	provision := func() *Request {
		r := received(requestsv1.RequestType_REQUEST_TYPE_THIRD_PARTY_PROVISION)
		r.Doc.ReceiptNumber, r.Doc.AccessItems, r.Doc.Purpose = "P-2026-000001", nil, "사건 수사"
		r.Doc.Provision = &requestsv1.Provision{RequestingBody: "정읍경찰서", OfficerTitle: "경위", Ground: requestsv1.ProvisionGround_PROVISION_GROUND_OTHER_LAW,
			LegalBasis: "형사소송법 제199조", Items: []string{"영상"}, Form: requestsv1.ProvisionForm_PROVISION_FORM_USB_COPY,
			PeriodStartDate: "2026-11-02", PeriodEndDate: "2026-11-30", DestructionDueDate: "2026-11-30",
			Footage: footage(false)}
		r.Personal.Requester = &requestsv1.Person{Name: "홍길동", Phone: "063-000-0000"}
		_, err := Apply(r, Verify{Verification: &requestsv1.Verification{Method: requestsv1.VerificationMethod_VERIFICATION_METHOD_OFFICIAL_DOCUMENT}}, env(t, true))
		require.NoError(t, err)
		return r
	}
	r := provision()
	require.Empty(t, r.Doc.GetLedger(), "recorded once approved")
	grant := &requestsv1.Grant{SafetyRequests: "목적 외 이용 금지"}
	_, err := Apply(r, Approve{Grant: grant}, env(t, true))
	var ae *apierr.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "STD-46", ae.Violations[0].Rule)
	require.Equal(t, requestsv1.RequestState_REQUEST_STATE_VERIFIED, r.Doc.GetState(), "a step refused changes nothing")
	grant.Masking = &requestsv1.Masking{Done: true}
	out, err := Apply(r, Approve{Grant: grant}, env(t, true))
	require.NoError(t, err)
	e := out.Entry.Append.GetEntry()
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_PROVISION, e.GetKind())
	require.Equal(t, "경위 홍길동", e.GetCounterpartyOfficer())
	require.Equal(t, "USB 사본 제공", e.GetForm())
	require.True(t, strings.HasPrefix(e.GetLegalBasis(), "개인정보 보호법 제18조제2항제2호"))
	require.True(t, out.Entry.Copy, "a USB copy leaves: C-9")
	require.NotEmpty(t, r.Doc.GetPublicationDueDate(), "PIPA-18-4: ground 2 of a public body is published")

	private := provision()
	_, err = Apply(private, Approve{Grant: grant}, env(t, false))
	require.NoError(t, err)
	require.Empty(t, private.Doc.GetPublicationDueDate(), "PIPA-18-4 binds public bodies")
}
