package lifecycle_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/accesslog"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/services/retention/lifecycle"
)

// S-8-1: a system's access records are kept one year, or two when its files count 50,000
// subjects or more, or hold sensitive data or unique identifiers; from entered facts only, so
// that a system no file names, or whose count is unstated, is kept two years and unclassified.
func TestClassifyAccess_S_8_1(t *testing.T) {
	file := func(name string, subjects int64, sensitive, unique bool, systems ...string) *registryv1.PersonalInformationFile {
		return &registryv1.PersonalInformationFile{Name: "tenants/t/units/u/files/" + name, SubjectCount: subjects,
			Sensitive: sensitive, UniqueIdentifiers: unique, Systems: systems}
	}
	for _, c := range []struct {
		name       string
		files      []*registryv1.PersonalInformationFile
		years      int
		classified bool
	}{
		{"no file names it", []*registryv1.PersonalInformationFile{file("a", 10, false, false, "other")}, 2, false},
		{"49,999 subjects", []*registryv1.PersonalInformationFile{file("a", 49999, false, false, "sys")}, 1, true},
		{"50,000 subjects", []*registryv1.PersonalInformationFile{file("a", 50000, false, false, "sys")}, 2, true},
		{"two files, 50,000 together", []*registryv1.PersonalInformationFile{file("a", 25000, false, false, "sys"),
			file("b", 25000, false, false, "x", "sys")}, 2, true},
		{"sensitive data", []*registryv1.PersonalInformationFile{file("a", 10, true, false, "sys")}, 2, true},
		{"unique identifiers", []*registryv1.PersonalInformationFile{file("a", 10, false, true, "sys")}, 2, true},
		{"a count unstated", []*registryv1.PersonalInformationFile{file("a", 10, false, false, "sys"), file("b", 0, false, false, "sys")}, 2, false},
		{"a count unstated, sensitive", []*registryv1.PersonalInformationFile{file("a", 0, true, false, "sys")}, 2, true},
	} {
		got := lifecycle.ClassifyAccess("sys", c.files)
		require.Equal(t, c.years, got.Years, c.name)
		require.Equal(t, c.classified, got.Classified, c.name)
	}
}

// S-8-1: a record is due once its whole period has passed, not a second before.
func TestAccessDue_S_8_1(t *testing.T) {
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	short := lifecycle.AccessClass{Years: accesslog.ShortYears}
	long := lifecycle.AccessClass{Years: accesslog.LongYears}
	require.False(t, short.AccessDue(at, at.AddDate(1, 0, -1)))
	require.False(t, short.AccessDue(at, at.AddDate(1, 0, 0).Add(-time.Second)))
	require.True(t, short.AccessDue(at, at.AddDate(1, 0, 0)))
	require.False(t, long.AccessDue(at, at.AddDate(1, 0, 1)))
	require.False(t, long.AccessDue(at, at.AddDate(2, 0, 0).Add(-time.Second)))
	require.True(t, long.AccessDue(at, at.AddDate(2, 0, 0)))
}
