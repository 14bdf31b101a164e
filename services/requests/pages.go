package requests

import (
	"context"
	"crypto/rand"
	_ "embed"
	"errors"
	"html/template"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/requests/request"
)

// The public request pages: the 별지 제8호 / 제2호 request form beside each unit's policy pages,
// the receipt it answers with, and the status page. Plain HTML forms in Korean, no JavaScript,
// no external assets; they call the service's public methods over gRPC, as any client would.

//go:embed pages.html
var pagesHTML string

var pageTemplates = template.Must(template.New("pages").Funcs(template.FuncMap{
	"css": func() template.CSS { return pageCSS },
}).Parse(pagesHTML))

const (
	maxFormBytes = 64 << 10
	callTimeout  = 10 * time.Second
	// contentPolicy: nothing but the page and its inline style; the forms post back here.
	contentPolicy = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	// notFoundStatus is the one answer for an unknown receipt and a wrong secret alike.
	notFoundStatus = "접수번호 또는 확인번호가 올바르지 않습니다."
)

// Pages serves the public request pages over client:
//
//	GET  /p/{tenant}/{unit}/requests/new  the request form (별지 제8호, and 별지 제2호 for CCTV)
//	POST /p/{tenant}/{unit}/requests      submits it; answers with the receipt, or the form and its errors
//	GET  /p/requests/status               the status form
//	POST /p/requests/status               the status of a request, given its receipt number and secret
//
// With registry and token (the service credential) the form names the unit and offers its CCTV
// sites to choose from; without them (a lone gateway holds no credential) it asks for the site's id.
func Pages(client requestsv1.RequestServiceClient, registry registryv1.RegistryServiceClient, token func() (string, error)) map[string]http.Handler {
	p := &pages{client: client, registry: registry, token: token}
	return map[string]http.Handler{
		"GET /p/{tenant}/{unit}/requests/new": http.HandlerFunc(p.form),
		// A reload of a re-rendered form lands here.
		"GET /p/{tenant}/{unit}/requests": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.Path+"/new", http.StatusSeeOther)
		}),
		"POST /p/{tenant}/{unit}/requests": http.HandlerFunc(p.submit),
		"GET /p/requests/status":           http.HandlerFunc(p.statusForm),
		"POST /p/requests/status":          http.HandlerFunc(p.status),
	}
}

type pages struct {
	client   requestsv1.RequestServiceClient
	registry registryv1.RegistryServiceClient
	token    func() (string, error)
}

// formPage is the request form, empty or as the requester filled it.
type formPage struct {
	Tenant, Unit string
	UnitName     string
	// Sites to choose from; when there are none (or they are unknown) the form asks for the site's id.
	Sites  []siteChoice
	Values url.Values
	Errors map[string][]fieldError
	// Summary lists every error at the top of the form, linking to its field.
	Summary       []summaryLine
	Types         []choice
	AccessItems   []choice
	Scopes        []choice
	NoticeMethods []choice
}

// siteChoice is a place a camera can be: a site and one of its published locations (설치위치).
type siteChoice struct{ ID, Name, Location string }

// Value is the option's value: the site's id and the location, as footageFrom reads them.
func (c siteChoice) Value() string { return c.ID + "|" + c.Location }

type choice struct{ Value, Label string }

type fieldError struct{ Korean, English, Rule string }

type summaryLine struct {
	Anchor, Label string
	fieldError
}

func (f *formPage) Title() string {
	return strings.TrimSpace(f.UnitName + " 개인정보 열람 등 요구서")
}

// input is a field or a group of fields as the form template draws it.
type input struct {
	ID, Type, Label, Hint, Value, Autocomplete string
	Required                                   bool
	Errors                                     []fieldError
}

// In is the field or group id, with its label, hint, the value typed and its errors.
func (f *formPage) In(id, typ, autocomplete string, required bool) input {
	in := input{ID: id, Type: typ, Label: fieldLabels[id], Hint: fieldHints[id], Value: f.Values.Get(id),
		Autocomplete: autocomplete, Required: required, Errors: f.Errors[id]}
	if id == "footage_site" && len(f.Sites) == 0 {
		in.Hint = "설치 장소의 식별자를 적어 주십시오 (예: central)."
	}
	if id == "footage_site" && len(f.Sites) > 0 {
		in.Errors = append(slices.Clone(in.Errors), f.Errors["footage_site_location"]...)
	}
	return in
}

// Checked: the box of value was ticked in the group name.
func (f *formPage) Checked(name, value string) bool { return slices.Contains(f.Values[name], value) }

// formFields are the form's fields and groups, in the form's order, with their labels (on the
// form and in the error summary).
var formFields = []choice{
	{"type", "요구 유형"},
	{"requester", "청구인"},
	{"requester_name", "성명"},
	{"requester_phone", "전화번호"},
	{"requester_birth_date", "생년월일"},
	{"requester_address", "주소"},
	{"requester_email", "전자우편"},
	{"notice_method", "통지 받을 방법"},
	{"notice_by_text", "통지서가 발급되면 문자메시지로 알려 주십시오"},
	{"subject", "정보주체"},
	{"subject_name", "성명"},
	{"subject_phone", "전화번호"},
	{"subject_birth_date", "생년월일"},
	{"subject_address", "주소"},
	{"agency", "대리인"},
	{"agency_kind", "대리인 구분"},
	{"agency_relationship", "정보주체와의 관계"},
	{"subject_under_14", "정보주체가 만 14세 미만 아동입니다"},
	{"agency_scope", "위임 범위"},
	{"agency_granted_date", "위임일"},
	{"agency_business_number", "사업자등록번호 (위임을 받은 자가 법인·단체인 경우)"},
	{"access_items", "열람할 사항"},
	{"details", "요구 내용"},
	{"footage", "영상정보 청구 내용"},
	{"footage_site", "CCTV 설치 장소"},
	{"footage_site_location", "설치 위치"},
	{"footage_start_time", "촬영기간 시작"},
	{"footage_end_time", "촬영기간 끝"},
	{"footage_camera_location", "카메라 위치"},
	{"footage_requester_appears", "청구하는 영상에 본인이 촬영되어 있습니다"},
	{"purpose", "청구 목적 및 사유"},
}

var fieldLabels = map[string]string{}

var fieldHints = map[string]string{
	"requester":               "통지를 받을 전화번호, 전자우편, 주소 가운데 하나 이상을 적어 주십시오.",
	"subject":                 "본인의 개인정보에 관한 요구이면 비워 두십시오.",
	"notice_method":           "고르지 않으면 전자우편 주소를 적은 경우 전자우편으로, 아니면 방문하여 받습니다. 통지서는 처리 상태 확인에서도 볼 수 있습니다.",
	"agency":                  "대리 권한은 본인 확인 때 확인합니다: 법정대리인은 가족관계증명서 등으로, 위임을 받은 자는 위임장(별지 제11호)과 위임인의 신분증 사본으로. 만 14세 미만 아동에 관한 요구는 법정대리인만 할 수 있습니다.",
	"agency_relationship":     "예: 부, 모, 배우자",
	"agency_scope":            "위임장에 표시된 위임 범위를 모두 고르십시오. 이 요구가 들어 있어야 합니다.",
	"agency_granted_date":     "위임장에 적힌 날짜",
	"details":                 "정정·삭제할 내용, 처리정지를 원하는 개인정보 처리, 거부하거나 설명을 원하는 자동화된 결정을 적어 주십시오. 열람 외의 요구에는 꼭 적어야 합니다.",
	"footage":                 "본인이 촬영된 영상에 대해서만 청구할 수 있습니다 (표준 개인정보 보호지침 제44조제1항).",
	"footage_start_time":      "한국 시간으로 적습니다. 한 번에 7일 이내의 영상만 청구할 수 있습니다.",
	"footage_camera_location": "예: 정문 주차장 출입구",
	"purpose":                 "개인영상정보(CCTV) 청구에는 꼭 적어야 합니다.",
}

var (
	typeChoices []choice
	// DEC-41-1, in 별지 제8호's order.
	accessItemChoices = []choice{
		{"CONTENT", "개인정보의 항목 및 내용"},
		{"PURPOSE", "개인정보의 수집·이용의 목적"},
		{"RETENTION", "개인정보 보유 및 이용 기간"},
		{"PROVISION_HISTORY", "개인정보의 제3자 제공 현황"},
		{"CONSENT", "개인정보 처리에 동의한 사실 및 내용"},
	}
	// How notices reach the requester (PIPA-38-4).
	noticeMethodChoices = []choice{{"EMAIL", "전자우편"}, {"MAIL", "우편"}, {"VISIT", "방문 수령"}}
	// The 별지 제11호 scope boxes that a request type of this service can need (rule.proxy).
	scopeChoices = []choice{
		{"ACCESS", "열람"},
		{"CORRECTION", "정정·삭제"},
		{"SUSPENSION", "처리정지 및 동의 철회"},
		{"AUTOMATED_DECISION", "자동화된 결정 거부·설명"},
	}
)

func init() {
	for _, f := range formFields {
		fieldLabels[f.Value] = f.Label
	}
	for _, t := range request.Types() {
		if request.Days(t) == 0 {
			continue // another body's request is taken by staff (CreateProvision), not on this form
		}
		typeChoices = append(typeChoices, choice{strings.TrimPrefix(t.String(), "REQUEST_TYPE_"),
			request.Label(t) + " (처리기간 " + strconv.Itoa(request.Days(t)) + "일 이내)"})
	}
}

func (p *pages) form(w http.ResponseWriter, r *http.Request) {
	t, u, ok := unitOf(w, r)
	if !ok {
		return
	}
	page, err := p.unitForm(r.Context(), t, u, url.Values{"request_id": {rand.Text()}})
	if err != nil {
		fail(w, err)
		return
	}
	render(w, http.StatusOK, "form", page)
}

func (p *pages) submit(w http.ResponseWriter, r *http.Request) {
	t, u, ok := unitOf(w, r)
	if !ok {
		return
	}
	values, ok := parseForm(w, r)
	if !ok {
		return
	}
	req, errs := requestFrom(values, t, u)
	var resp *requestsv1.SubmitRequestResponse
	var err error
	if len(errs) == 0 {
		ctx, cancel := context.WithTimeout(forwarded(r), callTimeout)
		defer cancel()
		resp, err = p.client.SubmitRequest(ctx, &requestsv1.SubmitRequestRequest{Tenant: t, Unit: u,
			Request: req, RequestId: values.Get("request_id")})
		if status.Code(err) == codes.InvalidArgument {
			errs = violations(err)
		} else if err != nil {
			fail(w, err)
			return
		}
	}
	if len(errs) > 0 {
		if _, reused := errs["request_id"]; reused {
			// AIP-155: this id went with another request already; a new submission is a new request.
			values.Set("request_id", rand.Text())
		}
		page, err := p.unitForm(r.Context(), t, u, values)
		if err != nil {
			fail(w, err)
			return
		}
		page.Errors = errs
		page.Summary = summary(errs)
		render(w, http.StatusBadRequest, "form", page)
		return
	}
	render(w, http.StatusOK, "receipt", receiptPage{Unit: p.unitName(r.Context(), t, u), Receipt: resp.GetReceiptNumber(), Secret: resp.GetStatusSecret(),
		Type: request.Label(req.GetType()), Received: request.TimeText(resp.GetReceiveTime()), Due: resp.GetDueDate(),
		DueText: dateText(resp.GetDueDate()), StatusURL: "/p/requests/status?receipt=" + url.QueryEscape(resp.GetReceiptNumber())})
}

// asService is ctx with the service credential and a deadline, for asking the registry; false
// where there is no registry or credential (a lone gateway), and the pages do without.
func (p *pages) asService(ctx context.Context) (context.Context, context.CancelFunc, bool) {
	if p.registry == nil || p.token == nil {
		return nil, nil, false
	}
	tok, err := p.token()
	if err != nil {
		slog.Warn("request pages: no service credential, the registry is not asked", "err", err)
		return nil, nil, false
	}
	ctx, cancel := context.WithTimeout(unitauth.WithToken(ctx, tok), callTimeout)
	return ctx, cancel, true
}

// unitName is unit t/u's full name ("익산시 교통행정과"), for the receipt; "" when the registry
// cannot be asked.
func (p *pages) unitName(ctx context.Context, t, u string) string {
	ctx, cancel, ok := p.asService(ctx)
	if !ok {
		return ""
	}
	defer cancel()
	unit, err := p.registry.GetUnit(ctx, &registryv1.GetUnitRequest{Name: names.Unit(t, u)})
	if err != nil {
		slog.Warn("request receipt: the registry did not name the unit", "unit", names.Unit(t, u), "err", err)
		return ""
	}
	return unit.GetFullName()
}

// unitForm is the form for unit t/u holding values, named and with its sites where the registry
// can be asked.
func (p *pages) unitForm(ctx context.Context, t, u string, values url.Values) (*formPage, error) {
	page := &formPage{Tenant: t, Unit: u, Values: values, Types: typeChoices, AccessItems: accessItemChoices,
		Scopes: scopeChoices, NoticeMethods: noticeMethodChoices}
	ctx, cancel, ok := p.asService(ctx)
	if !ok {
		return page, nil
	}
	defer cancel()
	parent := names.Unit(t, u)
	unit, err := p.registry.GetUnit(ctx, &registryv1.GetUnitRequest{Name: parent})
	if status.Code(err) == codes.NotFound {
		return nil, err
	}
	if err != nil {
		slog.Warn("request form: the registry did not answer, the site is asked by id", "unit", parent, "err", err)
		return page, nil
	}
	page.UnitName = unit.GetFullName()
	var sites []siteChoice
	for token := ""; ; {
		list, err := p.registry.ListSites(ctx, &registryv1.ListSitesRequest{Parent: parent, PageSize: 200, PageToken: token})
		if err != nil {
			slog.Warn("request form: listing sites failed, the site is asked by id", "unit", parent, "err", err)
			return page, nil
		}
		for _, s := range list.GetSites() {
			id := names.Last(s.GetName())
			for _, loc := range s.GetLocations() {
				sites = append(sites, siteChoice{ID: id, Name: s.GetDisplayName(), Location: loc})
			}
			if len(s.GetLocations()) == 0 {
				sites = append(sites, siteChoice{ID: id, Name: s.GetDisplayName()})
			}
		}
		if token = list.GetNextPageToken(); token == "" {
			break
		}
	}
	page.Sites = sites
	return page, nil
}

// requestFrom reads the form into a request. Its errors are the fields it could not read (the
// recording period's times); the service checks the rest.
func requestFrom(f url.Values, tenant, unit string) (*requestsv1.Request, map[string][]fieldError) {
	get := func(k string) string { return strings.TrimSpace(f.Get(k)) }
	person := func(prefix string) *requestsv1.Person {
		p := &requestsv1.Person{Name: get(prefix + "_name"), Phone: get(prefix + "_phone"),
			BirthDate: get(prefix + "_birth_date"), Address: get(prefix + "_address"), Email: get(prefix + "_email")}
		if p.Name == "" && p.Phone == "" && p.BirthDate == "" && p.Address == "" && p.Email == "" {
			return nil
		}
		return p
	}
	typ := requestsv1.RequestType(requestsv1.RequestType_value["REQUEST_TYPE_"+get("type")])
	r := &requestsv1.Request{Type: typ, Requester: person("requester"), Subject: person("subject"),
		SubjectUnder_14: f.Get("subject_under_14") != "", Details: get("details"), Purpose: get("purpose"),
		NoticeByText: f.Get("notice_by_text") != ""}
	if m := get("notice_method"); m != "" {
		r.NoticeMethod = requestsv1.DeliveryMethod(requestsv1.DeliveryMethod_value["DELIVERY_METHOD_"+m])
		if r.NoticeMethod == 0 {
			r.NoticeMethod = -1 // not a method: the service says so
		}
	}
	for _, v := range f["access_items"] {
		r.AccessItems = append(r.AccessItems, requestsv1.AccessItem(requestsv1.AccessItem_value["ACCESS_ITEM_"+v]))
	}
	if kind := get("agency_kind"); kind != "" || get("agency_relationship") != "" || len(f["agency_scope"]) > 0 ||
		get("agency_granted_date") != "" || get("agency_business_number") != "" {
		r.Agency = &requestsv1.Agency{Kind: requestsv1.AgentKind(requestsv1.AgentKind_value["AGENT_KIND_"+kind]),
			Relationship: get("agency_relationship"), GrantedDate: get("agency_granted_date"),
			BusinessNumber: get("agency_business_number")}
		for _, v := range f["agency_scope"] {
			r.Agency.Scope = append(r.Agency.Scope, requestsv1.RequestType(requestsv1.RequestType_value["REQUEST_TYPE_"+v]))
		}
	}
	errs := map[string][]fieldError{}
	site, start, end, where := get("footage_site"), get("footage_start_time"), get("footage_end_time"), get("footage_camera_location")
	if request.IsCCTV(typ) || site != "" || start != "" || end != "" || where != "" {
		ft := &requestsv1.Footage{CameraLocation: where, RequesterAppears: f.Get("footage_requester_appears") != "",
			SiteLocation: get("footage_site_location")}
		if id, loc, chosen := strings.Cut(site, "|"); chosen { // a site and location from the list
			site, ft.SiteLocation = id, loc
		}
		if site != "" {
			ft.Site = names.Sites.Name(tenant, unit, site)
		}
		for key, v := range map[string]string{"footage_start_time": start, "footage_end_time": end} {
			if v == "" {
				continue
			}
			at, err := parseLocal(v)
			if err != nil {
				errs[key] = append(errs[key], fieldError{Korean: "날짜와 시각을 2026-01-31 18:30 처럼 적어 주십시오.",
					English: "must be a date and time, YYYY-MM-DDTHH:MM"})
				continue
			}
			if key == "footage_start_time" {
				ft.StartTime = at
			} else {
				ft.EndTime = at
			}
		}
		r.Footage = ft
	}
	return r, errs
}

// parseLocal reads a datetime-local value (or the same typed with a space) as Seoul time.
func parseLocal(v string) (*timestamppb.Timestamp, error) {
	v = strings.Replace(v, " ", "T", 1)
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, seoul.Location); err == nil {
			return timestamppb.New(t), nil
		}
	}
	return nil, errors.New("not a local date and time")
}

// violations are the field violations of an InvalidArgument error, by form field: the path
// "request.requester.name" is the field requester_name, "request.footage" the CCTV group.
func violations(err error) map[string][]fieldError {
	errs := map[string][]fieldError{}
	st := status.Convert(err)
	for _, d := range st.Details() {
		br, ok := d.(*errdetails.BadRequest)
		if !ok {
			continue
		}
		for _, v := range br.GetFieldViolations() {
			key := strings.ReplaceAll(strings.TrimPrefix(v.GetField(), "request."), ".", "_")
			errs[key] = append(errs[key], explain(key, v.GetReason(), v.GetDescription()))
		}
	}
	if len(errs) == 0 {
		errs[""] = []fieldError{{Korean: "요구서를 접수하지 못했습니다.", English: st.Message()}}
	}
	return errs
}

// lawRule matches the LAW.md rule ids worth showing to the requester.
var lawRule = regexp.MustCompile(`^(PIPA|DEC|STD|C)-[0-9]`)

// explain is a violation in Korean: by field and rule where one rule says several things, else
// by rule, beside the service's own words.
func explain(key, rule, description string) fieldError {
	k, ok := ruleKorean[key+" "+rule]
	if !ok {
		k, ok = ruleKorean[rule]
	}
	if !ok {
		k = "입력 내용을 확인해 주십시오."
	}
	e := fieldError{Korean: k, English: description}
	if lawRule.MatchString(rule) {
		e.Rule = rule
	}
	return e
}

var ruleKorean = map[string]string{
	"notice_method PIPA-38-4":     "통지 받을 방법은 전자우편, 우편, 방문 수령 가운데 하나를 고르십시오.",
	"requester_email PIPA-38-4":   "전자우편으로 통지를 받으려면 전자우편 주소를 적어 주십시오.",
	"requester_address PIPA-38-4": "우편으로 통지를 받으려면 주소를 적어 주십시오.",
	"requester_phone PIPA-38-4":   "문자메시지로 알림을 받으려면 전화번호를 적어 주십시오.",
	"required":                    "반드시 적어야 합니다.",
	"format":                      "형식이 올바르지 않습니다.",
	"range":                       "적을 수 있는 범위를 벗어났습니다.",
	"PIPA-35-3":                   "통지를 받을 전화번호, 전자우편 또는 주소 가운데 하나 이상을 적어 주십시오.",
	"PIPA-38-1":                   "다른 사람을 대신하여 요구할 때에는 정보주체와 대리인 구분(법정대리인 또는 위임을 받은 자)을 함께 적어 주십시오.",
	"PIPA-38-2":                   "만 14세 미만 아동에 관한 요구는 그 법정대리인이 하여야 합니다.",
	"DEC-45":                      "위임장(별지 제11호)의 위임 범위에 이 요구가 들어 있어야 하고, 위임일을 적어야 합니다.",
	"DEC-41-1":                    "열람할 사항을 하나 이상 고르십시오. 열람할 사항은 개인정보 열람 요구에서만 고를 수 있습니다.",
	"STD-44-1":                    "본인이 촬영된 영상에 대해서만 청구할 수 있습니다. 다른 사람이 촬영된 영상은 제3자 제공 절차에 따릅니다.",
	"footage STD-44-1":            "영상정보 청구 내용은 개인영상정보(CCTV) 열람·존재확인·삭제 청구에만 적습니다. 요구 유형을 확인해 주십시오.",
	"STD-44-2":                    "CCTV 설치 장소, 촬영기간, 카메라 위치를 적어 주십시오. 설치 장소는 이 기관의 것이어야 합니다.",
	"C-12-Q2":                     "한 번에 7일 이내의 영상만 청구할 수 있습니다. 필요한 부분만 적어 주십시오.",
	"PIPA-58-2":                   "공개된 장소에 설치된 고정형 CCTV에는 처리정지를 요구할 수 없습니다. 열람, 존재확인 또는 삭제를 청구해 주십시오.",
	"footage_end_time range":      "촬영기간의 끝은 시작보다 뒤여야 합니다.",
	"request_id AIP-155":          "이 요구서는 다른 내용으로 이미 제출되었습니다. 내용을 확인하고 다시 제출하면 새 요구로 접수됩니다.",
}

// summary lists errs in the form's order, each linked to its field.
func summary(errs map[string][]fieldError) []summaryLine {
	var lines []summaryLine
	add := func(key string) {
		for _, e := range errs[key] {
			label, anchor := fieldLabels[key], key
			switch {
			case label == "":
				label, anchor = "요구서", "form"
			case strings.HasPrefix(key, "requester_"):
				label = "청구인 " + label
			case strings.HasPrefix(key, "subject_") && key != "subject_under_14":
				label = "정보주체 " + label
			}
			lines = append(lines, summaryLine{Anchor: anchor, Label: label, fieldError: e})
		}
	}
	for _, f := range formFields {
		add(f.Value)
	}
	for _, key := range slices.Sorted(maps.Keys(errs)) {
		if fieldLabels[key] == "" {
			add(key)
		}
	}
	return lines
}

type receiptPage struct {
	// Unit is the full name of the unit the request went to.
	Unit                                                     string
	Receipt, Secret, Type, Received, Due, DueText, StatusURL string
}

// Title names the unit the request went to, when known.
func (r receiptPage) Title() string { return strings.TrimSpace(r.Unit + " 요구서 접수 완료") }

type statusPage struct {
	Receipt string
	// Error replaces the result when the lookup failed.
	Error  string
	Result *statusResult
}

// Title names the unit that handles the request, once it is found.
func (s statusPage) Title() string {
	if s.Result != nil && s.Result.Unit != "" {
		return s.Result.Unit + " 요구 처리 상태"
	}
	return "요구 처리 상태 확인"
}

type statusResult struct {
	Receipt, Unit, Type, State, StateText, Received, Due, DueText string
	Notices                                                       []statusNotice
}

// statusNotice is a notice issued to the requester: what it is, when, and how it was sent.
type statusNotice struct {
	Label, Issued, Sent string
}

func (p *pages) statusForm(w http.ResponseWriter, r *http.Request) {
	render(w, http.StatusOK, "status", statusPage{Receipt: r.URL.Query().Get("receipt")})
}

// status looks a request up by POST, so that its secret stays out of URLs, logs and history.
func (p *pages) status(w http.ResponseWriter, r *http.Request) {
	values, ok := parseForm(w, r)
	if !ok {
		return
	}
	page := statusPage{Receipt: strings.ToUpper(strings.TrimSpace(values.Get("receipt")))}
	secret := strings.TrimSpace(values.Get("secret"))
	if page.Receipt == "" || secret == "" {
		page.Error = "접수번호와 확인번호를 모두 적어 주십시오."
		render(w, http.StatusBadRequest, "status", page)
		return
	}
	ctx, cancel := context.WithTimeout(forwarded(r), callTimeout)
	defer cancel()
	st, err := p.client.GetRequestStatus(ctx, &requestsv1.GetRequestStatusRequest{Receipt: page.Receipt, Secret: secret})
	switch status.Code(err) {
	case codes.OK:
	case codes.NotFound, codes.InvalidArgument:
		page.Error = notFoundStatus
		render(w, http.StatusNotFound, "status", page)
		return
	default:
		fail(w, err)
		return
	}
	state := stateLabels[st.GetState()]
	res := &statusResult{Receipt: st.GetReceiptNumber(), Unit: st.GetUnitDisplayName(), Type: request.Label(st.GetType()),
		State: state.Name, StateText: state.Meaning, Received: request.TimeText(st.GetReceiveTime()), Due: st.GetDueDate(),
		DueText: dateText(st.GetDueDate())}
	for _, n := range st.GetIssuedNotices() {
		res.Notices = append(res.Notices, statusNotice{Label: noticeLabels[n.GetKind()], Issued: request.TimeText(n.GetIssueTime()),
			Sent: mailLabels[n.GetMailState()]})
	}
	page.Result = res
	render(w, http.StatusOK, "status", page)
}

// stateLabels name each state and say what it means to the requester.
var stateLabels = map[requestsv1.RequestState]struct{ Name, Meaning string }{
	requestsv1.RequestState_REQUEST_STATE_RECEIVED:  {"접수", "요구서가 접수되었습니다. 담당자가 본인 여부(대리인은 대리 권한)를 확인한 뒤 처리합니다."},
	requestsv1.RequestState_REQUEST_STATE_VERIFIED:  {"본인 확인 완료", "본인 확인을 마치고 요구를 검토하고 있습니다."},
	requestsv1.RequestState_REQUEST_STATE_DEFERRED:  {"연기", "정당한 사유로 처리가 연기되었습니다. 연기 사유와 이의제기 방법은 통지서에 적혀 있습니다."},
	requestsv1.RequestState_REQUEST_STATE_APPROVED:  {"승인", "요구가 받아들여졌습니다. 통지서에 적힌 일시와 방법에 따라 이행합니다."},
	requestsv1.RequestState_REQUEST_STATE_REFUSED:   {"거절", "요구가 거절되었습니다. 사유와 이의제기 방법은 통지서에 적혀 있습니다."},
	requestsv1.RequestState_REQUEST_STATE_FULFILLED: {"이행 완료", "받아들여진 요구를 이행하였습니다."},
	requestsv1.RequestState_REQUEST_STATE_WITHDRAWN: {"취하", "요구가 취하되었습니다."},
	requestsv1.RequestState_REQUEST_STATE_CLOSED:    {"종결", "처리가 끝났습니다."},
}

// mailLabels say how a notice reached the requester.
var mailLabels = map[requestsv1.DeliveryState]string{
	requestsv1.DeliveryState_DELIVERY_STATE_UNSPECIFIED: "직접 교부 또는 우편 발송",
	requestsv1.DeliveryState_DELIVERY_STATE_PENDING:     "전자우편 발송 중",
	requestsv1.DeliveryState_DELIVERY_STATE_DELIVERED:   "전자우편 발송 완료",
	requestsv1.DeliveryState_DELIVERY_STATE_FAILED:      "전자우편 발송 실패 (담당 부서에 문의해 주십시오)",
}

var noticeLabels = map[requestsv1.NoticeKind]string{
	requestsv1.NoticeKind_NOTICE_KIND_APPROVAL: "승인 통지 (열람·결과 통지)",
	requestsv1.NoticeKind_NOTICE_KIND_PARTIAL:  "일부 승인 통지 (일부열람)",
	requestsv1.NoticeKind_NOTICE_KIND_DEFERRAL: "연기 통지",
	requestsv1.NoticeKind_NOTICE_KIND_REFUSAL:  "거절 통지",
}

// unitOf is the page's tenant and unit; it answers 404 itself when they cannot be ids.
func unitOf(w http.ResponseWriter, r *http.Request) (t, u string, ok bool) {
	t, u = r.PathValue("tenant"), r.PathValue("unit")
	if !names.ValidID(t) || !names.ValidID(u) {
		fail(w, status.Error(codes.NotFound, "no such unit"))
		return "", "", false
	}
	return t, u, true
}

func parseForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		code := http.StatusBadRequest
		if tooLarge := new(http.MaxBytesError); errors.As(err, &tooLarge) {
			code = http.StatusRequestEntityTooLarge
		}
		errorPage(w, code, "요구서를 읽을 수 없습니다. 양식에서 다시 제출해 주십시오.")
		return nil, false
	}
	return r.PostForm, true
}

// forwarded is r's context with the client's address chain on outgoing calls, for the service's
// rate limiter.
func forwarded(r *http.Request) context.Context {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if prior := r.Header.Get("X-Forwarded-For"); prior != "" {
		host = prior + ", " + host
	}
	return metadata.AppendToOutgoingContext(r.Context(), "x-forwarded-for", host)
}

func render(w http.ResponseWriter, code int, name string, data any) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// The form carries a fresh request_id, the receipt a secret: no copy may be kept or shared.
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", contentPolicy)
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(code)
	if err := pageTemplates.ExecuteTemplate(w, name, data); err != nil {
		slog.Error("request page", "page", name, "err", err)
	}
}

func errorPage(w http.ResponseWriter, code int, message string) {
	render(w, code, "error", message)
}

// fail answers a failed call with a short page and the status code its error calls for.
func fail(w http.ResponseWriter, err error) {
	switch status.Code(err) {
	case codes.NotFound:
		errorPage(w, http.StatusNotFound, "요구를 받을 기관을 찾을 수 없습니다. 주소를 확인해 주십시오.")
	case codes.ResourceExhausted:
		w.Header().Set("Retry-After", "1")
		errorPage(w, http.StatusTooManyRequests, "요청이 너무 많습니다. 잠시 후 다시 시도해 주십시오.")
	case codes.Unavailable, codes.DeadlineExceeded:
		errorPage(w, http.StatusServiceUnavailable, "지금은 요구서를 처리할 수 없습니다. 잠시 후 다시 시도해 주십시오.")
	case codes.FailedPrecondition, codes.Aborted, codes.AlreadyExists:
		errorPage(w, http.StatusConflict, "요구서를 처리하지 못했습니다. 양식에서 다시 제출해 주십시오.")
	default:
		slog.Error("request page: call failed", "err", err)
		errorPage(w, http.StatusInternalServerError, "요구서를 처리하는 중 오류가 발생했습니다. 잠시 후 다시 시도해 주십시오.")
	}
}

// dateText is a YYYY-MM-DD date as Korean reads it.
func dateText(d string) string {
	t, err := time.Parse(time.DateOnly, d)
	if err != nil {
		return d
	}
	return t.Format("2006년 1월 2일")
}

const pageCSS template.CSS = `body{font-family:system-ui,"Apple SD Gothic Neo","Malgun Gothic",sans-serif;line-height:1.6;margin:0;padding:1rem;color:#1a1a1a;background:#fff}
main{max-width:46rem;margin:0 auto}
fieldset{border:1px solid #767676;margin:0 0 1.25rem;padding:.75rem 1rem}
legend{font-weight:700;padding:0 .25rem}
label{display:block;font-weight:600;margin-top:.6rem}
.opt{margin:.2rem 0}
.opt label{display:inline;font-weight:400;margin:0 0 0 .3rem}
input[type=text],input[type=tel],input[type=email],input[type=date],input[type=datetime-local],select,textarea{display:block;width:100%;max-width:32rem;padding:.4rem;font:inherit;border:1px solid #555;box-sizing:border-box}
textarea{min-height:6rem}
.hint{color:#444;margin:.2rem 0}
.error{color:#b00020;font-weight:600;margin:.2rem 0}
[aria-invalid=true]{border:2px solid #b00020}
.summary{border:3px solid #b00020;padding:.5rem 1rem;margin:1rem 0}
.notice{border:3px solid #0b5394;padding:.5rem 1rem;margin:1rem 0;background:#eef4fb}
.code{font-size:1.5rem;font-family:ui-monospace,monospace;letter-spacing:.1em}
dt{font-weight:700}
dd{margin:0 0 .5rem}
:focus{outline:3px solid #f9a825;outline-offset:2px}
button{font:inherit;padding:.6rem 1.2rem;margin-top:.5rem}
.req{color:#b00020;font-weight:400}
pre.notice{white-space:pre-wrap;font-family:inherit}`
