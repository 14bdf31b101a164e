package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pipa-kr/pipa/pkg/auth"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
)

// The public pages as a citizen's browser shows them, in headless Chromium (Debian's chromium,
// driven over the DevTools protocol by chromedp): every kind of page is loaded, checked with
// axe-core against KWCAG 2.2 — the accessibility standard Korean public websites must meet, whose
// checks are WCAG 2.x A and AA — and fails on any serious or critical violation; the print
// stylesheet is checked; and with PIPA_SCREENSHOTS set (`make screenshots`) each page is
// photographed into docs/, at 1280 px and the policy page at 360 px too. The kinds: the list of
// bodies, a body's index, a unit's page, a policy in force (with and without a 신·구 대조표), a past
// version known by its period and one frozen in full, the request form, its receipt, the status
// form and a status found, a breach's posting (DEC-39-3) and the error page.
//
// Without Chromium or axe-core the test says so and skips, unless PIPA_REQUIRE_BROWSER is set
// (CI sets it, .ci/run): then it fails. `make browser-tools` installs both.
func TestPublicPagesInChromium(t *testing.T) {
	t.Parallel()
	chromium, axe := browserTools(t)
	s := startStack(t)
	for _, f := range []string{"jeongeup-library.yaml", "iksan.yaml"} {
		s.Load(f)
	}
	// 시민안전과's policy as a body imports it: a past version and the one that replaced it, both in
	// full, so that a past version's text and a 신·구 대조표 are on the pages checked.
	civil := "tenants/iksan/units/civil-safety/policies/cctv"
	for _, v := range []struct{ from, to, days string }{{"2020-01-01", "2023-12-31", "15"}, {"2024-01-01", "", "30"}} {
		_, err := s.Registry.ImportPolicyVersion(s.Admin(), &registryv1.ImportPolicyVersionRequest{Parent: civil,
			PolicyVersion: &registryv1.PolicyVersion{EffectiveDate: v.from, EndDate: v.to},
			Source: &registryv1.PolicySource{Format: registryv1.PolicySourceFormat_POLICY_SOURCE_FORMAT_TEXT,
				Content: "시민안전과 영상정보처리기기 운영·관리 방침\n제1조(목적)\n이 방침은 방범용 영상정보처리기기의 운영에 관하여 정한다.\n" +
					"제2조(보관기간)\n영상정보는 " + v.days + "일간 보관한다.\n별표1 설치 현황\n구분\t장소\t대수\n방범\t어린이공원\t2대"}})
		require.NoError(t, err)
	}
	// A breach posted for the subjects who cannot be reached.
	var leak requestsv1.Breach
	require.NoError(t, protojson.Unmarshal([]byte(`{"type":"BREACH_TYPE_LEAK","knownTime":"`+time.Now().Add(-2*time.Hour).UTC().Format(time.RFC3339)+`",
		"knownEvidence":"민원 접수 기록","subjectCount":120,"cause":"BREACH_CAUSE_MISTAKE","circumstances":"회원 안내 메일을 숨은참조 없이 발송",
		"items":["성명","전자우편주소"],"occurTime":"`+time.Now().Add(-3*time.Hour).UTC().Format(time.RFC3339)+`",
		"subjectActions":"의심스러운 메일의 링크를 열지 마십시오","measures":"수신자에게 삭제 요청",
		"reliefProcedure":"피해 신고 시 상담 및 분쟁조정 안내","contact":{"department":"시립도서관 운영팀","phone":"063-539-6000"}}`), &leak))
	breaches := requestsv1.NewBreachServiceClient(s.Conn)
	cpo := s.As(auth.RoleCPO, libraryUnit)
	b, err := breaches.CreateBreach(cpo, &requestsv1.CreateBreachRequest{Parent: libraryUnit, Breach: &leak})
	require.NoError(t, err)
	b, err = breaches.PostBreach(cpo, &requestsv1.PostBreachRequest{Name: b.GetName(), UnreachableReason: "회원 20명의 연락처 없음"})
	require.NoError(t, err)

	pages := []struct{ name, path, want string }{
		{"policy-cctv", "/p/jeongeup/library/cctv", "정읍시립도서관 영상정보처리기기운영·관리방침"},
		{"policy-past-version", "/p/jeongeup/library/cctv/versions/1", "이 버전의 본문은 pipa에 보관되어 있지 않습니다"},
		{"policy-privacy", "/p/iksan/city/privacy", "익산시 개인정보처리방침"},
		{"index", "/p/iksan", "익산시 교통행정과"},
		{"unit", "/p/iksan/transport", "pipa에 게시된 방침이 아직 없습니다"},
		{"bodies", "/p/", "익산시"},
		{"request-form", "/p/jeongeup/library/requests/new", "개인정보 열람 등 요구서"},
		{"request-status", "/p/requests/status", "처리 상태"},
		{"not-found", "/p/jeongeup/library/privacy", "요청하신 페이지를 찾을 수 없습니다"},
		{"policy-changed", "/p/iksan/civil-safety/cctv", "신·구 대조표"},
		{"policy-past-text", "/p/iksan/civil-safety/cctv/versions/1", "영상정보는 15일간 보관한다."},
		{"breach-posting", b.GetPosting().GetPath(), "정읍시립도서관 · 게시 기간"},
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:0:0],
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	require.NoError(t, chromedp.Do(bctx), "start chromium")
	shots := os.Getenv("PIPA_SCREENSHOTS")

	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
			defer cancel()
			require.NoError(t, chromedp.Do(ctx, media("screen"), chromedp.EmulateViewport(1280, 900), chromedp.Navigate(s.URL+p.path)))
			checkPage(t, ctx, axe, p.want)
			if shots != "" {
				screenshot(t, ctx, filepath.Join(shots, p.name+".png"), 1280)
				if p.name == "policy-cctv" {
					screenshot(t, ctx, filepath.Join(shots, p.name+"-360.png"), 360)
				}
			}
		})
	}

	// The pages a citizen reaches by sending a form: the receipt, then the status it gives.
	t.Run("request-receipt-and-status", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
		defer cancel()
		require.NoError(t, chromedp.Do(ctx, media("screen"), chromedp.Navigate(s.URL+"/p/jeongeup/library/requests/new")))
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("type-ACCESS").checked = true;
			document.getElementById("requester_name").value = "김민원";
			document.getElementById("requester_phone").value = "010-1234-5678";
			document.getElementById("access_items-CONTENT").checked = true;
			document.querySelector("form").submit(); true`))
		require.NoError(t, err)
		require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("dd#secret"))))
		checkPage(t, ctx, axe, "정읍시립도서관에 요구서가 접수되었습니다")
		secret, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("secret").textContent`))
		require.NoError(t, err)
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`a[href^="/p/requests/status"]`)),
			chromedp.WaitVisible(chromedp.CSS(`input#secret`))))
		_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector("input#secret").value = %q;
			document.querySelector("form").submit(); true`, secret)))
		require.NoError(t, err)
		require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#state"))))
		checkPage(t, ctx, axe, "정읍시립도서관 요구 처리 상태")
	})

	// The print stylesheet: navigation and footers are not printed, the document is.
	t.Run("print", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(s.URL+"/p/jeongeup/library/cctv"), media("print")))
		nav, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("header.site")).display`))
		require.NoError(t, err)
		doc, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("article.policy")).display`))
		require.NoError(t, err)
		require.Equal(t, "none", nav)
		require.NotEqual(t, "none", doc)
	})
}

// checkPage checks the page ctx shows: in Korean, with want in its text as rendered, working
// without JavaScript, and with no serious or critical violation of KWCAG 2.2 by axe-core.
func checkPage(t *testing.T, ctx context.Context, axe, want string) {
	t.Helper()
	lang, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`))
	require.NoError(t, err)
	require.Equal(t, "ko", lang)
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	require.NoError(t, err)
	require.Contains(t, text, want, "the page as rendered")
	scripts, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.scripts.length`))
	require.NoError(t, err)
	require.Zero(t, scripts, "the public pages work without JavaScript")

	// KWCAG 2.2 through axe-core: no serious or critical violation.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](axe+";true"))
	require.NoError(t, err, "load axe-core")
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {runOnly: {type: "tag",
			values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}})
		.then(r => JSON.stringify({passes: r.passes.length, violations: r.violations.map(v => ({id: v.id, impact: v.impact,
			help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}))}))`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	var res struct {
		Passes     int
		Violations []struct {
			ID, Impact, Help string
			Nodes            []string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(raw), &res))
	require.Greater(t, res.Passes, 5, "axe checked the page")
	for _, v := range res.Violations {
		if v.Impact == "serious" || v.Impact == "critical" {
			t.Errorf("axe %s (%s): %s at %v", v.ID, v.Impact, v.Help, v.Nodes)
		}
	}
}

// media emulates a CSS media type ("screen", "print").
func media(m string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: m})
		return err
	})
}

// browserTools finds Chromium and axe-core, or skips (fails where PIPA_REQUIRE_BROWSER is set).
func browserTools(t *testing.T) (chromium, axe string) {
	t.Helper()
	var missing []string
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		missing = append(missing, "chromium")
	}
	path := os.Getenv("PIPA_AXE")
	if path == "" {
		path = filepath.Join("..", "..", ".bin", "axe-core", "axe.min.js")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		missing = append(missing, "axe-core ("+path+")")
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("the browser checks need %s: run `sudo make browser-tools`", strings.Join(missing, " and "))
		if os.Getenv("PIPA_REQUIRE_BROWSER") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return chromium, string(b)
}

// screenshot photographs the whole page at a width.
func screenshot(t *testing.T, ctx context.Context, file string, width int64) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(width, 800)))
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.Greater(t, len(png), 10_000, "a screenshot of a rendered page")
	require.NoError(t, os.WriteFile(file, png, 0o644))
}
