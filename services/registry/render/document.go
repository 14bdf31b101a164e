package render

import (
	"cmp"
	"fmt"
	"html/template"
	"strings"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
)

// Document is what a public policy page shows: one version and the unit's version history.
type Document struct {
	Version *registryv1.PolicyVersion
	// History lists every version of the policy, oldest first, as the registry computes it.
	History []*registryv1.PolicyHistoryEntry
}

// page is a document laid out once for both output formats.
type page struct {
	Title    string
	Status   string
	Draft    bool
	Preamble string
	Sections []pageSection
}

type pageSection struct {
	ID      string
	Heading string
	Body    string
	Blocks  []block
}

func layout(d Document) page {
	v := d.Version
	dc := newDoc(v, d.History)
	p := page{Title: dc.title(), Preamble: Preamble(v)}
	if u := dc.snap.GetUnit().GetDisplayName(); u != "" && !strings.HasPrefix(p.Title, u) {
		p.Title = u + " " + p.Title
	}
	switch {
	case v.GetState() == registryv1.PolicyState_POLICY_STATE_DRAFT:
		p.Draft = true
		p.Status = "초안 (미공개)"
	case v.GetStanding() == registryv1.PolicyStanding_POLICY_STANDING_UPCOMING:
		p.Status = "시행 예정 — " + Date(v.GetEffectiveDate()) + "부터 시행"
	case v.GetStanding() == registryv1.PolicyStanding_POLICY_STANDING_PAST || v.GetState() == registryv1.PolicyState_POLICY_STATE_ARCHIVED:
		p.Status = "이전 방침 (" + cmp.Or(Period(v.GetEffectiveDate(), v.GetEndDate()), "적용기간 미상") + ")"
	case v.GetEffectiveDate() != "":
		p.Status = "시행일자 : " + Date(v.GetEffectiveDate())
		if a := v.GetAnnounceDate(); a != "" {
			p.Status = "공고일자 : " + Date(a) + " · " + p.Status
		}
	}
	for _, a := range dc.articles() {
		p.Sections = append(p.Sections, pageSection{
			ID: fmt.Sprintf("article-%d", a.Number), Heading: a.Title(), Body: a.Body,
			Blocks: parseBlocks(a.Body, a.Title()),
		})
	}
	if h := historyTable(d.History, dc.title()); h != "" {
		p.Sections = append(p.Sections, pageSection{
			ID: "history", Heading: "변경 이력", Body: h, Blocks: parseBlocks(h, "변경 이력"),
		})
	}
	return p
}

var standingLabel = map[registryv1.PolicyStanding]string{
	registryv1.PolicyStanding_POLICY_STANDING_UPCOMING: "시행 예정",
	registryv1.PolicyStanding_POLICY_STANDING_IN_FORCE: "현행",
	registryv1.PolicyStanding_POLICY_STANDING_PAST:     "이전",
}

// historyTable lists every version with its period and link (WG26-24).
func historyTable(history []*registryv1.PolicyHistoryEntry, title string) string {
	if len(history) == 0 {
		return ""
	}
	t := newTable("버전", "구분", "적용기간", "공고일자", "변경 내용", "보기")
	for _, h := range history {
		label := standingLabel[h.GetStanding()]
		switch {
		case h.GetState() == registryv1.PolicyState_POLICY_STATE_DRAFT:
			label = "초안"
		case label == "" && h.GetState() == registryv1.PolicyState_POLICY_STATE_ARCHIVED:
			label = "이전"
		}
		summary := h.GetChangeSummary()
		if h.GetMajorChange() {
			summary = strings.TrimSpace("(중요 변경) " + summary)
		}
		view := ""
		if u := historyURL(h); u != "" {
			view = link(cmp.Or(h.GetTitle(), title), u)
		}
		t.row(fmt.Sprint(h.GetNumber()), label,
			cmp.Or(h.GetPeriod(), Period(h.GetEffectiveDate(), h.GetEndDate())),
			Date(h.GetAnnounceDate()), summary, view)
	}
	return t.String()
}

// Markdown renders the whole document: title, status, preamble, articles and version history.
func Markdown(d Document) string {
	p := layout(d)
	var b strings.Builder
	b.WriteString("# " + p.Title + "\n\n")
	if p.Status != "" {
		b.WriteString("> " + p.Status + "\n\n")
	}
	if p.Preamble != "" {
		b.WriteString(p.Preamble + "\n\n")
	}
	for _, s := range p.Sections {
		b.WriteString("## " + s.Heading + "\n\n" + s.Body + "\n\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// HTML renders the whole document as a complete page: plain, accessible (one h1, an h2 per article,
// tables with caption and header scopes) and printable, with no script and no external resource.
func HTML(d Document) string {
	p := layout(d)
	data := struct {
		page
		Preamble []block
	}{page: p, Preamble: parseBlocks(p.Preamble, "전문")}
	var b strings.Builder
	if err := pageTemplate.Execute(&b, data); err != nil {
		// The template is fixed and its data plain strings: an error is a bug in this package.
		panic(fmt.Sprintf("render: page template: %v", err))
	}
	return b.String()
}

var pageTemplate = template.Must(template.New("page").Parse(`{{define "spans"}}{{range .}}{{if .URL}}<a href="{{.URL}}">{{.Text}}</a>{{else}}{{.Text}}{{end}}{{end}}{{end}}
{{- define "lines"}}{{range $i, $l := .}}{{if $i}}<br>{{end}}{{template "spans" $l}}{{end}}{{end}}
{{- define "list"}}<ul>{{range .}}<li>{{template "lines" .Lines}}{{if .Sub}}{{template "list" .Sub}}{{end}}</li>{{end}}</ul>{{end}}
{{- define "blocks"}}{{range .}}
{{if .Para}}<p>{{template "lines" .Para}}</p>
{{- else if .List}}{{template "list" .List}}
{{- else if .Table}}<table>
<caption>{{.Table.Caption}}</caption>
<thead><tr>{{range .Table.Head}}<th scope="col">{{template "spans" .}}</th>{{end}}</tr></thead>
<tbody>
{{range .Table.Rows}}<tr>{{range $i, $c := .}}{{if eq $i 0}}<th scope="row">{{template "spans" $c}}</th>{{else}}<td>{{template "spans" $c}}</td>{{end}}{{end}}</tr>
{{end}}</tbody>
</table>{{end}}{{end}}{{end -}}
<!DOCTYPE html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font-family:"Noto Sans KR","Malgun Gothic",sans-serif;line-height:1.7;color:#111;background:#fff;max-width:52rem;margin:0 auto;padding:1rem 1.25rem}
h1{font-size:1.6rem;margin:.5rem 0 1rem}
h2{font-size:1.15rem;margin:2rem 0 .5rem;padding-bottom:.25rem;border-bottom:1px solid #bbb}
.status{font-weight:bold;padding:.5rem .75rem;border-left:4px solid #555;background:#f3f3f3}
.status.draft{border-color:#b00020;color:#b00020}
table{border-collapse:collapse;width:100%;margin:.75rem 0}
caption{text-align:left;font-weight:bold;padding:.25rem 0}
th,td{border:1px solid #888;padding:.35rem .5rem;text-align:left;vertical-align:top}
thead th{background:#eee}
a{color:#0645ad}
@media print{
body{max-width:none;padding:0;font-size:10.5pt}
.status{background:none}
a{color:inherit;text-decoration:none}
a[href^="http"]::after{content:" (" attr(href) ")";font-size:90%}
h2{break-after:avoid}
table,tr{break-inside:avoid}
}
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
{{if .Status}}<p class="status{{if .Draft}} draft{{end}}">{{.Status}}</p>
{{end}}{{if .Preamble}}<section aria-label="전문">{{template "blocks" .Preamble}}
</section>
{{end}}{{range .Sections}}<section aria-labelledby="{{.ID}}">
<h2 id="{{.ID}}">{{.Heading}}</h2>{{template "blocks" .Blocks}}
</section>
{{end}}</main>
</body>
</html>
`))
