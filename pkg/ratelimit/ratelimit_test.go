package ratelimit

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
)

// clock is a hand-moved clock; tests move it rather than wait.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestLimiter(perSecond float64, burst int, opts ...Option) (*Limiter, *clock) {
	l := New(perSecond, burst, opts...)
	c := &clock{t: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)}
	l.now = c.now
	return l, c
}

var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })

func publicOnly(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/public/") }

// do sends one request from remoteAddr, with X-Forwarded-For if xff is not empty.
func do(h http.Handler, path, remoteAddr, xff string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.RemoteAddr = remoteAddr
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestMiddleware(t *testing.T) {
	l, clk := newTestLimiter(0.5, 2) // a token every 2 s
	h := l.Middleware(publicOnly, ok)

	for range 2 {
		require.Equal(t, http.StatusOK, do(h, "/public/policies", "198.51.100.7:4000", "").Code)
	}
	rec := do(h, "/public/policies", "198.51.100.7:4001", "")
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	require.Equal(t, "2", rec.Header().Get("Retry-After"))
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	require.JSONEq(t, `{"code":8,"message":"rate limit exceeded, retry later",
		"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"pipa","reason":"RATE_LIMITED"}]}`, rec.Body.String())

	require.Equal(t, http.StatusOK, do(h, "/public/policies", "198.51.100.8:4000", "").Code, "another client has its own bucket")
	require.Equal(t, http.StatusOK, do(h, "/v1/tenants", "198.51.100.7:4000", "").Code, "unmatched paths are not limited")

	clk.advance(time.Second)
	rec = do(h, "/public/policies", "198.51.100.7:4000", "")
	require.Equal(t, http.StatusTooManyRequests, rec.Code, "a rejected request does not use up a token")
	require.Equal(t, "1", rec.Header().Get("Retry-After"))
	clk.advance(time.Second)
	require.Equal(t, http.StatusOK, do(h, "/public/policies", "198.51.100.7:4000", "").Code)
}

func TestMiddlewareOverRealHTTP(t *testing.T) {
	srv := httptest.NewServer(New(1, 1).Middleware(publicOnly, ok))
	t.Cleanup(srv.Close)

	resp, err := srv.Client().Get(srv.URL + "/public/x")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	resp, err = srv.Client().Get(srv.URL + "/public/x")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	// A google.rpc.Status as the gateway writes one, with its ErrorInfo.
	var st spb.Status
	require.NoError(t, protojson.Unmarshal(body, &st))
	require.Equal(t, int32(codes.ResourceExhausted), st.GetCode())
	require.Len(t, st.GetDetails(), 1)
	var info errdetails.ErrorInfo
	require.NoError(t, st.GetDetails()[0].UnmarshalTo(&info))
	require.Equal(t, "RATE_LIMITED", info.GetReason())
}

func TestTrustedProxies(t *testing.T) {
	l, _ := newTestLimiter(1, 1, WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8")))
	h := l.Middleware(publicOnly, ok)

	// Two clients behind the same trusted proxy are counted apart.
	require.Equal(t, http.StatusOK, do(h, "/public/x", "10.1.2.3:80", "203.0.113.1, 10.9.9.9").Code)
	require.Equal(t, http.StatusOK, do(h, "/public/x", "10.1.2.3:80", "203.0.113.2").Code)
	require.Equal(t, http.StatusTooManyRequests, do(h, "/public/x", "10.1.2.4:80", "203.0.113.1").Code)

	// An untrusted peer cannot choose whom it is counted as.
	require.Equal(t, http.StatusOK, do(h, "/public/x", "192.0.2.50:80", "203.0.113.3").Code)
	require.Equal(t, http.StatusTooManyRequests, do(h, "/public/x", "192.0.2.50:80", "203.0.113.4").Code)

	// A client that forges a hop of its own is still counted as the address its proxy appended.
	require.Equal(t, http.StatusOK, do(h, "/public/x", "10.1.2.3:80", "198.51.100.1, 203.0.113.7").Code)
	require.Equal(t, http.StatusTooManyRequests, do(h, "/public/x", "10.1.2.3:80", "198.51.100.2, 203.0.113.7").Code)

	// A garbled header from a trusted proxy counts against the proxy itself.
	require.Equal(t, http.StatusOK, do(h, "/public/x", "10.1.2.5:80", "unknown").Code)
	require.Equal(t, http.StatusTooManyRequests, do(h, "/public/x", "10.1.2.5:80", "").Code)
}

func TestIPv6CountedPerSlash64(t *testing.T) {
	l, _ := newTestLimiter(1, 1)
	h := l.Middleware(publicOnly, ok)
	require.Equal(t, http.StatusOK, do(h, "/public/x", "[2001:db8:1:2::1]:80", "").Code)
	require.Equal(t, http.StatusTooManyRequests, do(h, "/public/x", "[2001:db8:1:2:ffff::9]:80", "").Code)
	require.Equal(t, http.StatusOK, do(h, "/public/x", "[2001:db8:1:3::1]:80", "").Code)
	// An IPv4 address seen as IPv4-mapped IPv6 is the same client.
	require.Equal(t, http.StatusOK, do(h, "/public/x", "192.0.2.1:80", "").Code)
	require.Equal(t, http.StatusTooManyRequests, do(h, "/public/x", "[::ffff:192.0.2.1]:80", "").Code)
}

func TestIdleClientsAreEvicted(t *testing.T) {
	l, clk := newTestLimiter(1, 5)
	h := l.Middleware(publicOnly, ok)
	for i := range 1000 {
		do(h, "/public/x", fmt.Sprintf("198.18.%d.%d:80", i/256, i%256), "")
	}
	require.Len(t, l.clients, 1000)

	clk.advance(l.idle)
	do(h, "/public/x", "192.0.2.1:80", "")
	require.Len(t, l.clients, 1, "only the client just seen is left")
}

func TestClientTableIsCapped(t *testing.T) {
	l, _ := newTestLimiter(1, 1)
	l.maxClients = 3
	h := l.Middleware(publicOnly, ok)
	for i := range 3 {
		require.Equal(t, http.StatusOK, do(h, "/public/x", fmt.Sprintf("198.18.0.%d:80", i), "").Code)
	}
	// Past the cap, new clients share one bucket until idle entries are swept.
	require.Equal(t, http.StatusOK, do(h, "/public/x", "198.18.1.1:80", "").Code)
	require.Equal(t, http.StatusTooManyRequests, do(h, "/public/x", "198.18.1.2:80", "").Code)
	require.Len(t, l.clients, 3)
}

func TestDisabled(t *testing.T) {
	for _, perSecond := range []float64{0, -1} {
		l := New(perSecond, 1)
		h := l.Middleware(publicOnly, ok)
		for range 100 {
			require.Equal(t, http.StatusOK, do(h, "/public/x", "192.0.2.1:80", "").Code)
		}
		require.Empty(t, l.clients)
	}
}
