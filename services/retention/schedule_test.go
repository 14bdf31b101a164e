package retention

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/seoul"
)

// The copy reminders and the C-9 check run daily at 09:00, in Asia/Seoul whatever the server's
// zone.
func TestSchedules(t *testing.T) {
	at := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, seoul.Location) }
	require.Equal(t, at(2026, 11, 30, 9), dailyAt(9).Next(at(2026, 11, 30, 8)).In(seoul.Location))
	require.Equal(t, at(2026, 12, 1, 9), dailyAt(9).Next(at(2026, 11, 30, 9)).In(seoul.Location))
	require.Equal(t, at(2026, 1, 1, 9), dailyAt(9).Next(at(2025, 12, 31, 23).UTC()).In(seoul.Location))
}
