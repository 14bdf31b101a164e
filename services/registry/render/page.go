package render

import (
	"cmp"
	"fmt"
	"html/template"
	"strings"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/services/registry/policy"
)

// The public pages around the frozen documents: a policy page, a body's index, a unit's page and
// the error page. They add navigation and the registry's facts about the versions (periods,
// hashes, the comparison table) to what the body published; they state nothing on its behalf.

// PolicyPage is what a policy page shows.
type PolicyPage struct {
	TenantID, TenantName string
	UnitID, FullName     string
	Kind                 registryv1.PolicyKind
	// Version is the version shown (its document, dates, standing).
	Version *registryv1.PolicyVersion
	// Current: the page of the policy (/p/{t}/{u}/{kind}), not of a numbered version.
	Current bool
	// Draft: a staff preview of a draft, whose document is rendered, not frozen.
	Draft   bool
	History []*registryv1.PolicyHistoryEntry
	// LastChange is the comparison that made the shown version, and Previous the version before.
	LastChange []*registryv1.ComparisonRow
	Previous   *registryv1.PolicyHistoryEntry
}

func (p PolicyPage) title() string {
	return cmp.Or(strings.TrimSpace(p.Version.GetTitle()), policy.DefaultTitle(p.Kind))
}

func (p PolicyPage) policyURL() string {
	return fmt.Sprintf("/p/%s/%s/%s", p.TenantID, p.UnitID, policy.Segment(p.Kind))
}

func (p PolicyPage) status() string {
	v := p.Version
	switch {
	case p.Draft:
		return "초안 (미공개) — 공고되지 않은 미리보기입니다"
	case v.GetStanding() == registryv1.PolicyStanding_POLICY_STANDING_UPCOMING:
		return "시행 예정 — " + Date(v.GetEffectiveDate()) + "부터 시행"
	case v.GetStanding() == registryv1.PolicyStanding_POLICY_STANDING_IN_FORCE:
		return "현행 — " + cmp.Or(Period(v.GetEffectiveDate(), v.GetEndDate()), "적용기간 미상")
	}
	return "이전 방침 — 적용기간 " + cmp.Or(Period(v.GetEffectiveDate(), v.GetEndDate()), "미상")
}

var standingLabel = map[registryv1.PolicyStanding]string{
	registryv1.PolicyStanding_POLICY_STANDING_UPCOMING: "시행 예정",
	registryv1.PolicyStanding_POLICY_STANDING_IN_FORCE: "현행",
	registryv1.PolicyStanding_POLICY_STANDING_PAST:     "이전",
}

type historyRow struct {
	Number         int32
	Label, Period  string
	Announced      string
	Summary        string
	URL, Shown     string
	HasDocument    bool
	DocumentSHA256 string
}

type changeRow struct {
	Article, Before, After string
}

// Policy renders a policy page. The version's frozen document is embedded byte for byte.
func Policy(p PolicyPage) string {
	v := p.Version
	data := map[string]any{
		"Title":      p.title() + " | " + p.FullName,
		"TenantID":   p.TenantID,
		"TenantName": p.TenantName,
		"UnitURL":    "/p/" + p.TenantID + "/" + p.UnitID,
		"FullName":   p.FullName,
		"Status":     p.status(),
		"Draft":      p.Draft,
		"Current":    p.Current,
		"PolicyURL":  p.policyURL(),
		"Number":     v.GetNumber(),
		"FormURL":    "/p/" + p.TenantID + "/" + p.UnitID + "/requests/new",
		"OriginalURL": func() string {
			if u := v.GetOriginalUrl(); strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
				return u
			}
			return ""
		}(),
	}
	if d := v.GetDocument(); d != nil {
		data["Document"] = template.HTML(d.GetHtml()) //nolint:gosec // rendered and escaped by Freeze, frozen as published
		data["SHA256"] = d.GetHtmlSha256()
		data["TextSHA256"] = d.GetTextSha256()
		data["Ledger"] = d.GetLedgerEntry()
		base := fmt.Sprintf("%s/versions/%d/document", p.policyURL(), v.GetNumber())
		data["DocURL"], data["TextURL"] = base+".html", base+".txt"
	} else {
		data["NoText"] = true
		data["Heading"] = p.FullName + " " + p.title()
	}
	var hist []historyRow
	for _, h := range p.History {
		hist = append(hist, historyRow{
			Number: h.GetNumber(), Label: standingLabel[h.GetStanding()],
			Period:    cmp.Or(h.GetPeriod(), Period(h.GetEffectiveDate(), h.GetEndDate()), "미상"),
			Announced: Date(h.GetAnnounceDate()), Summary: h.GetChangeSummary(),
			URL: h.GetUrl(), Shown: map[bool]string{true: "이 페이지"}[h.GetNumber() == v.GetNumber() && !p.Current],
			HasDocument: h.GetHasDocument(), DocumentSHA256: h.GetDocumentSha256(),
		})
		if h.GetMajorChange() {
			hist[len(hist)-1].Summary = strings.TrimSpace("(중요 변경) " + h.GetChangeSummary())
		}
	}
	data["History"] = hist
	if p.Current && p.Previous != nil {
		var rows []changeRow
		for _, r := range p.LastChange {
			rows = append(rows, changeRow{Article: r.GetArticle(), Before: r.GetBefore(), After: r.GetAfter()})
		}
		data["Changes"] = rows
		data["Previous"] = map[string]any{"Number": p.Previous.GetNumber(), "URL": p.Previous.GetUrl(),
			"Period": cmp.Or(p.Previous.GetPeriod(), "미상"), "HasDocument": p.Previous.GetHasDocument()}
	}
	return execute("policy", data)
}

// IndexUnit is a unit on a body's index.
type IndexUnit struct {
	ID, FullName string
	Depth        int32
	Policies     []*registryv1.PublicPolicyLink
}

// Index renders a body's index (/p/{t}): every unit with its published policies, saying so where
// a unit has none.
func Index(tenantID, tenantName string, units []IndexUnit) string {
	return execute("index", map[string]any{"Title": tenantName + " 개인정보 처리방침 및 영상정보처리기기 운영·관리방침",
		"TenantID": tenantID, "TenantName": tenantName, "Units": indexUnits(tenantID, units)})
}

// Unit renders a unit's page (/p/{t}/{u}): its published policies and its request form.
func Unit(tenantID, tenantName string, u IndexUnit) string {
	return execute("unit", map[string]any{"Title": u.FullName, "TenantID": tenantID, "TenantName": tenantName,
		"Unit": indexUnits(tenantID, []IndexUnit{u})[0]})
}

type indexUnit struct {
	ID, FullName, FormURL string
	Indent                int32
	Policies              []map[string]string
}

func indexUnits(tenantID string, us []IndexUnit) []indexUnit {
	var out []indexUnit
	for _, u := range us {
		iu := indexUnit{ID: u.ID, FullName: u.FullName, Indent: min(u.Depth, 4), FormURL: "/p/" + tenantID + "/" + u.ID + "/requests/new"}
		for _, p := range u.Policies {
			state := "시행일자 " + Date(p.GetEffectiveDate())
			if p.GetStanding() == registryv1.PolicyStanding_POLICY_STANDING_UPCOMING {
				state = Date(p.GetEffectiveDate()) + "부터 시행 예정"
			}
			iu.Policies = append(iu.Policies, map[string]string{"Title": cmp.Or(p.GetTitle(), policy.DefaultTitle(p.GetKind())),
				"URL": p.GetUrl(), "State": state})
		}
		out = append(out, iu)
	}
	return out
}

// Bodies renders the list of the bodies pipa publishes for (/p/), the way into their indexes.
func Bodies(bodies []*registryv1.PublicIndex) string {
	var bs []map[string]string
	for _, b := range bodies {
		bs = append(bs, map[string]string{"URL": "/p/" + b.GetTenant(), "Name": b.GetDisplayName()})
	}
	return execute("bodies", map[string]any{"Title": "개인정보 처리방침 및 영상정보처리기기 운영·관리방침을 게시한 기관", "Bodies": bs})
}

// NoticePosting renders a notice to subjects posted on the unit's page (DEC-28-5): the processor
// and the task the body entrusted, as its registry recorded them, and the posting's period. Every
// line is a recorded fact or the statute's own words; the page says nothing else for the body.
func NoticePosting(tenantID, unitID string, n *registryv1.NoticePosting) string {
	return execute("posting", map[string]any{"Title": "개인정보 처리업무 위탁 사실 게재 (" + n.GetUnitDisplayName() + ")",
		"TenantID": tenantID, "UnitURL": "/p/" + tenantID + "/" + unitID, "N": n,
		"Start": Date(n.GetStartDate()), "End": Date(n.GetEndDate())})
}

// ErrorPage renders an error in Korean with a way back: to the body's index when the address
// names a body (back), else nothing but the message.
func ErrorPage(message, back, backLabel string) string {
	return execute("error", map[string]any{"Title": message, "Message": message, "Back": back, "BackLabel": backLabel})
}

func execute(name string, data map[string]any) string {
	var b strings.Builder
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		// The templates are fixed and their data plain values: an error is a bug here.
		panic(fmt.Sprintf("render: %s page: %v", name, err))
	}
	return b.String()
}

// Stylesheet is the public pages' CSS: readable at 360 px, with a print layout.
const Stylesheet = `
*{box-sizing:border-box}
body{font-family:"Noto Sans KR","NanumGothic","Malgun Gothic",sans-serif;line-height:1.7;color:#111;background:#fff;max-width:56rem;margin:0 auto;padding:0 1rem 2rem;overflow-wrap:anywhere}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem;z-index:1}
header.site,footer.site{font-size:.95rem;padding:.75rem 0;border-bottom:1px solid #bbb}
footer.site{border-bottom:none;border-top:1px solid #bbb;margin-top:2rem}
nav ol{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.25rem .5rem}
nav li+li::before{content:"›";margin-right:.5rem;color:#555}
h1{font-size:1.5rem;line-height:1.4;margin:1rem 0}
h2{font-size:1.15rem;margin:2rem 0 .5rem;padding-bottom:.25rem;border-bottom:1px solid #bbb}
.status{font-weight:bold;padding:.5rem .75rem;border-left:4px solid #444;background:#f3f3f3}
.status.draft{border-color:#a0001c;color:#a0001c}
.dates{color:#333}
.table{overflow-x:auto;margin:.75rem 0}
table{border-collapse:collapse;min-width:100%}
caption{position:absolute;left:-999px}
th,td{border:1px solid #777;padding:.35rem .5rem;text-align:left;vertical-align:top}
thead th{background:#eee}
a{color:#0645ad}
a:focus{outline:3px solid #0645ad;outline-offset:2px}
code{font-size:.85rem;overflow-wrap:anywhere}
.record,.ledger-key{font-size:.9rem;color:#333}
.ledger-key dd{margin:0 0 .4rem 0}
ul.units{list-style:none;padding:0}
.indent-1{margin-left:1rem}.indent-2{margin-left:2rem}.indent-3,.indent-4{margin-left:3rem}
pre.change{white-space:pre-wrap;margin:0;font-family:inherit}
@media print{
body{max-width:none;padding:0;font-size:10.5pt}
.skip,header.site,footer.site,.noprint{display:none}
.status{background:none;border:none;padding:0}
a{color:inherit;text-decoration:none}
a[href^="http"]::after{content:" (" attr(href) ")";font-size:90%}
h2{break-after:avoid}
tr{break-inside:avoid}
.table{overflow:visible}
}
`

var pages = template.Must(template.New("pages").Funcs(template.FuncMap{
	"css": func() template.CSS { return template.CSS(Stylesheet) },
}).Parse(`{{define "top"}}<!DOCTYPE html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>{{css}}</style>
</head>
<body>
<a class="skip" href="#main">본문 바로가기</a>
{{end}}
{{define "bottom"}}</body>
</html>
{{end}}
{{define "policy"}}{{template "top" .}}<header class="site">
<nav aria-label="위치"><ol><li><a href="/p/{{.TenantID}}">{{.TenantName}}</a></li><li><a href="{{.UnitURL}}">{{.FullName}}</a></li></ol></nav>
</header>
<main id="main">
<p class="status{{if .Draft}} draft{{end}}">{{.Status}}{{if not .Current}}{{if not .Draft}} · <a href="{{.PolicyURL}}">현행 방침 보기</a>{{end}}{{end}}</p>
{{if .NoText}}<h1>{{.Heading}} (제{{.Number}}판)</h1>
<p>이 버전의 본문은 pipa에 보관되어 있지 않습니다. 적용기간과 공고 사실만 기록되어 있습니다.{{if .OriginalURL}} 원문: <a href="{{.OriginalURL}}">{{.OriginalURL}}</a>{{end}}</p>
{{else}}{{.Document}}{{end}}
{{if .SHA256}}<section class="record" aria-labelledby="record-h">
<h2 id="record-h">게시 기록</h2>
<p>이 문서(제{{.Number}}판)는 게시될 때의 내용 그대로 보관됩니다. HTML 원문 SHA-256: <code>{{.SHA256}}</code> (<a href="{{.DocURL}}">HTML 원문</a>) · 텍스트 SHA-256: <code>{{.TextSHA256}}</code> (<a href="{{.TextURL}}">텍스트 원문</a>){{if .Ledger}} · 관리대장 기록: <code>{{.Ledger}}</code>{{end}}</p>
</section>
{{end}}{{with .Previous}}<section aria-labelledby="changes-h">
<h2 id="changes-h">신·구 대조표</h2>
{{if $.Changes}}<p>직전 방침(<a href="{{.URL}}">제{{.Number}}판, {{.Period}}</a>)과 달라진 조문입니다.</p>
<div class="table"><table><caption>신·구 대조표</caption>
<thead><tr><th scope="col">조문</th><th scope="col">종전</th><th scope="col">개정</th></tr></thead>
<tbody>{{range $.Changes}}<tr><th scope="row">{{.Article}}</th><td><pre class="change">{{.Before}}</pre></td><td><pre class="change">{{.After}}</pre></td></tr>
{{end}}</tbody></table></div>
{{else if .HasDocument}}<p>직전 방침(<a href="{{.URL}}">제{{.Number}}판, {{.Period}}</a>)과 달라진 조문이 없습니다.</p>
{{else}}<p>직전 방침(<a href="{{.URL}}">제{{.Number}}판, {{.Period}}</a>)의 본문이 pipa에 없어 대조표를 만들 수 없습니다.</p>
{{end}}</section>
{{end}}{{if .History}}<section aria-labelledby="history-h">
<h2 id="history-h">변경 이력</h2>
<div class="table"><table><caption>변경 이력</caption>
<thead><tr><th scope="col">판</th><th scope="col">구분</th><th scope="col">적용기간</th><th scope="col">공고일자</th><th scope="col">변경 내용</th><th scope="col">보기</th></tr></thead>
<tbody>{{range .History}}<tr><td>제{{.Number}}판</td><td>{{.Label}}</td><td>{{.Period}}</td><td>{{.Announced}}</td><td>{{.Summary}}</td><td>{{if .Shown}}{{.Shown}}{{else}}<a href="{{.URL}}">제{{.Number}}판 보기</a>{{end}}{{if not .HasDocument}} (본문 없음){{end}}</td></tr>
{{end}}</tbody></table></div>
</section>
{{end}}</main>
<footer class="site noprint"><p><a href="/p/{{.TenantID}}">{{.TenantName}} 방침 목록</a> · <a href="{{.FormURL}}">개인정보 열람 등 청구</a> · <a href="/p/requests/status">처리 상태 확인</a></p></footer>
{{template "bottom"}}{{end}}
{{define "unitbody"}}<section class="unit indent-{{.Indent}}" id="{{.ID}}" aria-labelledby="{{.ID}}-h">
<h2 id="{{.ID}}-h">{{.FullName}}</h2>
{{if .Policies}}<ul>{{range .Policies}}<li><a href="{{.URL}}">{{.Title}}</a> ({{.State}})</li>{{end}}</ul>
{{else}}<p>pipa에 게시된 방침이 아직 없습니다.</p>
{{end}}<p><a href="{{.FormURL}}">{{.FullName}}에 개인정보 열람 등 청구</a></p>
</section>
{{end}}
{{define "index"}}{{template "top" .}}<header class="site"><nav aria-label="위치"><ol><li>{{.TenantName}}</li></ol></nav></header>
<main id="main">
<h1>{{.Title}}</h1>
{{range .Units}}{{template "unitbody" .}}{{end}}
</main>
<footer class="site noprint"><p><a href="/p/requests/status">처리 상태 확인</a></p></footer>
{{template "bottom"}}{{end}}
{{define "unit"}}{{template "top" .}}<header class="site"><nav aria-label="위치"><ol><li><a href="/p/{{.TenantID}}">{{.TenantName}}</a></li><li>{{.Unit.FullName}}</li></ol></nav></header>
<main id="main">
<h1>{{.Unit.FullName}}</h1>
{{template "unitbody" .Unit}}
</main>
<footer class="site noprint"><p><a href="/p/{{.TenantID}}">{{.TenantName}} 방침 목록</a> · <a href="/p/requests/status">처리 상태 확인</a></p></footer>
{{template "bottom"}}{{end}}
{{define "bodies"}}{{template "top" .}}<main id="main">
<h1>{{.Title}}</h1>
<ul>{{range .Bodies}}<li><a href="{{.URL}}">{{.Name}}</a></li>{{end}}</ul>
</main>
<footer class="site noprint"><p><a href="/p/requests/status">처리 상태 확인</a></p></footer>
{{template "bottom"}}{{end}}
{{define "posting"}}{{template "top" .}}<header class="site"><nav aria-label="위치"><ol><li><a href="/p/{{.TenantID}}">방침 목록</a></li><li><a href="{{.UnitURL}}">{{.N.UnitDisplayName}}</a></li></ol></nav></header>
<main id="main">
<h1>{{.Title}}</h1>
<p>「개인정보 보호법」 제26조제3항 및 같은 법 시행령 제28조제5항에 따른 게재</p>
<dl>
<dt>위탁자</dt><dd>{{.N.UnitDisplayName}}</dd>
<dt>수탁자</dt><dd>{{.N.ProcessorCompany}}</dd>
<dt>위탁하는 업무의 내용</dt><dd>{{.N.Task}}</dd>
<dt>게재 기간</dt><dd>{{.Start}} ~ {{.End}}</dd>
</dl>
</main>
{{template "bottom"}}{{end}}
{{define "error"}}{{template "top" .}}<main id="main">
<h1>{{.Message}}</h1>
{{if .Back}}<p><a href="{{.Back}}">{{.BackLabel}}</a></p>{{end}}
</main>
{{template "bottom"}}{{end}}
`))
