package requests_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/outbound/outboundtest"
	"github.com/pipa-kr/pipa/pkg/outbound/sms"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/requests"
	"github.com/pipa-kr/pipa/services/requests/request"
	"github.com/pipa-kr/pipa/services/requests/requeststest"
)

// benchSecret signs the webhooks of the tests and benchmarks that bring their own secret.
var benchSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("pipa benchmark webhook secret 32"))

// A citizen who gave an email address gets the decision's notice (별지 제9호) by mail, with its
// Message-ID and its Korean content, and a department system subscribed to the tenant's events
// is told, by signed CloudEvents, that the request was received, verified and decided — through
// a receiver that was down and came back: every event arrives, each once by its webhook-id, with
// no personal data. The staff see each delivery's state.
func TestNoticeMailedAndEventsDelivered(t *testing.T) {
	t.Parallel()
	smtpd := outboundtest.StartMail(t)
	s := startStack(t, outboundtest.WithMail(smtpd.Addr, 15), outboundtest.WithLoopbackReceivers)
	s.Load("jeongeup-library.yaml")
	subs := requestsv1.NewOutboundServiceClient(s.Conn)
	admin := s.As(auth.RoleTenantAdmin, "tenants/jeongeup")

	// Subscribe over REST: pipa makes the secret, the receiver verifies with it.
	req, err := http.NewRequest(http.MethodPost, s.URL+"/v1/tenants/jeongeup/subscriptions?subscriptionId=dept-system",
		strings.NewReader(`{"url":"http://127.0.0.1:1/placeholder","types":["kr.pipa.request.received","kr.pipa.request.verified","kr.pipa.request.decided"]}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.Token(auth.RoleTenantAdmin, "tenants/jeongeup"))
	resp, err := s.HTTP.Do(req)
	require.NoError(t, err)
	body := stacktest.Body(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var created struct{ Name, Secret string }
	require.NoError(t, json.Unmarshal([]byte(body), &created))
	require.Equal(t, "tenants/jeongeup/subscriptions/dept-system", created.Name)
	require.True(t, strings.HasPrefix(created.Secret, "whsec_"), created.Secret)
	_, err = subs.DeleteSubscription(admin, &requestsv1.DeleteSubscriptionRequest{Name: created.Name})
	require.NoError(t, err)

	recv := outboundtest.StartReceiver(t, created.Secret)
	recv.SetDown(true)
	sub, err := subs.CreateSubscription(admin, &requestsv1.CreateSubscriptionRequest{Parent: "tenants/jeongeup", SubscriptionId: "dept-system",
		Subscription: &requestsv1.Subscription{Url: recv.URL, Secret: created.Secret, Unit: libraryUnit,
			Types: []string{"kr.pipa.request.received", "kr.pipa.request.verified", "kr.pipa.request.decided"}}})
	require.NoError(t, err)

	cl := s.requests()
	staff := s.As(auth.RoleHandler, libraryUnit)
	r := requeststest.WithChannel(requeststest.AccessRequest())
	r.Requester.Email = "minwon@example.kr"
	created2, err := cl.CreateRequest(staff, &requestsv1.CreateRequestRequest{Parent: libraryUnit, Request: r})
	require.NoError(t, err)
	name := created2.GetRequest().GetName()
	_, err = cl.VerifyIdentity(staff, &requestsv1.VerifyIdentityRequest{Name: name,
		Verification: &requestsv1.Verification{Method: requestsv1.VerificationMethod_VERIFICATION_METHOD_ADMIN_DATA_SHARING}})
	require.NoError(t, err, "a receiver that is down never fails a step")
	got, err := cl.ApproveRequest(staff, &requestsv1.ApproveRequestRequest{Name: name, Grant: requeststest.VisitGrant()})
	require.NoError(t, err)
	require.Len(t, got.GetNotices(), 1)

	// The notice reaches the requester's mailbox: the 별지 제9호 fields, in Korean.
	require.Eventually(t, func() bool { return len(smtpd.Mail()) == 1 }, 30*time.Second, 100*time.Millisecond)
	m := smtpd.Mail()[0]
	require.Equal(t, []string{"minwon@example.kr"}, m.To)
	require.Equal(t, "privacy@jeongeup.go.kr", m.From)
	receipt := got.GetReceiptNumber()
	require.Contains(t, m.Subject, receipt)
	require.Contains(t, m.Subject, "개인정보 열람")
	require.Regexp(t, `^<requests-\d+@jeongeup\.go\.kr>$`, m.Header.Get("Message-Id"))
	for _, want := range []string{"개인정보 열람 결정 통지", "접수번호", receipt, "김민원 귀하", "정읍시립도서관 2층 민원실", "수수료"} {
		require.Contains(t, m.HTML, want)
		require.Contains(t, m.Text, want)
	}

	// Down: every event is refused and retried; up: each arrives, signed, once per webhook-id.
	require.Eventually(t, func() bool { return recv.Refused.Load() >= 3 }, 30*time.Second, 100*time.Millisecond)
	require.Empty(t, recv.Received())
	recv.SetDown(false)
	require.Eventually(t, func() bool { return recv.Unique() == 3 }, 60*time.Second, 200*time.Millisecond)
	require.Zero(t, recv.Rejected.Load())
	types := map[string]map[string]any{}
	for _, g := range recv.Received() {
		require.Equal(t, "1.0", g.Event["specversion"])
		require.Equal(t, g.ID, g.Event["id"], "the webhook-id is the event's id")
		require.Equal(t, libraryUnit, g.Event["source"])
		require.Equal(t, name, g.Event["subject"])
		types[g.Event["type"].(string)] = g.Event["data"].(map[string]any)
		raw, _ := json.Marshal(g.Event)
		require.NotContains(t, string(raw), "김민원", "events carry names and codes, never personal data")
		require.NotContains(t, string(raw), "minwon@")
	}
	require.Equal(t, "REQUEST_STATE_RECEIVED", types["kr.pipa.request.received"]["state"])
	require.Equal(t, "REQUEST_STATE_VERIFIED", types["kr.pipa.request.verified"]["state"])
	require.Equal(t, "NOTICE_KIND_APPROVAL", types["kr.pipa.request.decided"]["decision"])
	require.Equal(t, receipt, types["kr.pipa.request.decided"]["receiptNumber"])

	// The staff view: what the request sent, and the subscription's log (the receivers hold each
	// message before its job records the delivery).
	var ds *requestsv1.ListRequestDeliveriesResponse
	require.Eventually(t, func() bool {
		ds, err = subs.ListRequestDeliveries(staff, &requestsv1.ListRequestDeliveriesRequest{Parent: name})
		require.NoError(t, err)
		for _, d := range ds.GetDeliveries() {
			if d.GetState() != requestsv1.DeliveryState_DELIVERY_STATE_DELIVERED {
				return false
			}
		}
		return len(ds.GetDeliveries()) == 4
	}, 30*time.Second, 100*time.Millisecond)
	var mailed, events int
	for _, d := range ds.GetDeliveries() {
		require.Equal(t, requestsv1.DeliveryState_DELIVERY_STATE_DELIVERED, d.GetState(), d.String())
		switch d.GetChannel() {
		case "mail":
			mailed++
			require.Equal(t, "requester", d.GetTarget())
			require.Equal(t, got.GetNotices()[0], d.GetLabel())
			require.Contains(t, d.GetAnswer(), "OK")
		case "webhook":
			events++
			require.Equal(t, sub.GetName(), d.GetTarget())
			require.Greater(t, d.GetAttempts(), int32(1), "refused while the receiver was down")
			require.Equal(t, "HTTP 204 No Content", d.GetAnswer())
		}
	}
	require.Equal(t, 1, mailed)
	require.Equal(t, 3, events)
	log, err := subs.ListDeliveries(admin, &requestsv1.ListDeliveriesRequest{Parent: sub.GetName()})
	require.NoError(t, err)
	require.Len(t, log.GetDeliveries(), 3)

	// The requester, with the status secret, sees that the notice was issued and mailed, and
	// nothing personal.
	st, err := cl.GetRequestStatus(context.Background(), &requestsv1.GetRequestStatusRequest{Receipt: receipt, Secret: created2.GetStatusSecret()})
	require.NoError(t, err)
	require.Len(t, st.GetIssuedNotices(), 1)
	require.Equal(t, requestsv1.DeliveryState_DELIVERY_STATE_DELIVERED, st.GetIssuedNotices()[0].GetMailState())
	raw, err := protojson.Marshal(st)
	require.NoError(t, err)
	require.NotContains(t, string(raw), "김민원")
	hc, _, page := s.postForm("/p/requests/status", url.Values{"receipt": {receipt}, "secret": {created2.GetStatusSecret()}})
	require.Equal(t, http.StatusOK, hc, page)
	require.Contains(t, page, "승인 통지 (열람·결과 통지) — ")
	require.Contains(t, page, "전자우편 발송 완료")
	require.NotContains(t, page, "김민원")
	hc, _, page = s.postForm("/p/requests/status", url.Values{"receipt": {receipt}, "secret": {"WRONGSECRET"}})
	require.Equal(t, http.StatusNotFound, hc)
	require.NotContains(t, page, "발송 완료")

	// A replay of the range sends every event again under its own webhook-id.
	n, err := subs.ReplaySubscription(admin, &requestsv1.ReplaySubscriptionRequest{Name: sub.GetName(),
		StartTime: timestamppb.New(time.Now().Add(-time.Hour)), EndTime: timestamppb.New(time.Now().Add(time.Minute))})
	require.NoError(t, err)
	require.Equal(t, int32(3), n.GetCount())
	require.Eventually(t, func() bool { return len(recv.Received()) == 6 }, 30*time.Second, 100*time.Millisecond)
	require.Equal(t, 3, recv.Unique())

	// At the end of its retention the mail that carried the notice is erased with the request's
	// personal data; its delivery record stays (PIPA-21-1).
	_, err = cl.FulfillRequest(staff, &requestsv1.FulfillRequestRequest{Name: name, Note: "열람 제공"})
	require.NoError(t, err)
	_, err = cl.CloseRequest(staff, &requestsv1.CloseRequestRequest{Name: name})
	require.NoError(t, err)
	var sealed int
	require.NoError(t, s.DB().QueryRow(context.Background(), `SELECT count(*) FROM requests.outbound
		WHERE subject = $1 AND sealed AND length(payload) > 0`, name).Scan(&sealed))
	require.Equal(t, 1, sealed)
	_, err = cl.ErasePersonalData(s.As(auth.RoleService, auth.ScopeAll), &requestsv1.ErasePersonalDataRequest{Name: name, Reason: "보유기간 경과"})
	require.NoError(t, err)
	require.NoError(t, s.DB().QueryRow(context.Background(), `SELECT count(*) FROM requests.outbound
		WHERE subject = $1 AND sealed AND length(payload) > 0`, name).Scan(&sealed))
	require.Zero(t, sealed)
	ds, err = subs.ListRequestDeliveries(staff, &requestsv1.ListRequestDeliveriesRequest{Parent: name})
	require.NoError(t, err)
	require.Equal(t, requestsv1.DeliveryState_DELIVERY_STATE_DELIVERED, ds.GetDeliveries()[0].GetState())

	// Another tenant's officials see none of it.
	other := s.As(auth.RoleTenantAdmin, "tenants/iksan")
	_, err = subs.GetSubscription(other, &requestsv1.GetSubscriptionRequest{Name: sub.GetName()})
	code, _ := stacktest.Reason(err)
	require.Equal(t, codes.PermissionDenied, code)
	_, err = subs.ListRequestDeliveries(s.As(auth.RoleHandler, "tenants/iksan"), &requestsv1.ListRequestDeliveriesRequest{Parent: name})
	code, _ = stacktest.Reason(err)
	require.Equal(t, codes.PermissionDenied, code)
}

// A receiver that fails for good is disabled after its retries, with its answer; nothing is sent
// to it until it is enabled, and a replay then brings what it missed.
func TestFailingReceiverDisabledThenReplayed(t *testing.T) {
	t.Parallel()
	s := startStack(t, outboundtest.WithMail("127.0.0.1:1", 3), outboundtest.WithLoopbackReceivers)
	s.Load("jeongeup-library.yaml")
	subs := requestsv1.NewOutboundServiceClient(s.Conn)
	admin := s.As(auth.RoleTenantAdmin, "tenants/jeongeup")
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	recv := outboundtest.StartReceiver(t, secret)
	recv.SetDown(true)
	sub, err := subs.CreateSubscription(admin, &requestsv1.CreateSubscriptionRequest{Parent: "tenants/jeongeup", SubscriptionId: "flaky",
		Subscription: &requestsv1.Subscription{Url: recv.URL, Secret: secret}})
	require.NoError(t, err)
	start := time.Now()
	staff := s.As(auth.RoleHandler, libraryUnit)
	_, err = s.requests().CreateRequest(staff, &requestsv1.CreateRequestRequest{Parent: libraryUnit,
		Request: requeststest.WithChannel(requeststest.AccessRequest())})
	require.NoError(t, err)

	require.Eventually(t, func() bool {
		got, err := subs.GetSubscription(admin, &requestsv1.GetSubscriptionRequest{Name: sub.GetName()})
		return err == nil && got.GetDisableTime() != nil
	}, 60*time.Second, 200*time.Millisecond)
	got, err := subs.GetSubscription(admin, &requestsv1.GetSubscriptionRequest{Name: sub.GetName()})
	require.NoError(t, err)
	require.Equal(t, "HTTP 503 Service Unavailable", got.GetDisableReason())
	require.Equal(t, int64(3), recv.Refused.Load())
	log, err := subs.ListDeliveries(admin, &requestsv1.ListDeliveriesRequest{Parent: sub.GetName()})
	require.NoError(t, err)
	require.Len(t, log.GetDeliveries(), 1)
	require.Equal(t, requestsv1.DeliveryState_DELIVERY_STATE_FAILED, log.GetDeliveries()[0].GetState())
	require.Equal(t, int32(3), log.GetDeliveries()[0].GetAttempts())

	// Disabled: a new event is not sent to it, and a replay is refused until it is enabled.
	_, err = s.requests().CreateRequest(staff, &requestsv1.CreateRequestRequest{Parent: libraryUnit,
		Request: requeststest.WithChannel(requeststest.AccessRequest())})
	require.NoError(t, err)
	replay := &requestsv1.ReplaySubscriptionRequest{Name: sub.GetName(),
		StartTime: timestamppb.New(start.Add(-time.Minute)), EndTime: timestamppb.New(time.Now().Add(time.Minute))}
	_, err = subs.ReplaySubscription(admin, replay)
	code, reason := stacktest.Reason(err)
	require.Equal(t, codes.FailedPrecondition, code)
	require.Equal(t, "SUBSCRIPTION_DISABLED", reason)

	recv.SetDown(false)
	enabled, err := subs.EnableSubscription(admin, &requestsv1.EnableSubscriptionRequest{Name: sub.GetName()})
	require.NoError(t, err)
	require.Nil(t, enabled.GetDisableTime())
	n, err := subs.ReplaySubscription(admin, replay)
	require.NoError(t, err)
	require.Equal(t, int32(2), n.GetCount())
	require.Eventually(t, func() bool { return recv.Unique() == 2 }, 30*time.Second, 100*time.Millisecond)
	require.Equal(t, int64(3), recv.Refused.Load(), "nothing was posted while it was disabled")
}

// A replay reads whether its subscription is enabled in its own transaction, with the row
// locked: a replay that meets a disable in progress waits for it and is then refused, instead
// of queuing the range to a subscription disabled meanwhile.
func TestReplayWaitsForDisable(t *testing.T) {
	t.Parallel()
	s := startStack(t, outboundtest.WithLoopbackReceivers)
	s.Load("jeongeup-library.yaml")
	subs := requestsv1.NewOutboundServiceClient(s.Conn)
	admin := s.As(auth.RoleTenantAdmin, "tenants/jeongeup")
	recv := outboundtest.StartReceiver(t, benchSecret)
	sub, err := subs.CreateSubscription(admin, &requestsv1.CreateSubscriptionRequest{Parent: "tenants/jeongeup", SubscriptionId: "dept",
		Subscription: &requestsv1.Subscription{Url: recv.URL, Secret: benchSecret}})
	require.NoError(t, err)
	start := time.Now()
	_, err = s.requests().CreateRequest(s.As(auth.RoleHandler, libraryUnit), &requestsv1.CreateRequestRequest{Parent: libraryUnit,
		Request: requeststest.WithChannel(requeststest.AccessRequest())})
	require.NoError(t, err)

	ctx := context.Background()
	disabling, err := s.DB().Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = disabling.Rollback(ctx) }()
	_, err = disabling.Exec(ctx, `UPDATE requests.subscriptions SET disable_time = now(), disable_reason = 'HTTP 410 Gone'
		WHERE tenant_id = 'jeongeup' AND id = 'dept'`)
	require.NoError(t, err)
	replayed := make(chan error, 1)
	go func() {
		_, err := subs.ReplaySubscription(admin, &requestsv1.ReplaySubscriptionRequest{Name: sub.GetName(),
			StartTime: timestamppb.New(start.Add(-time.Minute)), EndTime: timestamppb.New(time.Now().Add(time.Minute))})
		replayed <- err
	}()
	require.Eventually(t, func() bool {
		var waiting bool
		require.NoError(t, s.DB().QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_stat_activity WHERE wait_event_type = 'Lock'
			AND datname = current_database() AND query LIKE '%subscriptions%FOR SHARE')`).Scan(&waiting))
		return waiting
	}, 30*time.Second, 10*time.Millisecond, "the replay waits for the disable")
	require.NoError(t, disabling.Commit(ctx))
	code, reason := stacktest.Reason(<-replayed)
	require.Equal(t, codes.FailedPrecondition, code)
	require.Equal(t, "SUBSCRIPTION_DISABLED", reason)
	var queued int
	require.NoError(t, s.DB().QueryRow(ctx, `SELECT count(*) FROM requests.outbound WHERE tenant_id = 'jeongeup' AND target = 'dept'`).Scan(&queued))
	require.Equal(t, 1, queued, "only the event as it happened, nothing replayed")
}

// Bad subscriptions are refused naming the field and the rule, and nothing is stored.
func TestSubscriptionRefusals(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	subs := requestsv1.NewOutboundServiceClient(s.Conn)
	admin := s.As(auth.RoleTenantAdmin, "tenants/jeongeup")
	for _, tc := range []struct {
		sub   *requestsv1.Subscription
		field string
	}{
		{&requestsv1.Subscription{}, "subscription.url"},
		{&requestsv1.Subscription{Url: "ftp://example.kr/x"}, "subscription.url"},
		{&requestsv1.Subscription{Url: "https://user:pw@example.kr/x"}, "subscription.url"},
		{&requestsv1.Subscription{Url: "https://example.kr/x", Types: []string{"kr.pipa.request.eaten"}}, "subscription.types"},
		{&requestsv1.Subscription{Url: "https://example.kr/x", Secret: "not-a-secret"}, "subscription.secret"},
		{&requestsv1.Subscription{Url: "https://example.kr/x", Unit: "tenants/iksan/units/city"}, "subscription.unit"},
		// Without PIPA_WEBHOOK_ALLOW_HTTP and _PRIVATE: https only, and never into pipa's own network.
		{&requestsv1.Subscription{Url: "http://example.kr/x"}, "subscription.url"},
		{&requestsv1.Subscription{Url: "https://127.0.0.1:8443/x"}, "subscription.url"},
		{&requestsv1.Subscription{Url: "https://localhost/x"}, "subscription.url"},
		{&requestsv1.Subscription{Url: "https://10.1.2.3/x"}, "subscription.url"},
		{&requestsv1.Subscription{Url: "https://169.254.169.254/latest/meta-data"}, "subscription.url"},
		{&requestsv1.Subscription{Url: "https://[::1]/x"}, "subscription.url"},
		{&requestsv1.Subscription{Url: "https://[::ffff:192.168.0.1]/x"}, "subscription.url"},
	} {
		_, err := subs.CreateSubscription(admin, &requestsv1.CreateSubscriptionRequest{Parent: "tenants/jeongeup", SubscriptionId: "x", Subscription: tc.sub})
		require.Equal(t, tc.field, stacktest.Violation(t, err).GetField(), tc.sub.String())
		if u := tc.sub.GetUrl(); strings.HasPrefix(u, "http://") {
			require.Contains(t, stacktest.Violation(t, err).GetDescription(), "https", u)
		} else if strings.Contains(u, "://") && !strings.Contains(u, "example.kr") {
			require.Contains(t, stacktest.Violation(t, err).GetDescription(), "not a public address", u)
		}
	}
	_, err := subs.CreateSubscription(s.As(auth.RoleHandler, libraryUnit), &requestsv1.CreateSubscriptionRequest{Parent: "tenants/jeongeup",
		SubscriptionId: "x", Subscription: &requestsv1.Subscription{Url: "https://example.kr/x"}})
	code, _ := stacktest.Reason(err)
	require.Equal(t, codes.PermissionDenied, code, "a handler does not manage the tenant's subscriptions")
	list, err := subs.ListSubscriptions(admin, &requestsv1.ListSubscriptionsRequest{Parent: "tenants/jeongeup"})
	require.NoError(t, err)
	require.Empty(t, list.GetSubscriptions())

	ok := &requestsv1.Subscription{Url: "https://example.kr/x"}
	first, err := subs.CreateSubscription(admin, &requestsv1.CreateSubscriptionRequest{Parent: "tenants/jeongeup", SubscriptionId: "x", Subscription: ok})
	require.NoError(t, err)
	again, err := subs.CreateSubscription(admin, &requestsv1.CreateSubscriptionRequest{Parent: "tenants/jeongeup", SubscriptionId: "x", Subscription: ok})
	require.NoError(t, err)
	require.Equal(t, first.GetSecret(), again.GetSecret(), "a retried create returns the first")
	_, err = subs.CreateSubscription(admin, &requestsv1.CreateSubscriptionRequest{Parent: "tenants/jeongeup", SubscriptionId: "x",
		Subscription: &requestsv1.Subscription{Url: "https://example.kr/other"}})
	code, _ = stacktest.Reason(err)
	require.Equal(t, codes.AlreadyExists, code)
}

// An undecided request past its due time alerts the unit's officers by mail, once however often
// the job finds it, without the requester's data, and tells subscribers it is overdue.
func TestOverdueAlertsOfficersOnce(t *testing.T) {
	t.Parallel()
	smtpd := outboundtest.StartMail(t)
	s := startStack(t, outboundtest.WithMail(smtpd.Addr, 15), outboundtest.WithLoopbackReceivers)
	s.Load("jeongeup-library.yaml")
	_, err := s.Registry.CreateOfficer(s.Admin(), &registryv1.CreateOfficerRequest{Parent: libraryUnit, OfficerId: "kim",
		Officer: &registryv1.Officer{DisplayName: "김민수", Title: "주무관", Email: "kim@jeongeup.go.kr",
			Roles: []registryv1.OfficerRole{registryv1.OfficerRole_OFFICER_ROLE_HANDLER}}})
	require.NoError(t, err)
	recv := outboundtest.StartReceiver(t, benchSecret)
	_, err = requestsv1.NewOutboundServiceClient(s.Conn).CreateSubscription(s.As(auth.RoleTenantAdmin, "tenants/jeongeup"),
		&requestsv1.CreateSubscriptionRequest{Parent: "tenants/jeongeup", SubscriptionId: "overdue",
			Subscription: &requestsv1.Subscription{Url: recv.URL, Secret: benchSecret, Types: []string{request.EventOverdue}}})
	require.NoError(t, err)
	staff := s.As(auth.RoleHandler, libraryUnit)
	late, err := s.requests().CreateRequest(staff, &requestsv1.CreateRequestRequest{Parent: libraryUnit,
		Request: requeststest.WithChannel(requeststest.AccessRequest()), ReceiveTime: timestamppb.New(time.Now().AddDate(0, 0, -30))})
	require.NoError(t, err)
	_, err = s.requests().CreateRequest(staff, &requestsv1.CreateRequestRequest{Parent: libraryUnit,
		Request: requeststest.WithChannel(requeststest.AccessRequest())}) // due in 10 days: no alert
	require.NoError(t, err)

	jobs, err := river.NewClient(riverpgxv5.New(s.DB()), &river.Config{Schema: "requests"}) // inserts only
	require.NoError(t, err)
	for range 2 {
		_, err = jobs.Insert(context.Background(), requests.AlertArgs{}, nil)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return len(smtpd.Mail()) == 1 && recv.Unique() == 1 }, 30*time.Second, 100*time.Millisecond)
	m := smtpd.Mail()[0]
	require.Equal(t, []string{"kim@jeongeup.go.kr"}, m.To)
	receipt := late.GetRequest().GetReceiptNumber()
	require.Contains(t, m.Subject, receipt)
	require.Contains(t, m.Subject, "개인정보 열람")
	require.Contains(t, m.Text, "처리기한이 지났습니다")
	require.NotContains(t, m.Text, "김민원", "an alert names the request, not the requester")
	require.Equal(t, late.GetRequest().GetName(), recv.Received()[0].Event["subject"])

	// Again: nothing new.
	_, err = jobs.Insert(context.Background(), requests.AlertArgs{}, nil)
	require.NoError(t, err)
	require.Never(t, func() bool { return len(smtpd.Mail()) > 1 || recv.Unique() > 1 }, 3*time.Second, 200*time.Millisecond)
}

// The requester chooses at intake how notices reach them: in person (staff print the notice, whose
// page has a print stylesheet) with a text message saying it was issued, sent through SENS's
// API; nothing is mailed to the address they also gave. A choice the request cannot honour is
// refused naming the field.
func TestNoticeMethodChosenAtIntake(t *testing.T) {
	t.Parallel()
	smtpd, sens := outboundtest.StartMail(t), outboundtest.StartSENS(t)
	s := startStack(t, outboundtest.WithMail(smtpd.Addr, 15), outboundtest.WithLoopbackReceivers, func(c *modules.Config) {
		var err error
		c.SMS, err = sms.NewSENS(sens.Config())
		require.NoError(t, err)
	})
	s.Load("jeongeup-library.yaml")
	cl, staff := s.requests(), s.As(auth.RoleHandler, libraryUnit)

	r := requeststest.WithChannel(requeststest.AccessRequest())
	r.NoticeMethod = requestsv1.DeliveryMethod_DELIVERY_METHOD_EMAIL
	_, err := cl.CreateRequest(staff, &requestsv1.CreateRequestRequest{Parent: libraryUnit, Request: r})
	require.Equal(t, "request.requester.email", stacktest.Violation(t, err).GetField())
	r.NoticeMethod, r.NoticeByText, r.Requester.Phone = requestsv1.DeliveryMethod_DELIVERY_METHOD_VISIT, true, ""
	r.Requester.Address = "전북 정읍시 중앙1길 1"
	_, err = cl.CreateRequest(staff, &requestsv1.CreateRequestRequest{Parent: libraryUnit, Request: r})
	require.Equal(t, "request.requester.phone", stacktest.Violation(t, err).GetField())

	r.Requester.Phone = "063-539-6000"
	_, err = cl.CreateRequest(staff, &requestsv1.CreateRequestRequest{Parent: libraryUnit, Request: r})
	require.Equal(t, "request.requester.phone", stacktest.Violation(t, err).GetField(), "a landline takes no text message")
	r.Requester.Phone, r.Requester.Email = "+82 10-1234-5678", "minwon@example.kr"
	created, err := cl.CreateRequest(staff, &requestsv1.CreateRequestRequest{Parent: libraryUnit, Request: r})
	require.NoError(t, err)
	name := created.GetRequest().GetName()
	_, err = cl.VerifyIdentity(staff, &requestsv1.VerifyIdentityRequest{Name: name,
		Verification: &requestsv1.Verification{Method: requestsv1.VerificationMethod_VERIFICATION_METHOD_ADMIN_DATA_SHARING}})
	require.NoError(t, err)
	got, err := cl.RefuseRequest(staff, &requestsv1.RefuseRequestRequest{Name: name, Reason: &requestsv1.Reason{
		Grounds: []requestsv1.Ground{requestsv1.Ground_GROUND_ACCESS_PROHIBITED_BY_LAW}, Text: "법률에 따라 열람이 금지됨"}})
	require.NoError(t, err)

	require.Eventually(t, func() bool { return len(sens.Messages()) == 1 }, 30*time.Second, 100*time.Millisecond)
	m := sens.Messages()[0]
	require.Equal(t, []any{map[string]any{"to": "01012345678"}}, m["messages"])
	require.Contains(t, m["content"], got.GetReceiptNumber())
	require.Contains(t, m["content"], "거절 통지서를 발급했습니다. 통지서는 방문하시면 드립니다")
	// SENS has the message before the job records the delivery.
	var ds *requestsv1.ListRequestDeliveriesResponse
	require.Eventually(t, func() bool {
		ds, err = requestsv1.NewOutboundServiceClient(s.Conn).ListRequestDeliveries(staff, &requestsv1.ListRequestDeliveriesRequest{Parent: name})
		require.NoError(t, err)
		return len(ds.GetDeliveries()) > 0 && ds.GetDeliveries()[0].GetState() == requestsv1.DeliveryState_DELIVERY_STATE_DELIVERED
	}, 30*time.Second, 100*time.Millisecond)
	require.Len(t, ds.GetDeliveries(), 1, "a text message, and no mail")
	require.Equal(t, "sms", ds.GetDeliveries()[0].GetChannel())
	require.Empty(t, smtpd.Mail())

	notice, err := cl.GetNotice(staff, &requestsv1.GetNoticeRequest{Name: got.GetNotices()[0]})
	require.NoError(t, err)
	require.Contains(t, notice.GetHtml(), "@media print", "staff print it to hand over")
}

// The public form asks how notices should reach the requester, and says in Korean what a choice
// needs.
func TestPublicFormNoticeMethod(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	code, _, page := s.postForm("/p/jeongeup/library/requests", url.Values{})
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, page, `<legend>통지 받을 방법</legend>`)
	require.Contains(t, page, `id="notice_method-EMAIL"`)

	form := accessForm("web-notice-1")
	form.Set("notice_method", "EMAIL")
	code, _, page = s.postForm("/p/jeongeup/library/requests", form)
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, page, "전자우편으로 통지를 받으려면 전자우편 주소를 적어 주십시오.")

	form = accessForm("web-notice-2")
	form.Set("notice_method", "MAIL")
	form.Set("notice_by_text", "on")
	code, _, page = s.postForm("/p/jeongeup/library/requests", form)
	require.Equal(t, http.StatusOK, code, page)
	list, err := s.requests().ListRequests(s.As(auth.RoleHandler, libraryUnit), &requestsv1.ListRequestsRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.Len(t, list.GetRequests(), 1)
	require.Equal(t, requestsv1.DeliveryMethod_DELIVERY_METHOD_MAIL, list.GetRequests()[0].GetNoticeMethod())
	require.True(t, list.GetRequests()[0].GetNoticeByText())
}

// Without an SMTP relay (PIPA_SMTP_ADDR unset) a notice's mail waits, its attempts unspent, and
// the staff see why.
func TestMailWaitsWithoutRelay(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	cl, staff := s.requests(), s.As(auth.RoleHandler, libraryUnit)
	r := requeststest.WithChannel(requeststest.AccessRequest())
	r.Requester.Email = "minwon@example.kr"
	created, err := cl.CreateRequest(staff, &requestsv1.CreateRequestRequest{Parent: libraryUnit, Request: r})
	require.NoError(t, err)
	name := created.GetRequest().GetName()
	_, err = cl.VerifyIdentity(staff, &requestsv1.VerifyIdentityRequest{Name: name,
		Verification: &requestsv1.Verification{Method: requestsv1.VerificationMethod_VERIFICATION_METHOD_ADMIN_DATA_SHARING}})
	require.NoError(t, err)
	_, err = cl.ApproveRequest(staff, &requestsv1.ApproveRequestRequest{Name: name, Grant: requeststest.VisitGrant()})
	require.NoError(t, err)
	out := requestsv1.NewOutboundServiceClient(s.Conn)
	require.Eventually(t, func() bool {
		ds, err := out.ListRequestDeliveries(staff, &requestsv1.ListRequestDeliveriesRequest{Parent: name})
		return err == nil && len(ds.GetDeliveries()) == 1 && ds.GetDeliveries()[0].GetAnswer() == "waiting: no mail sender is configured"
	}, 30*time.Second, 100*time.Millisecond)
	ds, err := out.ListRequestDeliveries(staff, &requestsv1.ListRequestDeliveriesRequest{Parent: name})
	require.NoError(t, err)
	require.Equal(t, requestsv1.DeliveryState_DELIVERY_STATE_PENDING, ds.GetDeliveries()[0].GetState())
	require.Zero(t, ds.GetDeliveries()[0].GetAttempts())
}

// The notices' mails that fall due together are composed together (one query for the claimed
// batch): each mail still carries its own requester's notice, and a notice gone since (PIPA-21-1)
// gives up its own mail only, not the others of its batch.
func TestNoticeMailsComposedTogether(t *testing.T) {
	t.Parallel()
	smtpd := outboundtest.StartMail(t)
	s := startStack(t, outboundtest.WithMail(smtpd.Addr, 15))
	s.Load("jeongeup-library.yaml")
	receipts := map[string]string{} // by address
	var names []string
	for i := range 3 {
		r := requeststest.WithChannel(requeststest.AccessRequest())
		r.Requester.Email = fmt.Sprintf("minwon%d@example.kr", i)
		got := decide(t, s, r)
		receipts[r.Requester.Email], names = got.GetReceiptNumber(), append(names, got.GetName())
	}
	require.Eventually(t, func() bool { return len(smtpd.Mail()) == 3 }, 30*time.Second, 100*time.Millisecond)

	// The third notice is gone; the three mails fall due again at once, as after a lost lease.
	ctx := context.Background()
	_, err := s.DB().Exec(ctx, `DELETE FROM requests.notices WHERE tenant_id = 'jeongeup' AND receipt = $1`, receipts["minwon2@example.kr"])
	require.NoError(t, err)
	tag, err := s.DB().Exec(ctx, `UPDATE requests.outbound SET deliver_time = NULL, next_time = now() - interval '1 second'
		WHERE channel = 'mail' AND subject = ANY($1)`, names)
	require.NoError(t, err)
	require.EqualValues(t, 3, tag.RowsAffected())
	require.Eventually(t, func() bool { return len(smtpd.Mail()) == 5 }, 30*time.Second, 100*time.Millisecond)
	for _, m := range smtpd.Mail()[3:] {
		require.Len(t, m.To, 1)
		receipt := receipts[m.To[0]]
		require.NotEqual(t, receipts["minwon2@example.kr"], receipt, "the mail of the notice gone is not sent")
		require.Contains(t, m.Subject, receipt)
		require.Contains(t, m.HTML, receipt, "each mail carries its own requester's notice")
		require.Contains(t, m.Text, receipt)
	}
	var answer string
	require.Eventually(t, func() bool {
		return s.DB().QueryRow(ctx, `SELECT answer FROM requests.outbound WHERE channel = 'mail' AND subject = $1
			AND fail_time IS NOT NULL`, names[2]).Scan(&answer) == nil
	}, 30*time.Second, 100*time.Millisecond)
	require.Contains(t, answer, "the notice is gone")
	time.Sleep(500 * time.Millisecond)
	require.Len(t, smtpd.Mail(), 5)
}
