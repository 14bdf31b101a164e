package cors

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })

func request(h http.Handler, method, origin string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/v1/tenants/iksan/requests", nil)
	req.Header.Set("Origin", origin)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestConfiguredOrigins(t *testing.T) {
	h := Handler([]string{"https://console.pipa.go.kr", "https://privacy.iksan.go.kr"}, ok)

	rec := request(h, http.MethodGet, "https://privacy.iksan.go.kr")
	require.Equal(t, "https://privacy.iksan.go.kr", rec.Header().Get("Access-Control-Allow-Origin"))
	require.Equal(t, "true", rec.Header().Get("Access-Control-Allow-Credentials"))
	require.Equal(t, "Etag, Retry-After", rec.Header().Get("Access-Control-Expose-Headers"))

	rec = request(h, http.MethodOptions, "https://console.pipa.go.kr",
		"Access-Control-Request-Method", http.MethodPatch,
		"Access-Control-Request-Headers", "authorization,content-type,if-match")
	require.Equal(t, http.StatusNoContent, rec.Code)
	require.Equal(t, "https://console.pipa.go.kr", rec.Header().Get("Access-Control-Allow-Origin"))
	require.Equal(t, http.MethodPatch, rec.Header().Get("Access-Control-Allow-Methods"))
	require.Equal(t, "authorization,content-type,if-match", rec.Header().Get("Access-Control-Allow-Headers"))
	require.Equal(t, "600", rec.Header().Get("Access-Control-Max-Age"))

	for _, origin := range []string{
		"https://evil.example",
		"http://privacy.iksan.go.kr",          // another scheme
		"https://privacy.iksan.go.kr.evil.kr", // a suffix
	} {
		rec := request(h, http.MethodGet, origin)
		require.Equal(t, http.StatusOK, rec.Code, "the request itself is served; the browser withholds the answer")
		require.Empty(t, rec.Header().Get("Access-Control-Allow-Origin"), origin)
	}

	rec = request(h, http.MethodOptions, "https://console.pipa.go.kr",
		"Access-Control-Request-Method", http.MethodPut)
	require.Empty(t, rec.Header().Get("Access-Control-Allow-Origin"), "PUT is not an allowed method")
}

func TestPatternsAreNotWildcards(t *testing.T) {
	h := Handler([]string{"https://*.go.kr"}, ok)
	require.Empty(t, request(h, http.MethodGet, "https://privacy.iksan.go.kr").Header().Get("Access-Control-Allow-Origin"))
}

func TestExplicitWildcard(t *testing.T) {
	h := Handler([]string{"*"}, ok)
	rec := request(h, http.MethodGet, "https://anyone.example")
	require.Equal(t, "*", rec.Header().Get("Access-Control-Allow-Origin"))
	require.Empty(t, rec.Header().Get("Access-Control-Allow-Credentials"))
}

func TestNoOrigins(t *testing.T) {
	rec := request(Handler(nil, ok), http.MethodGet, "https://anyone.example")
	require.Empty(t, rec.Header().Get("Access-Control-Allow-Origin"))
}
