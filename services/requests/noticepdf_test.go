package requests_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/auth"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/pdfprint"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/requests"
	"github.com/pipa-kr/pipa/services/requests/requeststest"
)

// needTools skips the test when a tool is missing, and fails it where the browser checks are
// required (PIPA_REQUIRE_BROWSER, as CI sets).
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("PIPA_REQUIRE_BROWSER") != "" {
				t.Fatalf("%s is required (PIPA_REQUIRE_BROWSER): sudo make browser-tools; apt-get install poppler-utils", tool)
			}
			t.Skipf("%s is not installed: sudo make browser-tools; apt-get install poppler-utils", tool)
		}
	}
}

// decideForVisit takes a request whose requester collects notices in person to its approval, and
// returns it with the notice it issued.
func decideForVisit(t *testing.T, s *stack) *requestsv1.Request {
	t.Helper()
	r := requeststest.WithChannel(requeststest.AccessRequest())
	r.NoticeMethod = requestsv1.DeliveryMethod_DELIVERY_METHOD_VISIT
	return decide(t, s, r)
}

// A notice a requester collects in person is printed by headless Chromium for the staff: the
// PDF's text (pdftotext) is the notice's, its 접수번호 included; the caller's token decides as for
// GetNotice.
func TestNoticePDF(t *testing.T) {
	t.Parallel()
	needTools(t, pdfprint.Chromium, "pdftotext")
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	got := decideForVisit(t, s)
	path := "/v1/" + got.GetNotices()[0] + "/pdf"

	resp := s.Get(path)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, stacktest.Body(t, resp))
	resp = s.Get(path, "Authorization", "Bearer "+s.Token(auth.RoleHandler, "tenants/jeongeup/units/children"))
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "another unit's staff: %s", stacktest.Body(t, resp))

	// Chromium starts for each print: seconds on a quiet machine, tens of them on a loaded one.
	req, err := http.NewRequest(http.MethodGet, s.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.Token(auth.RoleHandler, libraryUnit))
	resp, err = (&http.Client{Timeout: 3 * time.Minute}).Do(req)
	require.NoError(t, err)
	pdf, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(pdf))
	require.Equal(t, "application/pdf", resp.Header.Get("Content-Type"))
	require.Equal(t, `inline; filename="`+got.GetReceiptNumber()+`-notice-1.pdf"`, resp.Header.Get("Content-Disposition"))
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	require.True(t, bytes.HasPrefix(pdf, []byte("%PDF-")))
	cmd := exec.Command("pdftotext", "-enc", "UTF-8", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	text, err := cmd.Output()
	require.NoError(t, err)
	flat := strings.Join(strings.Fields(string(text)), " ")
	for _, want := range []string{"접수번호", got.GetReceiptNumber(), "개인정보 열람 결정 통지", "정읍시립도서관 2층 민원실"} {
		require.Contains(t, flat, want)
	}
}

// Where Chromium is not installed the API says so, naming it (FailedPrecondition,
// BROWSER_MISSING), and serves no other document.
func TestNoticePDFWithoutBrowser(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	got := decideForVisit(t, s)
	mux := http.NewServeMux()
	mux.Handle(requests.NoticePDFPattern, requests.NoticePDF(s.requests(), pdfprint.New("pipa-test-no-chromium", 1)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/"+got.GetNotices()[0]+"/pdf", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.Token(auth.RoleHandler, libraryUnit))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body := stacktest.Body(t, resp)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.Contains(t, body, "BROWSER_MISSING")
	require.Contains(t, body, "pipa-test-no-chromium")
}

// A path that spells no notice is refused as GetNotice refuses the name (InvalidArgument naming
// name and its shape), before anything is read: the route parses it with pkg/names first, so the
// PDF's filename comes from the parsed receipt and number, never from raw path values.
func TestNoticePDFBadName(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	got := decideForVisit(t, s)
	mux := http.NewServeMux()
	// No client: a route that read before parsing would fail here rather than refuse.
	mux.Handle(requests.NoticePDFPattern, requests.NoticePDF(nil, pdfprint.New("pipa-test-no-chromium", 1)))
	bare := httptest.NewServer(mux)
	t.Cleanup(bare.Close)
	req := "/v1/" + got.GetName()
	for _, bad := range []string{req + "/notices/0/pdf", req + "/notices/01/pdf", req + "/notices/1%22x/pdf",
		"/v1/tenants/jeongeup/units/library/requests/X-1/notices/1/pdf", "/v1/tenants/Jeongeup/units/library/requests/" + got.GetReceiptNumber() + "/notices/1/pdf"} {
		for _, base := range []string{bare.URL, s.URL} {
			r, err := http.NewRequest(http.MethodGet, base+bad, nil)
			require.NoError(t, err)
			r.Header.Set("Authorization", "Bearer "+s.Token(auth.RoleHandler, libraryUnit))
			resp, err := http.DefaultClient.Do(r)
			require.NoError(t, err, bad)
			body := stacktest.Body(t, resp)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", bad, body)
			require.Contains(t, body, `"field":"name"`, bad)
			require.Contains(t, body, "requests/{receipt}/notices/{number}", bad)
		}
	}
}
