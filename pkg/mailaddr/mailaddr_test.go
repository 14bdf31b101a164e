package mailaddr_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/mailaddr"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".kr" // 254 bytes
	require.Len(t, long, 254)
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"minwon@example.kr", true},
		{"kim.minji+notice@korea.kr", true},
		{"CCTV@Police.go.kr", true},
		{"민원@example.kr", true}, // RFC 6532: UTF-8 in the local part
		{long, true},
		{"x" + long, false}, // 255 bytes: longer than a relay takes
		{"", false},         // not an address, but Check leaves an optional field that is not given alone
		{"not an address", false},
		{"minwon", false},
		{"@example.kr", false},
		{"minwon@", false},
		{"a@b@example.kr", false},
		{"김민원 <b@example.kr>", false}, // a display name: the mail would go to b, the record keep the name
		{"<b@example.kr>", false},
		{" minwon@example.kr", false},
		{"minwon@example.kr ", false},
		{"minwon@example.kr\r\nBcc: x@example.kr", false},
		{"a@example.kr, b@example.kr", false}, // two addresses
		{"a b@example.kr", false},
		{"(note) a@example.kr", false},
	} {
		require.Equal(t, tc.ok, mailaddr.Valid(tc.addr), "%q", tc.addr)
		var vs apierr.Violations
		mailaddr.Check(&vs, "officer.email", tc.addr)
		if tc.ok || tc.addr == "" {
			require.Empty(t, vs)
			continue
		}
		require.Len(t, vs, 1)
		require.Equal(t, "officer.email", vs[0].Field)
		require.Equal(t, "format", vs[0].Rule)
		require.Contains(t, vs[0].Description, "e-mail address")
		require.NotContains(t, vs[0].Description, tc.addr, "the refusal does not repeat what may be a person's address")
	}
}
