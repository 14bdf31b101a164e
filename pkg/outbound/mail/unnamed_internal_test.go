package mail

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A relay's reply may spell the recipient's address in another case than the requester wrote it;
// it is still not recorded (unnamed matches in any case), and only the address is replaced.
func TestUnnamedMatchesAnyCase(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ to, text, want string }{
		{"Minwon@Example.kr", "550 5.1.1 <minwon@example.KR>: Recipient address rejected",
			"550 5.1.1 <recipient>: Recipient address rejected"},
		{"김민원 <MinWon2@example.kr>", "affected recipient(s): minwon2@EXAMPLE.kr, minwon2@example.kr.",
			"affected recipient(s): <recipient>, <recipient>."},
		{"a@example.kr", "250 2.0.0 OK: queued", "250 2.0.0 OK: queued"},
		{"한글@예시.kr", "550 <한글@예시.KR> 거부", "550 <recipient> 거부"},
	} {
		require.Equal(t, tc.want, unnamed(tc.to, tc.text), tc.to)
	}
}
