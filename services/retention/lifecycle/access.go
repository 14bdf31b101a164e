package lifecycle

import (
	"slices"
	"time"

	"github.com/pipa-kr/pipa/pkg/accesslog"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
)

// AccessClass is how long a processing system's access records (접속기록) are kept (S-8-1), and
// from which facts.
type AccessClass struct {
	// Years is accesslog.ShortYears or accesslog.LongYears.
	Years int
	// Classified is false when the facts entered do not settle the period: no file names the
	// system, or a file that does leaves its subject count unstated. Such a system is kept
	// LongYears, since nothing says the shorter period applies, and is listed for an officer to
	// enter the facts.
	Classified bool
}

// ClassifyAccess is system's class from the unit's personal-information files, the facts their
// officers entered (DEC-33-1): the files listing the system (PersonalInformationFile.systems)
// keep its records LongYears when one of them holds sensitive data or unique identifiers, or when
// they count together 50,000 subjects or more; ShortYears when every one states its count and
// none of that holds. The count is a sum, since the files do not say how many of their subjects
// they share: a sum over 50,000 may keep records longer than the law asks, never shorter.
func ClassifyAccess(system string, files []*registryv1.PersonalInformationFile) AccessClass {
	c := AccessClass{Years: accesslog.LongYears}
	var total int64
	listed, long, unstated := false, false, false
	for _, f := range files {
		if !slices.Contains(f.GetSystems(), system) {
			continue
		}
		listed = true
		long = long || f.GetSensitive() || f.GetUniqueIdentifiers()
		unstated = unstated || f.GetSubjectCount() == 0
		total += f.GetSubjectCount()
	}
	switch {
	case !listed:
	case long || total >= accesslog.LargeSystem:
		c.Classified = true
	case !unstated:
		c.Classified, c.Years = true, accesslog.ShortYears
	}
	return c
}

// AccessDue says whether an access record of occur, of a system of class c, may be destroyed at
// now: its period has passed in full (S-8-1).
func (c AccessClass) AccessDue(occur, now time.Time) bool {
	return !now.Before(accesslog.KeptUntil(occur, c.Years))
}
