package policy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func d(s string) Date {
	x, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return x
}

func TestDate_ParseAndString(t *testing.T) {
	for _, s := range []string{"2024-01-16", "2024-02-29", "1999-12-31"} {
		x, err := ParseDate(s)
		require.NoError(t, err)
		require.Equal(t, s, x.String())
	}
	for _, s := range []string{"2023-02-29", "2024-1-16", "2024/01/16", "2024-01-16T00:00:00Z", "20240116"} {
		_, err := ParseDate(s)
		require.Error(t, err, s)
	}
	zero, err := ParseDate("")
	require.NoError(t, err)
	require.True(t, zero.IsZero())
	require.Equal(t, "", zero.String())
}

func TestDate_AddDaysAndOrder(t *testing.T) {
	require.Equal(t, d("2024-03-01"), d("2024-02-29").AddDays(1))
	require.Equal(t, d("2024-01-15"), d("2024-01-16").AddDays(-1))
	require.Equal(t, d("2025-01-06"), d("2024-12-30").AddDays(7))
	require.True(t, d("2024-01-15").Before(d("2024-01-16")))
	require.False(t, d("2024-01-16").Before(d("2024-01-16")))
	require.True(t, d("2024-01-16").After(d("2024-01-15")))
	require.Equal(t, 0, d("2024-01-16").Compare(NewDate(2024, time.January, 16)))
}

// Dates are Asia/Seoul days: 15:00 UTC is already the next day in Korea.
func TestToday_AsiaSeoul(t *testing.T) {
	require.Equal(t, d("2024-01-15"), Today(time.Date(2024, 1, 15, 14, 59, 59, 0, time.UTC)))
	require.Equal(t, d("2024-01-16"), Today(time.Date(2024, 1, 15, 15, 0, 0, 0, time.UTC)))
}

// WG26-24: the period as seed 000 publishes it.
func TestPeriodLabel_WG26_24(t *testing.T) {
	require.Equal(t, "2021. 12. 06. ~ 2024. 01. 15.", PeriodLabel(d("2021-12-06"), d("2024-01-15")))
	require.Equal(t, "2024. 01. 16. ~", PeriodLabel(d("2024-01-16"), Date{}))
	require.Equal(t, "", PeriodLabel(Date{}, Date{}))
}
