package render_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/services/registry/document"
	"github.com/pipa-kr/pipa/services/registry/render"
	"github.com/pipa-kr/pipa/services/registry/tenantfile"
)

const examples = "../../../deploy/examples"

// seed000 is the library's current version as read from its source, over its registry data.
func seed000(t *testing.T) (*registryv1.PolicyVersion, render.Facts) {
	t.Helper()
	f, err := tenantfile.Load(filepath.Join(examples, "jeongeup-library.yaml"))
	require.NoError(t, err)
	ve := f.Unit("library").Policy(registryv1.PolicyKind_POLICY_KIND_CCTV).Versions[1]
	d, errs := document.Read(ve.Source.GetFormat(), ve.Source.GetContent())
	require.Empty(t, errs)
	v := &registryv1.PolicyVersion{Kind: registryv1.PolicyKind_POLICY_KIND_CCTV, Number: 2, EffectiveDate: "2024-01-16",
		Snapshot: f.Snapshot("library")}
	d.Apply(v)
	return v, render.Facts{Snapshot: v.Snapshot, Version: v, Versions: []int32{1}}
}

// The registry's facts fill the library's own tables: one row per site, per officer, the
// distinct storage places in one cell; the words around them are the library's.
func TestFreezeBindsRegistryFacts(t *testing.T) {
	v, f := seed000(t)
	doc, probs := render.Freeze(v, f)
	require.Empty(t, probs)
	for _, fact := range []string{
		"| 중앙도서관 | 27대 | 도서관 건물 내부 및 외부 도서관 주차장 스마트도서관 부스 내부 |",
		"| 시민공원 | 4대 |  |",
		"| 관리책임자 | 송현숙 | 소장 | 도서관사업소 | 063-539-5049 |",
		"| 접근권한자 | 육정란 | 주무관 | 도서관사업소(기적) | 063-539-6453 |",
		"| 24시간 | 촬영일로부터 30일 | 중앙도서관 2층 전산실 신태인도서관 사무실 기적의도서관 사무실 |",
		"- ▶ 주차장 차량 도난 및 파손 방지 등",
	} {
		require.Contains(t, doc.GetText(), fact)
	}
	require.Contains(t, doc.GetHtml(), `<td>중앙도서관 2층 전산실<br>신태인도서관 사무실<br>기적의도서관 사무실</td>`)
	require.Contains(t, doc.GetHtml(), `<a href="/p/jeongeup/library/cctv/versions/1">영상정보처리기기 운영․관리방침 (2021. 12. 06. ~ 2024. 01. 15.).pdf</a>`)
	require.Len(t, doc.GetHtmlSha256(), 64)

	// A registry change shows where the library's text binds it, and nowhere else.
	v2 := proto.CloneOf(v)
	v2.Snapshot.Sites[4].CameraCount = 6
	f2 := render.Facts{Snapshot: v2.Snapshot, Version: v2, Versions: f.Versions}
	rows := render.Compare(render.Texts(v, f), render.Texts(v2, f2))
	require.Len(t, rows, 1)
	require.Equal(t, "제2조(설치대수, 설치위치 및 촬영범위)", rows[0].GetArticle())
	require.Contains(t, rows[0].GetBefore(), "| 시민공원 | 4대 |")
	require.Contains(t, rows[0].GetAfter(), "| 시민공원 | 6대 |")
	require.Empty(t, render.Compare(render.Texts(v, f), render.Texts(v, f)))
}

// A merged cell is published once: in HTML with its rowspan and colspan, in the text with the
// cells it covers left empty.
func TestMergedCells(t *testing.T) {
	v, f := seed000(t)
	v.Articles[0].Body = "| 구분 | 기간 | {{<}} |\n| {{^}} | 시작 | 끝 |\n| --- | --- | --- |\n| 회원 | 가입 | 탈퇴 |\n| {{^}} | 재가입 | 탈퇴 |\n| 합계 | {{<}} | {{<}} |"
	doc, probs := render.Freeze(v, f)
	require.Empty(t, probs)
	require.Contains(t, doc.GetHtml(), `<thead><tr><th scope="col" rowspan="2">구분</th><th scope="col" colspan="2">기간</th></tr><tr><th scope="col">시작</th><th scope="col">끝</th></tr></thead><tbody><tr><td rowspan="2">회원</td><td>가입</td><td>탈퇴</td></tr><tr><td>재가입</td><td>탈퇴</td></tr><tr><td colspan="3">합계</td></tr></tbody>`)
	require.Contains(t, doc.GetText(), "| 구분 | 기간 |  |\n|  | 시작 | 끝 |\n| --- | --- | --- |\n| 회원 | 가입 | 탈퇴 |\n|  | 재가입 | 탈퇴 |\n| 합계 |  |  |")

	// A merge that, as the rows repeat, is left with no cell to merge with (the library has no
	// privacy officer, so the row above repeats zero times) is a problem; nothing is frozen.
	v.Articles[0].Body = "| 구분 | 이름 |\n| --- | --- |\n| {{officer[cpo].role}} | {{officer[cpo].displayName}} |\n| {{^}} | 없음 |"
	_, probs = render.Freeze(v, f)
	require.NotEmpty(t, probs)
	require.Contains(t, probs[0].Msg, "as filled in, cell 1 is merged with the cell above")
}

// Bindings that name no fact, links to no unit or version, and broken tables are problems at
// their line; a draft with them is not frozen.
func TestProblems(t *testing.T) {
	v, f := seed000(t)
	v.Articles[0].Body += "\n\n{{site/annex.displayName}} {{site.nickname}} {{cookies.x}}\n\n[별관](unit:annex) [옛 방침](version:7)"
	v.Articles[1].Body = "| a | b |\n| 1 | 2 |"
	probs := render.Problems(v, f)
	var msgs []string
	for _, p := range probs {
		msgs = append(msgs, p.Error())
	}
	joined := strings.Join(msgs, "\n")
	require.Contains(t, joined, `articles[0].body (제1조(영상정보처리기기의 설치근거 및 설치목적)) line 5: no site "annex"`)
	require.Contains(t, joined, `Site has no field "nickname"`)
	require.Equal(t, 1, strings.Count(joined, "nickname"), "a problem of a repeated line is told once")
	require.Contains(t, joined, `unknown "cookies"`)
	require.Contains(t, joined, `line 7: link "unit:annex"`)
	require.Contains(t, joined, `"version:7": the policy has no published version 7`)
	require.Contains(t, joined, `articles[1].body (제2조(설치대수, 설치위치 및 촬영범위)) line 1: the table has no "| --- |" row`)
	doc, bad := render.Freeze(v, f)
	require.Nil(t, doc)
	require.NotEmpty(t, bad)
}

// Rows repeat per element, consecutive rows of one collection together (seed 002's two rows a
// site); nested collections are those of the enclosing element (a site's cameras).
func TestRowsRepeat(t *testing.T) {
	snap := &registryv1.UnitSnapshot{
		Tenant: &registryv1.Tenant{Name: "tenants/t"}, Unit: &registryv1.Unit{Name: "tenants/t/units/u"},
		Sites: []*registryv1.Site{
			{Name: "tenants/t/units/u/sites/a", DisplayName: "본청", CameraCount: 3, PublicCameraCount: proto.Int32(1), NonpublicCameraCount: proto.Int32(2),
				Cameras: []*registryv1.Camera{{Location: "정문", Count: 1}, {Location: "후문", Count: 2}}},
			{Name: "tenants/t/units/u/sites/b", DisplayName: "출장소", CameraCount: 1,
				Cameras: []*registryv1.Camera{{Location: "민원실", Count: 1}}},
		},
		Officers: []*registryv1.Officer{
			{Name: "tenants/t/units/u/officers/a", DisplayName: "김", Roles: []registryv1.OfficerRole{registryv1.OfficerRole_OFFICER_ROLE_CPO}},
			{Name: "tenants/t/units/u/officers/b", DisplayName: "이", Roles: []registryv1.OfficerRole{registryv1.OfficerRole_OFFICER_ROLE_HANDLER}, RoleLabel: "업무담당"},
		},
	}
	v := &registryv1.PolicyVersion{Kind: registryv1.PolicyKind_POLICY_KIND_CCTV, Number: 1, EffectiveDate: "2026-03-01", Snapshot: snap,
		Articles: []*registryv1.Article{{Heading: "제1조(설치)", Body: "| 구분 | 대수 | 공개 | 비공개 |\n| --- | --- | --- | --- |\n" +
			"| {{site.displayName}} | {{site.cameraCount}}대 | 공개장소 | 비공개장소 |\n| | | {{site.publicCameraCount}} | {{site.nonpublicCameraCount}} |\n" +
			"| 합계 | {{site/a.cameraCount}} | | |\n\n" +
			"- {{site.displayName}}\n  - {{camera.location}} {{camera.count}}대\n\n" +
			"{{officer[handler].role}}: {{officer[handler].displayName}}\n\n" +
			"이 방침은 {{version.effectiveDate}}부터 적용됩니다. {{cameras.location|, }}"}},
	}
	doc, probs := render.Freeze(v, render.Facts{Snapshot: snap, Version: v})
	require.Empty(t, probs)
	require.Contains(t, doc.GetText(), "| 본청 | 3대 | 공개장소 | 비공개장소 |\n|  |  | 1 | 2 |\n| 출장소 | 1대 | 공개장소 | 비공개장소 |\n|  |  |  |  |\n| 합계 | 3 |  |  |")
	require.Contains(t, doc.GetText(), "- 본청\n  - 정문 1대\n  - 후문 2대\n- 출장소\n  - 민원실 1대")
	require.Contains(t, doc.GetText(), "업무담당: 이\n")
	require.Contains(t, doc.GetText(), "이 방침은 2026. 03. 01.부터 적용됩니다. 정문, 후문, 민원실")
}

// Tenant text is escaped; only http(s) and pipa's own links are links.
func TestHTMLEscapes(t *testing.T) {
	v, f := seed000(t)
	v.Snapshot.Sites[0].DisplayName = `<script>alert(1)</script>`
	v.Articles[0].Body += "\n\n[x](javascript:alert(1)) & <b>"
	doc, probs := render.Freeze(v, f)
	require.Empty(t, probs)
	require.NotContains(t, doc.GetHtml(), "<script>")
	require.NotContains(t, doc.GetHtml(), `href="javascript`)
	require.Contains(t, doc.GetHtml(), "&lt;script&gt;alert(1)&lt;/script&gt;")
	require.Contains(t, doc.GetHtml(), "[x](javascript:alert(1)) &amp; &lt;b&gt;")
}

// The public page embeds the frozen document as it is, with the version's record and history.
func TestPolicyPage(t *testing.T) {
	v, f := seed000(t)
	doc, _ := render.Freeze(v, f)
	v.Document, v.Standing = doc, registryv1.PolicyStanding_POLICY_STANDING_IN_FORCE
	hist := []*registryv1.PolicyHistoryEntry{
		{Number: 1, Period: "2021. 12. 06. ~ 2024. 01. 15.", Url: "/p/jeongeup/library/cctv/versions/1", Standing: registryv1.PolicyStanding_POLICY_STANDING_PAST},
		{Number: 2, Period: "2024. 01. 16. ~", Url: "/p/jeongeup/library/cctv/versions/2", HasDocument: true, Standing: registryv1.PolicyStanding_POLICY_STANDING_IN_FORCE},
	}
	page := render.Policy(render.PolicyPage{TenantID: "jeongeup", TenantName: "정읍시", UnitID: "library", FullName: "정읍시립도서관",
		Kind: registryv1.PolicyKind_POLICY_KIND_CCTV, Version: v, Current: true, History: hist, Previous: hist[0]})
	require.True(t, strings.HasPrefix(page, "<!DOCTYPE html>\n<html lang=\"ko\">"))
	require.Contains(t, page, doc.GetHtml(), "the frozen bytes, as they are")
	require.Equal(t, 1, strings.Count(page, "<h1"))
	require.Contains(t, page, "<title>영상정보처리기기운영·관리방침 | 정읍시립도서관</title>")
	require.Contains(t, page, doc.GetHtmlSha256())
	require.Contains(t, page, `href="/p/jeongeup/library/cctv/versions/2/document.html"`)
	require.Contains(t, page, "본문이 pipa에 없어 대조표를 만들 수 없습니다")
	require.Contains(t, page, "@media print")
	for _, banned := range []string{"<script", "<link", "<img", "src=", "@import", "url("} {
		require.NotContains(t, page, banned)
	}
}

// The index says plainly where a unit has no policy in pipa, and links what there is.
func TestIndexPage(t *testing.T) {
	page := render.Index("iksan", "익산시", []render.IndexUnit{
		{ID: "city", FullName: "익산시", Policies: []*registryv1.PublicPolicyLink{{Kind: registryv1.PolicyKind_POLICY_KIND_PRIVACY,
			Title: "개인정보처리방침", Url: "/p/iksan/city/privacy", EffectiveDate: "2012-03-26", Standing: registryv1.PolicyStanding_POLICY_STANDING_IN_FORCE}}},
		{ID: "transport", FullName: "익산시 교통행정과", Depth: 1},
	})
	require.Contains(t, page, `<a href="/p/iksan/city/privacy">개인정보처리방침</a> (시행일자 2012. 03. 26.)`)
	require.Contains(t, page, `<section class="unit indent-1" id="transport"`)
	require.Contains(t, page, "익산시 교통행정과</h2>\n<p>pipa에 게시된 방침이 아직 없습니다.</p>")
	require.Contains(t, page, `href="/p/iksan/transport/requests/new"`)
}

// A site's sign (안내판) has the four fields of PIPA-25-4 / DEC-24 / STD-39: purpose and location,
// recording range and hours, the manager's contact, and the contractor's when operation is
// outsourced; and says when cameras are under integrated control (STD-39(3)).
func TestSign(t *testing.T) {
	f, err := tenantfile.Load(filepath.Join(examples, "yeongtong-school.yaml"))
	require.NoError(t, err)
	snap := f.Snapshot("school")
	require.Len(t, snap.Sites, 1)
	s := render.Sign(snap.Sites[0], snap)
	require.Equal(t, "행정실장", s.Manager, "the site's manager, not the first CCTV manager")
	require.Equal(t, "031-203-0144", s.ManagerPhone)
	require.Equal(t, "24시간 연속 촬영", s.Hours)
	require.Equal(t, "정문/후문, 운동장/ 취약지역", s.Range)
	require.Contains(t, s.Purpose, "범죄 예방")
	require.Empty(t, s.Processor)
	require.True(t, strings.HasPrefix(s.Text, "CCTV 설치 안내\n설치목적 : "), s.Text)
	require.Contains(t, s.Text, "관리책임자 : 행정실장(031-203-0144)")
	require.NotContains(t, s.Text, "통합관리")

	// Outsourced and integrated: fields (4) and STD-39(3).
	site := proto.CloneOf(snap.Sites[0])
	site.Manager = ""
	site.IntegratedControl = true
	site.Processor = "tenants/yeongtong-es/units/school/processors/acme"
	snap.Processors = append(snap.Processors, &registryv1.Processor{Name: site.Processor, Company: "에이씨엠이보안", Phone: "031-000-0000"})
	s = render.Sign(site, snap)
	require.Equal(t, "에이씨엠이보안", s.Processor)
	require.Contains(t, s.Text, "수탁관리자 : 에이씨엠이보안(031-000-0000)")
	require.Contains(t, s.Text, "통합관리")
	require.Equal(t, "학교장", s.Manager, "the first CCTV manager of the snapshot")

	// No manager at all: the unit's phone.
	snap.Officers = nil
	snap.Unit.Phone = "031-203-0100"
	s = render.Sign(site, snap)
	require.Equal(t, "영통초등학교", s.Manager)
	require.Equal(t, "031-203-0100", s.ManagerPhone)
}

func TestPeriod(t *testing.T) {
	require.Equal(t, "2021. 12. 06. ~ 2024. 01. 15.", render.Period("2021-12-06", "2024-01-15"))
	require.Equal(t, "2024. 01. 16. ~", render.Period("2024-01-16", ""))
	require.Equal(t, "~ 2011. 09. 29.", render.Period("", "2011-09-29"))
	require.Equal(t, "", render.Period("", ""))
	require.Equal(t, "2024. 03. 01.", render.Date("2024-03-01"))
}

// The document's heading keeps every word of the body's title and says the unit's full name once:
// a title that starts with the tenant's name is not led by it a second time.
func TestTitleNamesTheUnitOnce(t *testing.T) {
	unit := &registryv1.Unit{DisplayName: "체육시설관리과", FullName: "과천시 체육시설관리과"}
	for title, want := range map[string]string{
		"과천시 체육시설 개인영상정보 운영방침":     "과천시 체육시설관리과 체육시설 개인영상정보 운영방침",
		"영상정보처리기기 운영·관리방침":         "과천시 체육시설관리과 영상정보처리기기 운영·관리방침",
		"체육시설관리과 영상정보처리기기 운영·관리방침": "체육시설관리과 영상정보처리기기 운영·관리방침",
		"과천시체육시설 운영방침":             "과천시 체육시설관리과 과천시체육시설 운영방침",
	} {
		v := &registryv1.PolicyVersion{Title: title, Snapshot: &registryv1.UnitSnapshot{Unit: unit}}
		require.Equal(t, want, render.Title(v), title)
	}
}
