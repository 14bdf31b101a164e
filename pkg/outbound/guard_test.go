package outbound

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPublic(t *testing.T) {
	t.Parallel()
	for a, want := range map[string]bool{
		"93.184.216.34": true, "2001:4860:4860::8888": true, "211.234.118.50": true,
		"127.0.0.1": false, "::1": false, "10.0.0.1": false, "172.16.5.4": false, "192.168.1.1": false,
		"100.64.0.1": false, "169.254.169.254": false, "fe80::1": false, "fc00::1": false,
		"0.0.0.0": false, "::": false, "224.0.0.1": false, "::ffff:127.0.0.1": false, "::ffff:8.8.8.8": true,
	} {
		require.Equal(t, want, public(netip.MustParseAddr(a)), a)
	}
}

// The dialer's own check refuses a loopback receiver however its URL got there (a name that
// resolved elsewhere when the subscription was made: DNS rebinding), and allows it when the
// operator allows private receivers.
func TestWebhookClientDialsOnlyPublic(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer srv.Close()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL, nil)
	require.NoError(t, err)
	_, err = webhookClient(Guard{AllowHTTP: true}).Do(req)
	require.True(t, errors.Is(err, errNotPublic), "got %v", err)
	resp, err := webhookClient(Guard{AllowHTTP: true, AllowPrivate: true}).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Error(t, Guard{}.checkScheme(srv.URL))
	require.NoError(t, Guard{AllowHTTP: true}.checkScheme(srv.URL))
}
