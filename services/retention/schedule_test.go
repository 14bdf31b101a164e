package retention

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/services/retention/store/pg"
)

func kst(y int, m time.Month, d, h int) time.Time {
	return time.Date(y, m, d, h, 0, 0, 0, seoul.Location)
}

// STD-42-2 1: a batch's file name states which recording days it destroyed, and says so when
// held days were left out of the range.
func TestBatchName(t *testing.T) {
	days := func(ds ...int) []pg.Claimed {
		var out []pg.Claimed
		for _, d := range ds {
			day := kst(2026, 10, d, 0)
			out = append(out, pg.Claimed{RecordingDate: &day})
		}
		return out
	}
	require.Equal(t, "중앙도서관 녹화분 2026-10-01~2026-10-03 (3일)", batchName("중앙도서관", days(1, 2, 3)))
	require.Equal(t, "중앙도서관 녹화분 2026-10-01~2026-10-05 중 3일", batchName("중앙도서관", days(5, 1, 3)))
	require.Equal(t, "중앙도서관 녹화분 2026-10-07 (1일)", batchName("중앙도서관", days(7)))
	require.Equal(t, "회원 관리: 2024년 탈퇴 회원 외 1건", batchName("회원 관리",
		[]pg.Claimed{{Description: "2024년 탈퇴 회원"}, {Description: "2025년 탈퇴 회원"}}))
}

// The copy reminders and the C-9 check run daily at 09:00, in Asia/Seoul whatever the server's
// zone; the check is recorded once per quarter, named by the Seoul date.
func TestSchedules(t *testing.T) {
	require.Equal(t, kst(2026, 11, 30, 9), dailyAt(9).Next(kst(2026, 11, 30, 8)).In(seoul.Location))
	require.Equal(t, kst(2026, 12, 1, 9), dailyAt(9).Next(kst(2026, 11, 30, 9)).In(seoul.Location))
	require.Equal(t, kst(2026, 1, 1, 9), dailyAt(9).Next(kst(2025, 12, 31, 23).UTC()).In(seoul.Location))
	require.Equal(t, "2026-Q4", quarter(kst(2026, 12, 31, 23)))
	require.Equal(t, "2027-Q1", quarter(kst(2027, 1, 1, 0)))
}
