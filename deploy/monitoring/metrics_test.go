package monitoring

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/ledger"
	"github.com/pipa-kr/pipa/services/ledger/cosign/cosigntest"
	"github.com/pipa-kr/pipa/services/registry"
	"github.com/pipa-kr/pipa/services/registry/registrytest"
	"github.com/pipa-kr/pipa/services/requests"
	"github.com/pipa-kr/pipa/services/retention"
	"github.com/pipa-kr/pipa/services/retention/retentiontest"
)

// series are the metric names of a Prometheus text exposition.
var series = regexp.MustCompile(`(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*)[ {]`)

// Every metric the dashboards, the alerts and OPERATIONS.md query is on a running pipa's /metrics:
// the whole pipa with the access log on and a witness configured, after the work that makes each
// series appear (a request undecided, a breach open, a destruction the ledger refused and undid, calls over HTTP
// and gRPC). A query of a metric pipa does not export would show nothing and never fire.
//
// It needs PostgreSQL (DATABASE_URL).
func TestEveryQueriedMetricExists(t *testing.T) {
	want := metricNames(t)
	w := cosigntest.Start(t, "witness.pipa.test")
	clock := &retentiontest.Clock{}
	s := registrytest.Start(t, []modules.Module{registry.Module, ledger.Module, requests.Module, retention.Module},
		stacktest.WithClock(clock.Now), func(c *modules.Config) {
			c.AccessLog, c.LedgerWitnesses, c.LedgerWitnessInterval = true, w.Spec, time.Hour
		})
	s.Load("jeongeup-library.yaml")
	const unit = "tenants/jeongeup/units/library"

	// Staff read the unit's officers over HTTP (an access record, an HTTP route, gRPC calls).
	r := s.Get("/v1/"+unit+"/officers", "Authorization", "Bearer "+s.Token(auth.RoleHandler, unit))
	body := stacktest.Body(t, r)
	require.Equal(t, http.StatusOK, r.StatusCode, body)

	// A request waits for a decision.
	_, err := requestsv1.NewRequestServiceClient(s.Conn).CreateRequest(s.As(auth.RoleHandler, unit), &requestsv1.CreateRequestRequest{
		Parent: unit, Request: &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_ACCESS, Channel: requestsv1.Channel_CHANNEL_VISIT,
			Requester:   &requestsv1.Person{Name: "김민원", Phone: "010-1234-5678"},
			AccessItems: []requestsv1.AccessItem{requestsv1.AccessItem_ACCESS_ITEM_CONTENT}}})
	require.NoError(t, err)

	// A breach is open (PIPA 34), its clocks running.
	_, err = requestsv1.NewBreachServiceClient(s.Conn).CreateBreach(s.As(auth.RoleCPO, unit), &requestsv1.CreateBreachRequest{
		Parent: unit, Breach: &requestsv1.Breach{Type: requestsv1.BreachType_BREACH_TYPE_LOSS_THEFT,
			KnownTime: timestamppb.New(time.Now().Add(-time.Hour)), Cause: requestsv1.BreachCause_BREACH_CAUSE_LOSS_THEFT,
			SubjectCount: 40, Circumstances: "대출 기록 출력물 분실"}})
	require.NoError(t, err)

	// The central library's recordings fall due, and a sweep whose clock is ahead of the ledger's
	// gets its DESTRUCTION entry refused: the destruction is undone and counted.
	waitJobs(t, s.Stack)
	cl := retentionv1.NewRetentionServiceClient(s.Conn)
	manager := s.As(auth.RoleManager, unit)
	clock.Set(retentiontest.Today().AddDate(0, 0, -41).Add(time.Hour))
	_, err = cl.CreateRule(manager, &retentionv1.CreateRuleRequest{Parent: unit, Rule: &retentionv1.Rule{
		DisplayName: "중앙도서관 CCTV 녹화영상", Target: retentionv1.RuleTarget_RULE_TARGET_SITE, Resource: unit + "/sites/central",
		ClockStart: retentionv1.ClockStart_CLOCK_START_RECORDING, Action: retentionv1.Action_ACTION_AUTO_DELETE,
		AutoDeleteCycle: "매일 00시 덮어쓰기", Method: "영구삭제(덮어쓰기)"}})
	require.NoError(t, err)
	clock.Set(time.Now().Add(time.Hour))
	_, err = cl.SweepUnit(manager, &retentionv1.SweepUnitRequest{Parent: unit})
	_, reason := stacktest.Reason(err)
	require.Equal(t, "LEDGER_REFUSED", reason)

	var metrics string
	appended := regexp.MustCompile(`(?m)^pipa_accesslog_appended_total\{[^}]*\} [1-9]`)
	require.Eventually(t, func() bool { // the access record is appended off the read path
		metrics = stacktest.Body(t, s.Get("/metrics"))
		return appended.MatchString(metrics)
	}, 10*time.Second, 50*time.Millisecond)
	exported := map[string]bool{}
	for _, m := range series.FindAllStringSubmatch(metrics, -1) {
		exported[m[1]] = true
	}
	for name, where := range want {
		require.True(t, exported[name], "%s is queried (%s) but not exported", name, strings.Join(where, "; "))
	}
	t.Logf("%d metrics queried, all exported", len(want))
}

// waitJobs waits until the retention service's start-up jobs ran, so that they do not sweep with
// the clock the test sets.
func waitJobs(t *testing.T, s *stacktest.Stack) {
	t.Helper()
	db := s.DB()
	kinds := []string{retention.SweepAllArgs{}.Kind(), retention.RemindCopiesArgs{}.Kind(), retention.CheckCopiesArgs{}.Kind()}
	require.Eventually(t, func() bool {
		var n int
		err := db.QueryRow(context.Background(), `SELECT count(DISTINCT kind) FROM retention.river_job
			WHERE kind = ANY($1) AND state = 'completed'`, kinds).Scan(&n)
		return err == nil && n == len(kinds)
	}, 30*time.Second, 20*time.Millisecond, "the start-up jobs run")
}
