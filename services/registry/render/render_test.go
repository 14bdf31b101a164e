package render_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/services/registry/policy"
	"github.com/pipa-kr/pipa/services/registry/render"
	"github.com/pipa-kr/pipa/services/registry/tenantfile"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const examples = "../../../deploy/examples"

// current loads an example and makes the document the registry would serve for the unit's latest
// version of a policy: its sections and dates from the file, the unit's snapshot, and the history.
func current(t *testing.T, file, unit string, kind registryv1.PolicyKind) render.Document {
	t.Helper()
	f, err := tenantfile.Load(filepath.Join(examples, file))
	require.NoError(t, err)
	u := f.Unit(unit)
	require.NotNil(t, u, "unit %s", unit)
	pe := u.Policy(kind)
	require.NotNil(t, pe, "%s has no %s policy", unit, kind)
	require.NotEmpty(t, pe.Versions)

	var history []*registryv1.PolicyHistoryEntry
	for i, ve := range pe.Versions {
		v := ve.Version
		h := &registryv1.PolicyHistoryEntry{
			Number: v.GetNumber(), Title: v.GetTitle(), State: v.GetState(),
			Standing:      registryv1.PolicyStanding_POLICY_STANDING_PAST,
			AnnounceDate:  v.GetAnnounceDate(),
			EffectiveDate: v.GetEffectiveDate(), EndDate: v.GetEndDate(),
			Period:      render.Period(v.GetEffectiveDate(), v.GetEndDate()),
			OriginalUrl: v.GetOriginalUrl(), ChangeSummary: v.GetChangeSummary(), MajorChange: v.GetMajorChange(),
		}
		if !ve.Archived {
			h.Url = fmt.Sprintf("/p/%s/%s/%s/versions/%d", f.Tenant.ID, unit, policy.Segment(kind), v.GetNumber())
		}
		if i == len(pe.Versions)-1 {
			h.Standing = registryv1.PolicyStanding_POLICY_STANDING_IN_FORCE
		}
		history = append(history, h)
	}
	v := proto.CloneOf(pe.Versions[len(pe.Versions)-1].Version)
	v.Snapshot = f.Snapshot(unit)
	v.Standing = registryv1.PolicyStanding_POLICY_STANDING_IN_FORCE
	return render.Document{Version: v, History: history}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create %s", path)
	require.Equal(t, string(want), got, "%s is stale: run go test -update and review the diff", path)
}

// TestJeongeupLibrary renders seed 000 from deploy/examples/jeongeup-library.yaml and checks that
// every fact the published policy states is in both renderings.
func TestJeongeupLibrary(t *testing.T) {
	d := current(t, "jeongeup-library.yaml", "library", registryv1.PolicyKind_POLICY_KIND_CCTV)
	md, page := render.Markdown(d), render.HTML(d)

	facts := []string{
		"정읍시립도서관 영상정보처리기기 운영·관리방침",
		// 제1조: purposes and their basis.
		"「개인정보 보호법」 제25조 제1항",
		"시설 안전 및 화재 예방", "이용자 안전을 위한 범죄 예방", "주차장 차량 도난 및 파손 방지 등",
		// 제2조: every site with its count, and the locations.
		"중앙도서관 | 27대", "신태인도서관 | 8대", "기적의도서관 | 25대", "스마트도서관 | 1대", "시민공원 | 4대",
		"도서관 건물 내부 및 외부", "도서관 주차장", "스마트도서관 부스 내부",
		// 제3조: the manager and the three access holders.
		"관리책임자 | 송현숙 | 소장 | 도서관사업소 | 063-539-5049",
		"접근권한자 | 송승학 | 주무관 | 도서관사업소(중앙) | 063-539-6433",
		"접근권한자 | 소영휴 | 주무관 | 도서관사업소(신태인) | 063-539-6442",
		"접근권한자 | 육정란 | 주무관 | 도서관사업소(기적) | 063-539-6453",
		// 제4조: hours, retention, storage places, processing method.
		"24시간", "촬영일로부터 30일",
		"중앙도서관 2층 전산실", "신태인도서관 사무실", "기적의도서관 사무실",
		"복원이 불가능한 방법으로 영구 삭제",
		// review, requests, safety.
		"각 도서관 보관장소",
		"신분증명서를 제출받아 확인", "10일 이내에 서면 등으로 거부사유를 정보주체에게 통지",
		"범죄수사·공소유지·재판수행에 중대한 지장을 초래하는 경우",
		"개인영상정보의 보관기간이 경과하여 파기한 경우",
		"기타 정보주체의 열람 등 요구를 거부할 만한 정당한 사유가 존재하는 경우",
		"암호화 조치", "접근 권한을 차등부여", "잠금장치를 설치",
		// changes and history.
		"2024. 01. 16.부터 적용됩니다", "2021. 12. 06. ~ 2024. 01. 15.",
	}
	for _, f := range facts {
		require.Contains(t, md, f)
		// The HTML has the same text in table cells and escaped quotes.
		require.Contains(t, page, htmlText(f))
	}
	golden(t, "jeongeup-cctv.md", md)

	// The articles read like seed 000: 제1조 purposes … 제8조 changes, outsourcing declared absent.
	var titles []string
	for _, a := range render.Articles(d.Version) {
		titles = append(titles, a.Title())
	}
	require.Equal(t, []string{
		"제1조(영상정보처리기기의 설치근거 및 설치목적)",
		"제2조(설치대수, 설치위치 및 촬영범위)",
		"제3조(관리책임자 및 접근권한자)",
		"제4조(영상정보의 촬영시간, 보관기간, 보관장소 및 처리방법)",
		"제5조(영상정보처리기기 설치 및 관리 등의 위탁에 관한 사항)",
		"제6조(개인영상정보의 확인 방법 및 장소에 관한 사항)",
		"제7조(정보주체의 영상정보 열람 등 요구에 대한 조치)",
		"제8조(개인영상정보의 안전성 확보조치)",
		"제9조(영상정보처리기기 운영·관리방침 변경에 관한 사항)",
	}, titles)
	require.Contains(t, md, "정읍시립도서관은 영상정보처리기기 설치 및 관리 등을 위탁하지 않습니다.")
}

// htmlText turns a Markdown table-row fact into the cell sequence of the HTML page.
func htmlText(s string) string {
	if !strings.Contains(s, " | ") {
		return strings.NewReplacer(`"`, "&#34;", "'", "&#39;").Replace(s)
	}
	cells := strings.Split(s, " | ")
	out := "<th scope=\"row\">" + cells[0] + "</th>"
	for _, c := range cells[1:] {
		out += "<td>" + c + "</td>"
	}
	return out
}

func TestHTMLPage(t *testing.T) {
	d := current(t, "jeongeup-library.yaml", "library", registryv1.PolicyKind_POLICY_KIND_CCTV)
	page := render.HTML(d)
	require.True(t, strings.HasPrefix(page, "<!DOCTYPE html>\n<html lang=\"ko\">"), page[:80])
	require.Equal(t, 1, strings.Count(page, "<h1>"))
	require.Equal(t, len(render.Articles(d.Version))+1, strings.Count(page, "<h2 "), "an h2 per article and the history")
	require.Equal(t, strings.Count(page, "<table>"), strings.Count(page, "<caption>"))
	require.Contains(t, page, `<th scope="col">설치대수</th>`)
	require.Contains(t, page, "@media print")
	for _, banned := range []string{"<script", "<link", "<img", "src=", "@import", "url("} {
		require.NotContains(t, page, banned)
	}
	require.Contains(t, page, `<a href="/p/jeongeup/library/cctv/versions/2">`)

	// Tenant text is escaped, and a draft is marked as such.
	d.Version.State = registryv1.PolicyState_POLICY_STATE_DRAFT
	d.Version.Snapshot.Sites[0].DisplayName = `<script>alert(1)</script>`
	d.Version.Sections = append(d.Version.Sections, &registryv1.Section{Item: "other", Body: "[x](javascript:alert(1)) & <b>"})
	page = render.HTML(d)
	require.NotContains(t, page, "<script>")
	require.NotContains(t, page, `href="javascript`)
	require.Contains(t, page, "&lt;script&gt;alert(1)&lt;/script&gt;")
	require.Contains(t, page, "&amp; &lt;b&gt;")
	require.Contains(t, page, `<p class="status draft">초안 (미공개)</p>`)
	require.Contains(t, render.Markdown(d), "> 초안 (미공개)")
}

// TestSeoulImmigration checks seed 002's public/non-public split, zone retention and dates.
func TestSeoulImmigration(t *testing.T) {
	d := current(t, "seoul-immigration.yaml", "office", registryv1.PolicyKind_POLICY_KIND_CCTV)
	md := render.Markdown(d)
	for _, f := range []string{
		"| 구분 | 설치대수 | 공개장소 | 비공개장소 | 설치위치 및 촬영범위 |",
		"| 본청 | 85대 | 34 | 51 | 주차장, 청사 내 복도 및 민원실 등 |",
		"| 세종로출장소 | 6대 | 6 | 0 | 2층 민원실, 3층 심사과 |",
		"| 본청(보호실 제외) | 24시간 | 촬영일로부터 14일 | 통신실 |",
		"| 본청 보호실 | 24시간 | 촬영일로부터 30일 | 통신실, 보호실 |",
		"| 세종로출장소 | 24시간 | 촬영일로부터 14일 | 세종로출장소 3층 |",
		"| 개인정보 보호책임자 | 총무과장 | 총무과 | 02-2650-6202 |",
		"| 접근권한자 | 보호실 계호담당 | 사범과 | 02-2650-6252 |",
		"「주차장법 시행규칙」 제6조제1항",
		"서울출입국·외국인청은 영상정보처리기기 설치 및 관리 등을 위탁하지 않습니다.",
		"- 공고일자 : 2023. 11. 20.", "- 시행일자 : 2023. 11. 27.", "2012년 3월 9일",
		"서울출입국·외국인청 7층 총무과",
	} {
		require.Contains(t, md, f)
	}
	// Posts without names: the 이름 column is left out, as the seed publishes it.
	require.NotContains(t, md, "| 구분 | 이름 |")
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

func TestCompare(t *testing.T) {
	d := current(t, "jeongeup-library.yaml", "library", registryv1.PolicyKind_POLICY_KIND_CCTV)
	before := d.Version
	require.Empty(t, render.Compare(before, before))

	after := proto.CloneOf(before)
	after.Number, after.EffectiveDate = 3, "2025-03-01"
	after.Snapshot.Sites[4].CameraCount = 6 // 시민공원 4 → 6
	after.Sections = append(after.Sections, &registryv1.Section{Item: "other", Body: "영상정보처리기기 설치·운영에 관한 문의는 관리책임자에게 하시기 바랍니다."})
	for i, s := range after.Sections {
		if s.Item == "outsourcing" { // the outsourcing article disappears: nothing declared
			after.Sections = append(after.Sections[:i], after.Sections[i+1:]...)
			break
		}
	}
	rows := render.Compare(before, after)
	var got []string
	for _, r := range rows {
		got = append(got, r.Article)
	}
	require.Equal(t, []string{
		"제2조(설치대수, 설치위치 및 촬영범위)",
		"제5조(영상정보처리기기 설치 및 관리 등의 위탁에 관한 사항)", // removed: before-version's number
		"제8조(그 밖에 영상정보처리기기의 설치·운영 및 관리에 필요한 사항)",
	}, got, "the changes article (dates, history) is no row: it differs between any two versions")
	require.Contains(t, rows[0].Before, "시민공원 | 4대")
	require.Contains(t, rows[0].After, "시민공원 | 6대")
	require.Empty(t, rows[1].After)
	require.Empty(t, rows[2].Before)

	// A new version with other dates but the same content has no row at all.
	same := proto.CloneOf(before)
	same.Number, same.EffectiveDate, same.AnnounceDate = 3, "2025-03-01", "2025-02-20"
	require.Empty(t, render.Compare(before, same))
}

// TestExamplesRender renders every policy of every example, checking the statutory items of the
// current version are all stated (filled or declared) as the completeness check will demand.
func TestExamplesRender(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(examples, "*.yaml"))
	require.NoError(t, err)
	require.Len(t, files, 5)
	for _, path := range files {
		f, err := tenantfile.Load(path)
		require.NoError(t, err)
		for _, u := range f.Units {
			for _, pe := range u.Policies {
				t.Run(filepath.Base(path)+"/"+u.ID+"/"+policy.Segment(pe.Kind), func(t *testing.T) {
					d := current(t, filepath.Base(path), u.ID, pe.Kind)
					stated := map[string]bool{}
					for _, a := range render.Articles(d.Version) {
						stated[a.Key] = true
					}
					for _, it := range policy.Items(pe.Kind) {
						if it.Requirement == policy.Recommended || it.Key == "preamble" {
							continue
						}
						require.True(t, stated[it.Key], "item %s (%s %s) is neither filled nor declared", it.Key, it.Rule, it.Number)
					}
					if pe.Kind == registryv1.PolicyKind_POLICY_KIND_PRIVACY {
						require.NotEmpty(t, render.Preamble(d.Version), "WG26 item 1 needs a preamble")
					}
					require.Contains(t, render.HTML(d), "</html>")
				})
			}
		}
	}
}

// TestPrivacyPolicies checks the generated parts of seeds 003 and 004: files, officers of the
// whole subtree, "not processed" sentences and the eleven past periods.
func TestPrivacyPolicies(t *testing.T) {
	md := render.Markdown(current(t, "seongnam-library.yaml", "library-office", registryv1.PolicyKind_POLICY_KIND_PRIVACY))
	for _, f := range []string{
		"# 성남시 도서관사업소 개인정보 처리방침",
		"- 도서관리프로그램 회원가입 및 관리 : 정회원 신원 확인, 원활한 도서대출반납",
		"| 홈페이지 회원 가입 및 관리 | 이름, 핸드폰, 생년월일, 이메일주소, 대출자번호, 대출자아이디, 비밀번호 |",
		"2년 주기 재동의로 연장",
		"| 개인정보 보호책임자 | 주광호 | 행정기획조정실장(지방서기관, 4급) | 성남시 | 031-729-2200 |",
		"| 개인정보보호 담당부서 |  |  | 정보통신과 | 031-729-2454 |",
		"## 제22조(개인정보 영향평가 수행 결과 및 개인정보 보호수준 평가 결과)",
		"성남시 도서관사업소는 가명정보", // not: it does process pseudonymised data
		"성남시 도서관사업소는 국내대리인을 지정하고 있지 않습니다.",
		"이 개인정보 처리방침은 2024. 06. 20.부터 적용됩니다.",
		"(~ 2011. 09. 29.)", "(2011. 09. 30. ~ 2014. 07. 21.)", "(2023. 09. 19. ~ 2024. 06. 19.)",
	} {
		if f == "성남시 도서관사업소는 가명정보" {
			require.NotContains(t, md, "가명정보를 처리하지 않습니다")
			continue
		}
		require.Contains(t, md, f)
	}
	require.Equal(t, 11, strings.Count(md, "- 개인정보 처리방침 ("), "eleven past versions")

	md = render.Markdown(current(t, "iksan.yaml", "city", registryv1.PolicyKind_POLICY_KIND_PRIVACY))
	for _, f := range []string{
		"| 익산시 개인정보보호 책임자 | 이산재 | 안전행정국장 | 안전행정국 | 063-859-5101 | living@korea.kr |",
		"| 개인정보보호담당자 | 임성숙 |  | 교육정보과 | 063-859-5812 | lss1025@korea.kr |", // from a sub-unit
		"보유기간의 종료일로부터 5일 이내",
		"최소 6개월 이상 보관",
		"익산시는 가명정보를 처리하지 않습니다.",
		"이 개인정보처리방침은 2012. 03. 26.부터 적용됩니다.",
		"- 개인정보처리방침 (~ 2012. 03. 25.)",
	} {
		require.Contains(t, md, f)
	}
}

// STD-11-2: where a file's data are kept under another law, the retention table says so in a
// 보유근거 column; without such a file there is no column.
func TestRetentionBasis(t *testing.T) {
	d := current(t, "seongnam-library.yaml", "library-office", registryv1.PolicyKind_POLICY_KIND_PRIVACY)
	require.NotEmpty(t, d.Version.Snapshot.Files)
	require.NotContains(t, render.Markdown(d), "보유근거")
	f := d.Version.Snapshot.Files[0]
	f.RetentionBasis = "도서관법 시행령 제17조"
	md := render.Markdown(d)
	require.Contains(t, md, "| 개인정보파일 | 보유기간 | 보유근거 |")
	require.Contains(t, md, "| "+f.GetDisplayName()+" | "+f.GetRetention()+" | 도서관법 시행령 제17조 |")
}

func TestPeriod(t *testing.T) {
	require.Equal(t, "2021. 12. 06. ~ 2024. 01. 15.", render.Period("2021-12-06", "2024-01-15"))
	require.Equal(t, "2024. 01. 16. ~", render.Period("2024-01-16", ""))
	require.Equal(t, "~ 2011. 09. 29.", render.Period("", "2011-09-29"))
	require.Equal(t, "", render.Period("", ""))
	require.Equal(t, "2024. 03. 01.", render.Date("2024-03-01"))
}
