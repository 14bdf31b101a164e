package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/pgtest"
	kst "github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/ledger/verify"
	"github.com/pipa-kr/pipa/services/registry/registrytest"
	"github.com/pipa-kr/pipa/services/registry/tenantfile"
	"github.com/pipa-kr/pipa/services/retention"
	"github.com/pipa-kr/pipa/services/retention/retentiontest"
)

// Journeys (issue 6): what the seeds' people do with pipa, end to end, as a department's frontend
// or another agency's system would — over REST with a real HTTP client against the gateway, JSON
// in the API's lowerCamelCase, bearer tokens minted with the deployment's development key. Each
// journey is written once and runs against both deployment modes: monolithic (-target=all, one
// serve) and microservices (-target=registry, ledger, requests and retention, each its own serve
// on its own loopback listeners and calling the others over gRPC, behind -target=gateway). One
// deployment per mode, with its own database, serves every journey of that mode in turn.
//
// They need PostgreSQL (DATABASE_URL).

func TestJourneys(t *testing.T) {
	modes := []struct {
		name  string
		start func(t *testing.T) *deployment
	}{
		{"monolithic", startMonolithic},
		{"microservices", startMicroservices},
	}
	journeys := []struct {
		name string
		run  func(t *testing.T, d *deployment)
	}{
		{"cctv-policy", journeyCCTVPolicy},
		{"cctv-access", journeyCCTVAccess},
		{"police-provision", journeyPoliceProvision},
		{"retention-sweep", journeyRetentionSweep},
		{"refusal-and-holidays", journeyRefusalAndHolidays},
		// Last: it alters (and then restores) a row of the library's ledger.
		{"ledger-verify", journeyLedgerVerify},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel() // each mode has its own database
			d := m.start(t)
			t.Cleanup(d.close)
			d.load(t, "jeongeup-library.yaml")
			d.load(t, "yeongtong-school.yaml")
			for _, j := range journeys {
				t.Run(j.name, func(t *testing.T) { j.run(t, d) })
			}
		})
	}
}

// deployment is a running pipa as its clients see it: the gateway's base URL and tokens minted with
// its development key; and what a test reaches behind the API: the registry's gRPC address (to
// load seeds as `pipa import` does), the database, and the retention service's clock.
type deployment struct {
	url string
	// ledgerURL serves the ledger's tlog-tiles: the ledger's own process in microservices mode
	// (deploy/OPERATIONS.md routes them there).
	ledgerURL string
	key       ed25519.PrivateKey
	registry  string
	dbURL     string
	clock     *retentiontest.Clock
	http      *http.Client

	poolOnce sync.Once
	pool     *pgxpool.Pool
}

// startMonolithic is -target=all: every service and the gateway in one serve.
func startMonolithic(t *testing.T) *deployment {
	clock := &retentiontest.Clock{}
	s := startStack(t, stacktest.WithClock(clock.Now))
	return &deployment{url: s.URL, ledgerURL: s.URL, key: s.Key, registry: s.Addr, dbURL: s.DatabaseURL, clock: clock,
		http: &http.Client{Timeout: 20 * time.Second}}
}

// startMicroservices runs each service as its own serve (-target=registry, ledger, requests,
// retention) with its own gRPC and HTTP listeners, all on one database, one development key and
// one data key, and -target=gateway in front with no database: every call between services is
// a gRPC call to another server, through the PIPA_*_ADDR settings.
func startMicroservices(t *testing.T) *deployment {
	pool := pgtest.NewMulti(t, stacktest.Migrations(built))
	dir := t.TempDir()
	keyPath, dataKey := filepath.Join(dir, "dev-key.pem"), filepath.Join(dir, "data-key")
	key, err := auth.LoadOrCreateDevKey(keyPath)
	require.NoError(t, err)
	clock := &retentiontest.Clock{}

	// Every listener first, so that each process is told where the others are.
	ls := map[string]*listeners{}
	for _, m := range built {
		ls[m.Name] = &listeners{grpc: stacktest.Listen(t), http: stacktest.Listen(t)}
	}
	addr := func(n string) string { return ls[n].grpc.Addr().String() }
	base := config{databaseURL: pool.Config().ConnString(), devKey: keyPath, dataKey: dataKey,
		registryAddr: addr("registry"), ledgerAddr: addr("ledger"), requestsAddr: addr("requests"), retentionAddr: addr("retention")}
	procs := map[string]*process{}
	for _, m := range built {
		c := base
		c.target = m.Name
		if m.Name == "retention" {
			c.retentionClock = clock.Now
		}
		procs[m.Name] = runServe(t, &c, ls[m.Name])
	}
	for _, m := range built {
		require.NoError(t, waitServing(context.Background(), addr(m.Name), procs[m.Name].done), m.Name)
	}

	// Each process serves its own services only: the registry's API is nowhere but in the registry,
	// and gRPC health knows each service by its full name where it runs, and nowhere else — the
	// services a module added beside its main one too.
	services := map[string][]string{
		"ledger":   {ledgerv1.AccessRecordService_ServiceDesc.ServiceName, ledgerv1.AccessReviewService_ServiceDesc.ServiceName},
		"requests": {requestsv1.OutboundService_ServiceDesc.ServiceName, requestsv1.BreachService_ServiceDesc.ServiceName},
	}
	for _, m := range built {
		services[m.Name] = append(services[m.Name], m.Service)
	}
	for _, m := range built {
		conn, err := grpc.NewClient(addr(m.Name), grpc.WithTransportCredentials(insecure.NewCredentials()))
		require.NoError(t, err)
		hc := healthpb.NewHealthClient(conn)
		for _, other := range built {
			for _, svc := range services[other.Name] {
				h, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: svc})
				if other.Name == m.Name {
					require.NoError(t, err, svc)
					require.Equal(t, healthpb.HealthCheckResponse_SERVING, h.GetStatus(), svc)
				} else {
					require.Equal(t, codes.NotFound, status.Code(err), "-target=%s reports %s", m.Name, svc)
				}
			}
		}
		if m.Name != "registry" {
			_, err = registryv1.NewRegistryServiceClient(conn).GetTenant(context.Background(), &registryv1.GetTenantRequest{Name: "tenants/jeongeup"})
			require.Equal(t, codes.Unimplemented, status.Code(err), "-target=%s serves the registry: %v", m.Name, err)
		}
		conn.Close()
	}

	gw := stacktest.Listen(t)
	g := base
	g.target, g.databaseURL, g.dataKey = "gateway", "", ""
	runServe(t, &g, &listeners{http: gw})
	d := &deployment{url: "http://" + gw.Addr().String(), ledgerURL: "http://" + ls["ledger"].http.Addr().String(), key: key, registry: addr("registry"), dbURL: base.databaseURL,
		clock: clock, http: &http.Client{Timeout: 20 * time.Second}}
	require.Eventually(t, func() bool {
		r, err := d.http.Get(d.url + "/healthz")
		if err != nil {
			return false
		}
		stacktest.Body(t, r)
		return r.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "the gateway reports the four services serving")
	return d
}

// load imports a seed of deploy/examples through the registry's gRPC API, as `pipa import` does.
func (d *deployment) load(t *testing.T, name string) {
	t.Helper()
	f, err := tenantfile.Load(registrytest.Example(t, name))
	require.NoError(t, err)
	conn, err := grpc.NewClient(d.registry, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	ctx := unitauth.WithToken(context.Background(), d.token(t, auth.RoleTenantAdmin, auth.ScopeAll))
	require.NoError(t, tenantfile.Import(ctx, registryv1.NewRegistryServiceClient(conn), f, time.Now()))
}

// token mints a bearer token holding role on scope.
func (d *deployment) token(t *testing.T, role auth.Role, scope string) string {
	tok, err := auth.Mint(d.key, auth.Principal{Subject: "journey-" + string(role), Grants: []auth.Grant{{Role: role, Scope: scope}}}, time.Hour)
	require.NoError(t, err)
	return tok
}

// db is a pool on the deployment's database, for what only SQL reaches (River's job table, and
// an operator's tampering).
func (d *deployment) db(t *testing.T) *pgxpool.Pool {
	d.poolOnce.Do(func() {
		pool, err := pgxpool.New(context.Background(), d.dbURL)
		require.NoError(t, err)
		d.pool = pool
	})
	return d.pool
}

func (d *deployment) close() {
	if d.pool != nil {
		d.pool.Close()
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// obj is a JSON object as the API takes it.
type obj = map[string]any

// call sends in as JSON (nil: no body) with a bearer token (empty: none) and returns the HTTP
// status and the answer.
func (d *deployment) call(t *testing.T, method, path, token string, in any) (int, string) {
	t.Helper()
	var r io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		require.NoError(t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, d.url+path, r)
	require.NoError(t, err)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := d.http.Do(req)
	require.NoError(t, err)
	return resp.StatusCode, stacktest.Body(t, resp)
}

// ok calls, requires 200 and decodes the JSON answer into out (when not nil).
func (d *deployment) ok(t *testing.T, method, path, token string, in any, out proto.Message) string {
	t.Helper()
	code, b := d.call(t, method, path, token, in)
	require.Equal(t, http.StatusOK, code, "%s %s: %s", method, path, b)
	if out != nil {
		require.NoError(t, protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal([]byte(b), out), b)
	}
	return b
}

// refused calls and requires the HTTP status code of a refusal; its JSON names the field and
// the rule (or the reason).
func (d *deployment) refused(t *testing.T, code int, method, path, token string, in any) string {
	t.Helper()
	got, b := d.call(t, method, path, token, in)
	require.Equal(t, code, got, "%s %s: %s", method, path, b)
	return b
}

// rfc3339 is a time as the API's JSON carries it.
func rfc3339(at time.Time) string { return at.UTC().Format(time.RFC3339) }

// entry reads a ledger entry by its name.
func (d *deployment) entry(t *testing.T, token, name string) *ledgerv1.Entry {
	t.Helper()
	var e ledgerv1.Entry
	d.ok(t, http.MethodGet, "/v1/"+name, token, nil, &e)
	return &e
}

// Journey 1. The Jeongeup library (seed 000) drafts its next CCTV policy from its text in force
// (its own articles, the registry's facts bound into them), checks where each DEC-25-1 item is
// stated, dates its changes article, and announces it with the notice lead time (NOTICE-7D) — and
// it is published at once (WG26-24), frozen with its SHA-256, which the unit's ledger records
// (STD-21): the public page shows version 2 still in force, its period now ending the day before
// the new version takes effect, version 1 with its period, and the new version with its
// effective date. (No registry clock is moved: as in policy_test.go, "after the effective date"
// is the version's standing and the end date it gives the one before.)
func journeyCCTVPolicy(t *testing.T, d *deployment) {
	cpo := d.token(t, auth.RoleCPO, libraryUnit)
	p := "/v1/" + libraryCCTV

	var draft registryv1.PolicyVersion
	d.ok(t, http.MethodPost, p+"/versions?requestId=journey-draft-1", cpo, obj{}, &draft)
	require.Equal(t, registryv1.PolicyState_POLICY_STATE_DRAFT, draft.GetState())
	require.Greater(t, draft.GetNumber(), int32(2), "versions 1 and 2 come from the seed")
	v := p + "/versions/" + strconv.Itoa(int(draft.GetNumber()))

	var chk registryv1.CheckPolicyVersionResponse
	d.ok(t, http.MethodGet, v+":check", cpo, nil, &chk)
	require.True(t, chk.GetReady(), "the text in force states every item: %v", chk.GetFindings())
	for _, c := range chk.GetCoverage() {
		if c.GetRule() == "DEC-25-1" && c.GetItem() == "6" {
			require.Equal(t, []string{"제6조(정보주체의 영상정보 열람 등 요구에 대한 조치)"}, c.GetArticles())
		}
	}

	// 제8조 names the date the version applies from: the new version binds its own date, edited
	// over REST as a frontend would.
	var dv registryv1.PolicyVersion
	d.ok(t, http.MethodGet, v, cpo, nil, &dv)
	last := dv.GetArticles()[len(dv.GetArticles())-1]
	require.Contains(t, last.GetBody(), "2024. 01. 16.부터 적용됩니다")
	last.Body = strings.Replace(last.GetBody(), "2024. 01. 16.", "{{version.effectiveDate}}", 1)
	arts, err := protojson.Marshal(&registryv1.PolicyVersion{Articles: dv.GetArticles()})
	require.NoError(t, err)
	var patch map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(arts, &patch))
	d.ok(t, http.MethodPatch, v+"?updateMask=articles", cpo, obj{"articles": patch["articles"]}, nil)
	d.ok(t, http.MethodGet, v+":check", cpo, nil, &chk)
	require.True(t, chk.GetReady(), "%v", chk.GetFindings())

	// NOTICE-7D: 6 days' notice is refused naming the field and the rule; 7 is enough.
	b := d.refused(t, http.StatusBadRequest, http.MethodPost, v+":announce", cpo, obj{"effectiveDate": registrytest.InDays(6), "changeSummary": "조문 정비"})
	require.Contains(t, b, `"field":"effective_date"`)
	require.Contains(t, b, `"reason":"NOTICE-7D"`)
	var announced registryv1.PolicyVersion
	d.ok(t, http.MethodPost, v+":announce", cpo, obj{"effectiveDate": registrytest.InDays(7), "changeSummary": "조문 정비"}, &announced)
	require.Equal(t, registryv1.PolicyState_POLICY_STATE_ANNOUNCED, announced.GetState())
	require.Equal(t, registryv1.PolicyStanding_POLICY_STANDING_UPCOMING, announced.GetStanding())
	require.Equal(t, registrytest.InDays(7), announced.GetEffectiveDate())

	// WG26-24: one version in force on any day; each ends the day before the next takes effect.
	var list registryv1.ListPolicyVersionsResponse
	d.ok(t, http.MethodGet, p+"/versions", d.token(t, auth.RoleAuditor, "tenants/jeongeup"), nil, &list)
	standing := map[int32]registryv1.PolicyStanding{}
	for _, pv := range list.GetPolicyVersions() {
		standing[pv.GetNumber()] = pv.GetStanding()
		if pv.GetNumber() == 2 {
			require.Equal(t, registrytest.InDays(6), pv.GetEndDate())
		}
	}
	require.Equal(t, map[int32]registryv1.PolicyStanding{
		1:                 registryv1.PolicyStanding_POLICY_STANDING_PAST,
		2:                 registryv1.PolicyStanding_POLICY_STANDING_IN_FORCE,
		draft.GetNumber(): registryv1.PolicyStanding_POLICY_STANDING_UPCOMING,
	}, standing)

	// Published without a token (DEC-31-2): the JSON twin and the page. Public answers are
	// micro-cached for a moment, hence Eventually.
	var pub registryv1.PublishedPolicy
	require.Eventually(t, func() bool {
		pub.Reset()
		d.ok(t, http.MethodGet, "/v1/public/tenants/jeongeup/units/library/policies/cctv", "", nil, &pub)
		return len(pub.GetHistory()) == 3
	}, 10*time.Second, 100*time.Millisecond, "the announced version is in the public history")
	require.EqualValues(t, 2, pub.GetVersion().GetNumber(), "version 2 is in force until the new one takes effect")
	periods := map[int32]string{}
	for _, h := range pub.GetHistory() {
		periods[h.GetNumber()] = h.GetPeriod()
		if h.GetNumber() == draft.GetNumber() {
			require.Equal(t, registryv1.PolicyStanding_POLICY_STANDING_UPCOMING, h.GetStanding())
			require.Equal(t, registrytest.InDays(7), h.GetEffectiveDate())
		}
	}
	require.Equal(t, "2021. 12. 06. ~ 2024. 01. 15.", periods[1])
	require.Equal(t, "2024. 01. 16. ~ "+registrytest.Published(t, registrytest.InDays(6)), periods[2])

	code, page := d.call(t, http.MethodGet, "/p/jeongeup/library/cctv", "", nil)
	require.Equal(t, http.StatusOK, code, page)
	for _, fact := range []string{"중앙도서관 2층 전산실", "송현숙", "2021. 12. 06. ~ 2024. 01. 15.",
		"2024. 01. 16. ~ " + registrytest.Published(t, registrytest.InDays(6)), registrytest.Published(t, registrytest.InDays(7))} {
		require.Contains(t, page, fact)
	}
	code, page = d.call(t, http.MethodGet, "/p/jeongeup/library/cctv/versions/"+strconv.Itoa(int(draft.GetNumber())), "", nil)
	require.Equal(t, http.StatusOK, code, page)
	require.Contains(t, page, "이 영상정보처리기기 운영․관리 방침은 "+registrytest.Published(t, registrytest.InDays(7))+"부터 적용됩니다")

	// STD-21: what was announced is provable: the frozen document's SHA-256 is in the unit's
	// ledger, in a PUBLICATION entry appended by the registry.
	code, doc := d.call(t, http.MethodGet, "/p/jeongeup/library/cctv/versions/"+strconv.Itoa(int(draft.GetNumber()))+"/document.html", "", nil)
	require.Equal(t, http.StatusOK, code)
	sum := sha256.Sum256([]byte(doc))
	var frozen registryv1.PolicyVersion
	require.Eventually(t, func() bool {
		frozen.Reset()
		d.ok(t, http.MethodGet, v, cpo, nil, &frozen)
		return frozen.GetDocument().GetLedgerEntry() != ""
	}, 20*time.Second, 100*time.Millisecond, "the publication reaches the ledger")
	require.Equal(t, hex.EncodeToString(sum[:]), frozen.GetDocument().GetHtmlSha256())
	e := d.entry(t, d.token(t, auth.RoleAuditor, libraryUnit), frozen.GetDocument().GetLedgerEntry())
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_PUBLICATION, e.GetKind())
	require.Equal(t, hex.EncodeToString(sum[:]), e.GetDocumentSha256())
	require.Equal(t, frozen.GetName(), e.GetFileName())
}

// Journey 2. A citizen asks online to see footage of the central library's parking lot in which
// she appears (STD-44-1, STD-44-2): the receipt, the status secret and the 10-day due date
// (PIPA-35-3). Staff verify her identity by ID card (STD-44-3; nothing is decided before,
// DEC-46), approve a viewing with the others in the footage masked (STD-46) and the 별지 제9호
// notice, let her view it and close. The request's ledger records name the viewing's entry
// (STD-44-5) and the steps that follow it; her status check shows every step without anything
// personal.
func journeyCCTVAccess(t *testing.T, d *deployment) {
	recorded := time.Now().Add(-26 * time.Hour).Truncate(time.Hour)
	submit := obj{"requestId": "journey-cctv-1", "request": obj{
		"type":      "REQUEST_TYPE_CCTV_ACCESS",
		"requester": obj{"name": "김민원", "phone": "010-1234-5678", "birthDate": "1980-05-01"},
		"purpose":   "주차 차량 파손 경위 확인",
		"footage": obj{"site": libraryUnit + "/sites/central", "siteLocation": "도서관 주차장", "cameraLocation": "주차장 출입구",
			"startTime": rfc3339(recorded), "endTime": rfc3339(recorded.Add(time.Hour)), "requesterAppears": true}}}
	var receipt requestsv1.SubmitRequestResponse
	d.ok(t, http.MethodPost, "/v1/public/tenants/jeongeup/units/library/requests", "", submit, &receipt)
	require.Regexp(t, `^R-\d{4}-\d{6}$`, receipt.GetReceiptNumber())
	require.NotEmpty(t, receipt.GetStatusSecret())
	require.Greater(t, receipt.GetDueDate(), registrytest.InDays(9), "PIPA-35-3: 10 days, the day of receipt not counted")

	var steps []string
	check := func(want requestsv1.RequestState) {
		t.Helper()
		var st requestsv1.RequestStatus
		b := d.ok(t, http.MethodGet, "/v1/public/requests/"+receipt.GetReceiptNumber()+"?secret="+url.QueryEscape(receipt.GetStatusSecret()), "", nil, &st)
		require.NotContains(t, b, "김민원", "the status check reveals nothing personal")
		require.Equal(t, want, st.GetState(), b)
		require.Equal(t, requestsv1.RequestType_REQUEST_TYPE_CCTV_ACCESS, st.GetType())
		if want == requestsv1.RequestState_REQUEST_STATE_CLOSED {
			require.Empty(t, st.GetDueDate(), "a closed request's clock has stopped")
		} else {
			require.Equal(t, receipt.GetDueDate(), st.GetDueDate())
		}
		kinds := []string{}
		for _, k := range st.GetNotices() {
			kinds = append(kinds, strings.TrimPrefix(k.String(), "NOTICE_KIND_"))
		}
		steps = append(steps, strings.TrimPrefix(want.String(), "REQUEST_STATE_")+" "+strings.Join(kinds, ","))
	}
	check(requestsv1.RequestState_REQUEST_STATE_RECEIVED)

	staff := d.token(t, auth.RoleHandler, libraryUnit)
	r := "/v1/" + libraryUnit + "/requests/" + receipt.GetReceiptNumber()
	viewing := obj{"accessTime": rfc3339(time.Now().Add(48 * time.Hour).Truncate(time.Hour)), "accessPlace": "정읍시립도서관 2층 전산실",
		"form": "ACCESS_FORM_VIEWING", "method": "DELIVERY_METHOD_VISIT"}

	b := d.refused(t, http.StatusBadRequest, http.MethodPost, r+":approve", staff, obj{"grant": viewing})
	require.Contains(t, b, "IDENTITY_NOT_VERIFIED", "DEC-46: nothing is decided before identity is verified")
	b = d.refused(t, http.StatusBadRequest, http.MethodPost, r+":verifyIdentity", staff,
		obj{"verification": obj{"method": "VERIFICATION_METHOD_ADMIN_DATA_SHARING"}})
	require.Contains(t, b, `"reason":"STD-44-3"`, "a CCTV request is verified by ID card")
	var req requestsv1.Request
	d.ok(t, http.MethodPost, r+":verifyIdentity", staff, obj{"verification": obj{"method": "VERIFICATION_METHOD_RESIDENT_CARD", "note": "주민등록증 대조"}}, &req)
	require.Equal(t, requestsv1.RequestState_REQUEST_STATE_VERIFIED, req.GetState())
	check(requestsv1.RequestState_REQUEST_STATE_VERIFIED)

	b = d.refused(t, http.StatusBadRequest, http.MethodPost, r+":approve", staff, obj{"grant": viewing})
	require.Contains(t, b, `"field":"grant.masking"`)
	require.Contains(t, b, `"reason":"STD-46"`)
	viewing["masking"] = obj{"done": true}
	d.ok(t, http.MethodPost, r+":approve", staff, obj{"grant": viewing, "etag": req.GetEtag()}, &req)
	require.Equal(t, requestsv1.RequestState_REQUEST_STATE_APPROVED, req.GetState())
	require.True(t, req.GetGrant().GetMasking().GetDone(), "the masking is recorded with the decision")
	require.Len(t, req.GetNotices(), 1)
	check(requestsv1.RequestState_REQUEST_STATE_APPROVED)

	var notice requestsv1.Notice
	d.ok(t, http.MethodGet, "/v1/"+req.GetNotices()[0], staff, nil, &notice)
	require.Equal(t, requestsv1.NoticeKind_NOTICE_KIND_APPROVAL, notice.GetKind())
	require.Equal(t, "별지 제9호", notice.GetForm())
	for _, s := range []string{"김민원 귀하", "정읍시립도서관 2층 전산실", "타인 모자이크·마스킹 처리함"} {
		require.Contains(t, notice.GetHtml(), s)
	}

	d.ok(t, http.MethodPost, r+":fulfill", staff, obj{"note": "마스킹 처리 영상 열람 제공"}, &req)
	check(requestsv1.RequestState_REQUEST_STATE_FULFILLED)
	d.ok(t, http.MethodPost, r+":close", staff, obj{}, &req)
	check(requestsv1.RequestState_REQUEST_STATE_CLOSED)
	require.Equal(t, []string{"RECEIVED ", "VERIFIED ", "APPROVED APPROVAL", "FULFILLED APPROVAL", "CLOSED APPROVAL"}, steps)

	// STD-44-5: the request's log entry is the VIEWING the verification appended; each later step
	// follows it, and no personal value is in clear in a leaf.
	require.Len(t, req.GetLedger(), 4, "verification, approval, fulfilment, closing")
	first := req.GetLedger()[0]
	require.False(t, first.GetPending())
	auditor := d.token(t, auth.RoleAuditor, libraryUnit)
	e := d.entry(t, auditor, first.GetEntry())
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_VIEWING, e.GetKind())
	require.Equal(t, req.GetName(), e.GetRequest())
	require.Equal(t, "김민원", e.GetRequesterName())
	require.Contains(t, e.GetFileName(), "도서관 주차장")
	for _, lr := range req.GetLedger()[1:] {
		require.False(t, lr.GetPending(), lr.GetStep())
		a := d.entry(t, auditor, lr.GetEntry())
		require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT, a.GetKind(), lr.GetStep())
		require.Equal(t, first.GetIndex(), a.GetFollows(), lr.GetStep())
	}
	var leaf ledgerv1.Leaf
	d.ok(t, http.MethodGet, "/v1/"+first.GetEntry()+":leaf", auditor, nil, &leaf)
	require.NotContains(t, string(leaf.GetData()), "김민원", "personal values are only committed to in the leaf")
}

// Journey 3. A police station asks the Yeongtong school (seed 001) for footage: taken as a
// provision request on ground 7 (criminal investigation, PIPA-18-2) with a USB copy and its
// destruction due date (C-9), verified by its official document, approved with the safety
// requests made of the police (PIPA 18(5)) and the masking (STD-46). The PROVISION entry is in
// the school's ledger (STD-42-1) and the copy is chased by the retention service: past its due
// date it is overdue and reminded; the police's reply of destruction closes it with an AMENDMENT
// (DESTRUCTION_REPLY) that follows the PROVISION entry.
func journeyPoliceProvision(t *testing.T, d *deployment) {
	const unit = "tenants/yeongtong-es/units/school"
	staff := d.token(t, auth.RoleManager, unit)
	today := time.Now().In(kst.Location)
	due := today.AddDate(0, 0, 14).Format(time.DateOnly)
	recorded := time.Now().Add(-50 * time.Hour).Truncate(time.Hour)
	var created requestsv1.CreateRequestResponse
	d.ok(t, http.MethodPost, "/v1/"+unit+"/provisions", staff, obj{"requestId": "journey-police-1", "request": obj{
		"channel":   "CHANNEL_VISIT",
		"requester": obj{"name": "홍길동", "phone": "031-000-0112"},
		"purpose":   "학교 정문 앞 폭행 사건 수사",
		"provision": obj{"requestingBody": "수원영통경찰서", "officerTitle": "경위", "ground": "PROVISION_GROUND_CRIMINAL_INVESTIGATION",
			"legalBasis": "형사소송법 제199조제2항, 수사협조의뢰(형사과-1234)", "items": []string{"영상(얼굴, 인상착의)"},
			"footage": obj{"site": unit + "/sites/school", "siteLocation": "정문", "cameraLocation": "정문 CH01",
				"startTime": rfc3339(recorded), "endTime": rfc3339(recorded.Add(time.Hour))},
			"form": "PROVISION_FORM_USB_COPY", "periodStartDate": today.Format(time.DateOnly), "periodEndDate": due,
			"destructionDueDate": due, "publicRecipient": true}}}, &created)
	req := created.GetRequest()
	require.Regexp(t, `^P-\d{4}-\d{6}$`, req.GetReceiptNumber())
	r := "/v1/" + req.GetName()

	d.ok(t, http.MethodPost, r+":verifyIdentity", staff, obj{"verification": obj{"method": "VERIFICATION_METHOD_OFFICIAL_DOCUMENT",
		"note": "수사협조의뢰 공문(형사과-1234) 확인"}}, req)
	require.Equal(t, requestsv1.RequestState_REQUEST_STATE_VERIFIED, req.GetState())
	require.Empty(t, req.GetLedger(), "recorded by its PROVISION entry, once approved")
	grant := obj{"safetyRequests": "수사 목적 외 이용 금지, 사건 종결 시 파기 후 회신"}
	b := d.refused(t, http.StatusBadRequest, http.MethodPost, r+":approve", staff, obj{"grant": grant})
	require.Contains(t, b, `"field":"grant.masking"`, "STD-46: footage leaves masked or with a reason")
	grant["masking"] = obj{"done": true}
	d.ok(t, http.MethodPost, r+":approve", staff, obj{"grant": grant}, req)
	require.Equal(t, requestsv1.RequestState_REQUEST_STATE_APPROVED, req.GetState())
	require.Empty(t, req.GetPublicationDueDate(), "PIPA-18-4 exempts ground 7")
	require.Len(t, req.GetLedger(), 1)
	require.False(t, req.GetLedger()[0].GetPending())

	auditor := d.token(t, auth.RoleAuditor, unit)
	prov := d.entry(t, auditor, req.GetLedger()[0].GetEntry())
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_PROVISION, prov.GetKind())
	require.Equal(t, "수원영통경찰서", prov.GetCounterparty())
	require.Equal(t, "경위 홍길동", prov.GetCounterpartyOfficer())
	require.Equal(t, "USB 사본 제공", prov.GetForm())
	require.Contains(t, prov.GetLegalBasis(), "제18조제2항제7호")
	require.Equal(t, "수사 목적 외 이용 금지, 사건 종결 시 파기 후 회신", prov.GetSafetyRequests())
	require.Equal(t, due, prov.GetDestructionDueDate())
	require.Equal(t, req.GetName(), prov.GetRequest())

	// C-9: the approval handed the copy to the retention service (over gRPC in both modes).
	require.NotEmpty(t, req.GetCopy())
	var copies retentionv1.ListCopiesResponse
	d.ok(t, http.MethodGet, "/v1/"+unit+"/copies", staff, nil, &copies)
	require.Len(t, copies.GetCopies(), 1)
	c := copies.GetCopies()[0]
	require.Equal(t, req.GetCopy(), c.GetName())
	require.Equal(t, "수원영통경찰서", c.GetRecipient())
	require.Equal(t, prov.GetIndex(), c.GetProvisionIndex())
	require.Equal(t, due, c.GetDestructionDueDate())
	require.Equal(t, retentionv1.CopyState_COPY_STATE_OUT, c.GetState())
	require.False(t, c.GetOverdue())

	// The due date passes: the retention service's day is the one after it, and its daily
	// reminder job runs (as River would at 09:00).
	dueDay, err := time.ParseInLocation(time.DateOnly, due, kst.Location)
	require.NoError(t, err)
	d.clock.Pin(t, dueDay.AddDate(0, 0, 1).Add(10*time.Hour))
	retentiontest.WaitJob(t, d.db(t), retentiontest.Enqueue(t, d.db(t), retention.RemindCopiesArgs{}))
	d.ok(t, http.MethodGet, "/v1/"+unit+"/copies?state=overdue", staff, nil, &copies)
	require.Len(t, copies.GetCopies(), 1, "the copy is overdue")
	c = copies.GetCopies()[0]
	require.True(t, c.GetOverdue())
	require.GreaterOrEqual(t, c.GetReminders(), int32(1), "and reminded")
	require.NotNil(t, c.GetLastReminderTime())

	// The police reply that the copy is destroyed (recorded today: the ledger takes nothing
	// dated in its future). Without the reply as evidence it is refused (C-9).
	d.clock.Set(time.Time{})
	b = d.refused(t, http.StatusBadRequest, http.MethodPost, "/v1/"+c.GetName()+":recordOutcome", staff,
		obj{"outcome": obj{"kind": "OUTCOME_KIND_DESTROYED"}})
	require.Contains(t, b, `"field":"outcome.evidence"`)
	require.Contains(t, b, `"reason":"C-9"`)
	d.ok(t, http.MethodPost, "/v1/"+c.GetName()+":recordOutcome", staff, obj{"etag": c.GetEtag(),
		"outcome": obj{"kind": "OUTCOME_KIND_DESTROYED", "evidence": "수원영통경찰서 형사과-4567, 파기 통보"}}, c)
	require.Equal(t, retentionv1.CopyState_COPY_STATE_DESTROYED, c.GetState())
	require.NotEmpty(t, c.GetOutcomes())
	reply := c.GetOutcomes()[len(c.GetOutcomes())-1]
	require.NotZero(t, reply.GetLedgerIndex(), "the answer carries the entry's index")
	a := d.entry(t, auditor, unit+"/ledger/entries/"+itoa(reply.GetLedgerIndex()))
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT, a.GetKind())
	require.Equal(t, ledgerv1.AmendmentKind_AMENDMENT_KIND_DESTRUCTION_REPLY, a.GetAmendmentKind())
	require.Equal(t, prov.GetIndex(), a.GetFollows(), "the reply follows the PROVISION entry")
	require.Contains(t, a.GetNote(), "형사과-4567")
	d.ok(t, http.MethodGet, "/v1/"+unit+"/copies?state=overdue", staff, nil, &copies)
	require.Empty(t, copies.GetCopies())
}

// daysInFileName is the count of days a DESTRUCTION entry's file name ends with: "… (10일)" for a
// run of days, "… 중 9일" for days around a held one.
var daysInFileName = regexp.MustCompile(`[ (](\d+)일\)?$`)

// Journey 4. The library's recordings are kept 30 days (seed 000 제4조, STD-41-2): a rule on the
// central site, set up 41 days ago, and a legal hold on one hour of day 36 (PIPA-21-1). The sweep
// of yesterday destroys every day past its 30 days but the held one, and records the automatic
// deletions in the ledger with their cycle and check time (STD-42-2). Then a rule destroyed by
// plan (STD-55): the personal fields of a viewing's ledger row kept 3 days are proposed by the
// sweep, approved and confirmed by the CPO (STD-10-4), redacted, recorded as a DESTRUCTION entry
// and certified in a signed note.
func journeyRetentionSweep(t *testing.T, d *deployment) {
	retentiontest.Started(t, d.db(t))
	manager, cpo := d.token(t, auth.RoleManager, libraryUnit), d.token(t, auth.RoleCPO, libraryUnit)
	auditor := d.token(t, auth.RoleAuditor, libraryUnit)
	u := "/v1/" + libraryUnit
	today := retentiontest.Today()
	yesterday := today.AddDate(0, 0, -1)

	d.clock.Pin(t, today.AddDate(0, 0, -41).Add(time.Hour))
	var rule retentionv1.Rule
	d.ok(t, http.MethodPost, u+"/rules?ruleId=journey-cctv&requestId=journey-rule-1", manager, obj{
		"displayName": "중앙도서관 CCTV 녹화영상", "target": "RULE_TARGET_SITE", "resource": libraryUnit + "/sites/central",
		"clockStart": "CLOCK_START_RECORDING", "action": "ACTION_AUTO_DELETE", "autoDeleteCycle": "매일 00시 보관기간 경과분 자동 덮어쓰기",
		"method": "영구삭제(덮어쓰기, 복구 불가)", "basis": "표준 개인정보 보호지침 제41조"}, &rule)
	require.EqualValues(t, 30, rule.GetPeriodDays(), "a site's period is its retention days in the registry")
	heldDay := today.AddDate(0, 0, -36)
	var hold retentionv1.Hold
	d.ok(t, http.MethodPost, u+"/holds?requestId=journey-hold-1", manager, obj{
		"site": libraryUnit + "/sites/central", "startTime": rfc3339(heldDay.Add(14 * time.Hour)), "endTime": rfc3339(heldDay.Add(15 * time.Hour)),
		"reason": "정읍경찰서 수사 협조 요청(형사과-1234)에 따른 보존", "custodian": "주무관 송승학",
		"reviewDate": today.AddDate(0, 1, 0).Format(time.DateOnly)}, &hold)

	checked := yesterday.Add(time.Hour)
	d.clock.Pin(t, checked)
	var res retentionv1.SweepResult
	d.ok(t, http.MethodPost, u+":sweep", manager, obj{}, &res)
	// The rule covers the 30 days already on the recorder when it was made (STD-42-2): days -71 … -32.
	require.EqualValues(t, 39, res.GetDestroyed(), "days -71 … -32 are past their 30 days, but for the held one")
	require.EqualValues(t, 1, res.GetHeld())
	require.Equal(t, []string{hold.GetName()}, res.GetHoldsChecked(), "the sweep records the holds it checked")

	var items retentionv1.ListItemsResponse
	d.ok(t, http.MethodGet, u+"/items?state=held", auditor, nil, &items)
	require.Len(t, items.GetItems(), 1)
	require.Equal(t, heldDay.Format(time.DateOnly), items.GetItems()[0].GetRecordingDate())
	require.Equal(t, []string{hold.GetName()}, items.GetItems()[0].GetHolds())
	require.Zero(t, items.GetItems()[0].GetLedgerIndex())

	d.ok(t, http.MethodGet, u+"/items?state=destroyed&pageSize=100", auditor, nil, &items)
	require.Len(t, items.GetItems(), 39)
	perEntry := map[int64]int{}
	for _, it := range items.GetItems() {
		require.NotEqual(t, heldDay.Format(time.DateOnly), it.GetRecordingDate())
		require.Less(t, it.GetRecordingDate(), yesterday.AddDate(0, 0, -30).Format(time.DateOnly), "day 30 is kept")
		perEntry[it.GetLedgerIndex()]++
	}
	for idx, n := range perEntry {
		e := d.entry(t, auditor, libraryUnit+"/ledger/entries/"+itoa(idx))
		require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION, e.GetKind())
		require.True(t, strings.HasPrefix(e.GetFileName(), "중앙도서관 녹화분 "), e.GetFileName())
		m := daysInFileName.FindStringSubmatch(e.GetFileName())
		require.NotNil(t, m, e.GetFileName())
		require.Equal(t, strconv.Itoa(n), m[1], "the entry names as many days as it destroyed: %s", e.GetFileName())
		require.Equal(t, "매일 00시 보관기간 경과분 자동 덮어쓰기", e.GetAutoDeleteCycle(), "STD-42-2: the cycle")
		require.WithinDuration(t, checked, e.GetAutoDeleteCheckedTime().AsTime(), 0, "STD-42-2: when it was checked")
		require.Equal(t, "영구삭제(덮어쓰기, 복구 불가)", e.GetDestructionMethod())
	}

	// A plan rule: a viewing's requester, kept 3 days after collection, is destroyed by a plan the
	// CPO approves (STD-55). The retention clock is real time from here.
	d.clock.Set(time.Time{})
	collected := time.Now().AddDate(0, 0, -10)
	var viewing ledgerv1.Entry
	d.ok(t, http.MethodPost, u+"/ledger/entries?requestId=journey-viewing-1", d.token(t, auth.RoleHandler, libraryUnit), obj{
		"kind": "ENTRY_KIND_VIEWING", "occurTime": rfc3339(collected), "fileName": "열람실 CH01", "purpose": "분실물 확인",
		"handler": "주무관 소영휴", "requesterName": "김민수", "requesterContact": "010-2345-6789"}, &viewing)
	var planRule retentionv1.Rule
	d.ok(t, http.MethodPost, u+"/rules?ruleId=journey-ledger-personal", manager, obj{
		"displayName": "관리대장 열람 요구인 개인정보", "target": "RULE_TARGET_LEDGER_ENTRIES", "periodDays": 3,
		"clockStart": "CLOCK_START_COLLECTION", "action": "ACTION_PLAN", "method": "개인정보 영구삭제(복구 불가)",
		"basis": "표준 개인정보 보호지침 제60조"}, &planRule)
	var item retentionv1.Item
	d.ok(t, http.MethodPost, u+"/items", manager, obj{"rule": planRule.GetName(), "resource": viewing.GetName(),
		"clockStartTime": rfc3339(collected)}, &item)
	d.ok(t, http.MethodPost, u+":sweep", manager, obj{}, &res)
	require.EqualValues(t, 1, res.GetPlanned())
	require.Len(t, res.GetPlans(), 1)
	var plan retentionv1.Plan
	p := "/v1/" + res.GetPlans()[0]
	d.ok(t, http.MethodGet, p, manager, nil, &plan)
	require.Equal(t, retentionv1.PlanState_PLAN_STATE_PROPOSED, plan.GetState())
	require.Equal(t, []string{item.GetName()}, plan.GetItems())

	b := d.refused(t, http.StatusForbidden, http.MethodPost, p+":approve", manager, obj{"etag": plan.GetEtag()})
	require.Contains(t, b, "STD-55", "only the CPO approves")
	d.ok(t, http.MethodPost, p+":approve", cpo, obj{"etag": plan.GetEtag()}, &plan)
	require.Equal(t, retentionv1.PlanState_PLAN_STATE_APPROVED, plan.GetState())
	d.ok(t, http.MethodPost, p+":complete", cpo, obj{"method": "개인정보 영구삭제(복구 불가)", "destroyedBy": "주무관 송승학",
		"etag": plan.GetEtag()}, &plan)
	require.Equal(t, retentionv1.PlanState_PLAN_STATE_COMPLETED, plan.GetState())
	require.Len(t, plan.GetRecords(), 1, "별지5: one row per rule")

	d.ok(t, http.MethodGet, "/v1/"+item.GetName(), manager, nil, &item)
	require.Equal(t, retentionv1.ItemState_ITEM_STATE_DESTROYED, item.GetState())
	e := d.entry(t, auditor, libraryUnit+"/ledger/entries/"+itoa(item.GetLedgerIndex()))
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION, e.GetKind())
	require.Equal(t, plan.GetName(), e.GetPlan())
	require.Equal(t, "주무관 송승학", e.GetHandler())
	redacted := d.entry(t, auditor, viewing.GetName())
	require.True(t, redacted.GetRedacted())
	require.Empty(t, redacted.GetRequesterName())

	// The certificate is a note signed by the tenant's key, naming the item and its entry.
	c := plan.GetCertificate()
	verifier, err := note.NewVerifier(c.GetVerifierKey())
	require.NoError(t, err)
	n, err := note.Open([]byte(c.GetNote()), note.VerifierList(verifier))
	require.NoError(t, err)
	require.Contains(t, n.Text, "plan "+plan.GetName()+"\n")
	require.Contains(t, n.Text, "item "+item.GetName()+" entry "+itoa(item.GetLedgerIndex())+" ")
}

// Journey 6. Refusal with a coded ground and the statutory clock across public holidays. A
// visitor's access request received 2025-10-01 09:00 is due 2025-10-13 (추석 and 한글날 2025,
// the 10th day a Saturday), one of 2026-02-20 on 2026-03-03 (the 3·1절 substitute holiday) —
// 10 days, the day of receipt not counted, a last day off moved to the next working day
// (PIPA-35-3, 민법 157·161). The first is refused: without a ground it cannot be (PIPA-35-4);
// with GROUND_ACCESS_ONGOING_AUDIT the 별지 제9호 notice of refusal carries the ground, and the
// requester's status check shows it.
func journeyRefusalAndHolidays(t *testing.T, d *deployment) {
	staff := d.token(t, auth.RoleHandler, libraryUnit)
	intake := func(requestID, received string) *requestsv1.CreateRequestResponse {
		t.Helper()
		at, err := time.ParseInLocation("2006-01-02 15:04", received, kst.Location)
		require.NoError(t, err)
		var out requestsv1.CreateRequestResponse
		d.ok(t, http.MethodPost, "/v1/"+libraryUnit+"/requests", staff, obj{"requestId": requestID, "receiveTime": rfc3339(at),
			"request": obj{"type": "REQUEST_TYPE_ACCESS", "channel": "CHANNEL_VISIT",
				"requester":   obj{"name": "박민원", "phone": "010-9876-5432", "address": "전북 정읍시 충정로 234"},
				"accessItems": []string{"ACCESS_ITEM_CONTENT", "ACCESS_ITEM_PROVISION_HISTORY"}}}, &out)
		return &out
	}
	chuseok := intake("journey-holiday-1", "2025-10-01 09:00")
	require.Equal(t, "2025-10-13", chuseok.GetRequest().GetDueDate(), "추석 2025: day 10 is Saturday 10-11")
	require.Equal(t, "2026-03-03", intake("journey-holiday-2", "2026-02-20 14:00").GetRequest().GetDueDate(),
		"day 10 is 2026-03-02, the 3·1절 substitute holiday")

	r := "/v1/" + chuseok.GetRequest().GetName()
	var req requestsv1.Request
	d.ok(t, http.MethodPost, r+":verifyIdentity", staff, obj{"verification": obj{"method": "VERIFICATION_METHOD_DRIVER_LICENSE"}}, &req)
	b := d.refused(t, http.StatusBadRequest, http.MethodPost, r+":refuse", staff, obj{"reason": obj{"text": "감사 진행 중"}})
	require.Contains(t, b, "GROUND_REQUIRED", "PIPA-35-4: a refusal names a ground of the request type's list")
	d.ok(t, http.MethodPost, r+":refuse", staff, obj{"etag": req.GetEtag(), "reason": obj{
		"grounds": []string{"GROUND_ACCESS_ONGOING_AUDIT"}, "text": "감사원 감사 진행 중(2025-감사-17)",
		"objectionMethod": "정읍시 정보공개 담당부서에 이의신청"}}, &req)
	require.Equal(t, requestsv1.RequestState_REQUEST_STATE_REFUSED, req.GetState())
	require.Len(t, req.GetNotices(), 1)

	var notice requestsv1.Notice
	d.ok(t, http.MethodGet, "/v1/"+req.GetNotices()[0], staff, nil, &notice)
	require.Equal(t, requestsv1.NoticeKind_NOTICE_KIND_REFUSAL, notice.GetKind())
	require.Equal(t, "별지 제9호", notice.GetForm())
	require.Equal(t, []requestsv1.Ground{requestsv1.Ground_GROUND_ACCESS_ONGOING_AUDIT}, notice.GetReason().GetGrounds())
	for _, s := range []string{"박민원 귀하", "진행 중인 감사 및 조사에 관한 업무 수행에 중대한 지장을 초래하는 경우", "감사원 감사 진행 중(2025-감사-17)"} {
		require.Contains(t, notice.GetHtml(), s)
	}
	var notices requestsv1.ListNoticesResponse
	d.ok(t, http.MethodGet, r+"/notices", staff, nil, &notices)
	require.Len(t, notices.GetNotices(), 1)

	// The refusal's entry follows the request's log entry and carries the ground (STD-44-5).
	require.Len(t, req.GetLedger(), 2)
	e := d.entry(t, d.token(t, auth.RoleAuditor, libraryUnit), req.GetLedger()[1].GetEntry())
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT, e.GetKind())
	require.Equal(t, req.GetLedger()[0].GetIndex(), e.GetFollows())
	require.Contains(t, e.GetRefusalReason(), "진행 중인 감사 및 조사")

	var st requestsv1.RequestStatus
	d.ok(t, http.MethodGet, "/v1/public/requests/"+chuseok.GetRequest().GetReceiptNumber()+"?secret="+url.QueryEscape(chuseok.GetStatusSecret()), "", nil, &st)
	require.Equal(t, requestsv1.RequestState_REQUEST_STATE_REFUSED, st.GetState())
	require.Equal(t, []requestsv1.NoticeKind{requestsv1.NoticeKind_NOTICE_KIND_REFUSAL}, st.GetNotices())
}

// Journey 5. An inspector audits the library's ledger with `pipa ledger verify` against the
// gateway, holding nothing but an auditor's token: the signed checkpoint, every entry's inclusion
// (STD-45, S-8-3). It passes, and the state it keeps remembers the checkpoint. Then an operator
// rewrites a row in PostgreSQL: the next run names that entry. Put back, the ledger verifies again.
func journeyLedgerVerify(t *testing.T, d *deployment) {
	auditor := d.token(t, auth.RoleAuditor, "tenants/jeongeup")
	var use ledgerv1.Entry
	d.ok(t, http.MethodPost, "/v1/"+libraryLog+"/ledger/entries?requestId=journey-use-1", d.token(t, auth.RoleHandler, libraryUnit), obj{
		"kind": "ENTRY_KIND_USE", "occurTime": rfc3339(time.Now().Add(-time.Hour)), "fileName": "중앙도서관 정문 CH01",
		"counterparty": "시설관리팀", "counterpartyOfficer": "주무관 이시설", "purpose": "출입문 고장 점검", "form": "현장 열람",
		"handler": "주무관 송승학", "legalBasis": "개인정보 보호법 제18조 제2항 제2호", "items": []string{"영상"}}, &use)

	ctx := context.Background()
	inspector := &verify.Client{BaseURL: d.ledgerURL, Token: auditor}
	statePath := filepath.Join(t.TempDir(), "ledger.state")
	rep, err := verify.Run(ctx, inspector, libraryLog, &verify.State{}, verify.Policy{})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%+v", rep)
	require.Greater(t, rep.TreeSize, use.GetIndex())
	// The command an inspector types, in-process.
	var out bytes.Buffer
	require.Equal(t, 0, run(ctx, []string{"ledger", "verify", "-url", d.ledgerURL, "-log", libraryLog, "-token", auditor, "-state", statePath}, &out, io.Discard), out.String())
	require.Contains(t, out.String(), "OK "+libraryLog+": ")
	st, err := verify.LoadState(statePath)
	require.NoError(t, err)
	require.GreaterOrEqual(t, st.TreeSize, rep.TreeSize, "the state keeps the checkpoint seen")
	require.NotEmpty(t, st.VerifierKey)

	// An operator rewrites the row in PostgreSQL; it is put back at the end.
	conn, err := pgx.Connect(ctx, d.dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var leaf []byte
	require.NoError(t, conn.QueryRow(ctx, `SELECT leaf FROM ledger.entries WHERE tenant_id = 'jeongeup' AND unit_id = 'library' AND idx = $1`,
		use.GetIndex()).Scan(&leaf))
	restore := func() {
		_, err := conn.Exec(ctx, `UPDATE ledger.entries SET leaf = $2 WHERE tenant_id = 'jeongeup' AND unit_id = 'library' AND idx = $1`,
			use.GetIndex(), leaf)
		require.NoError(t, err)
	}
	tag, err := conn.Exec(ctx, `UPDATE ledger.entries SET leaf = replace(convert_from(leaf, 'UTF8'), '출입문 고장 점검', '출입문 정기 점검')::bytea
		WHERE tenant_id = 'jeongeup' AND unit_id = 'library' AND idx = $1`, use.GetIndex())
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
	altered := true
	defer func() {
		if altered {
			restore()
		}
	}()

	// The tree is unchanged; the rows read again (-full) do not hash to it.
	rep, err = verify.Run(ctx, inspector, libraryLog, st, verify.Policy{Full: true})
	require.NoError(t, err)
	require.False(t, rep.OK(), "an altered row fails verification")
	require.Equal(t, use.GetIndex(), rep.FirstBad, "verify names the altered entry: %s", rep.Problem)

	restore()
	altered = false
	rep, err = verify.Run(ctx, inspector, libraryLog, st, verify.Policy{Full: true})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%+v", rep)
}
