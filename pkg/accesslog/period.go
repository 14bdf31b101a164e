package accesslog

import (
	"strings"
	"time"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
)

// S-8-1: the periods an access record is kept at least, in years. A system that processes data of
// 50,000 or more subjects, unique identifiers (고유식별정보) or sensitive data keeps its records the
// longer one; so does a system nobody has classified, since nothing says the shorter one applies.
const (
	ShortYears = 1
	LongYears  = 2
)

// LargeSystem is the number of data subjects from which a system's records are kept LongYears.
const LargeSystem = 50000

// Pipa is the system of pipa's own access records (this recorder's, which name no system): the
// name a personal-information file lists among its systems to classify them.
const Pipa = "pipa"

// System is the processing system an ACCESS entry records an access to: the ingested record's
// system (its file_name), or Pipa for pipa's own reads.
func System(e *ledgerv1.Entry) string {
	if s := strings.TrimSpace(e.GetFileName()); s != "" {
		return s
	}
	return Pipa
}

// KeptUntil is the earliest time an ACCESS entry of access time occur may be destroyed when its
// system keeps records for years (S-8-1): the same instant that many calendar years later.
func KeptUntil(occur time.Time, years int) time.Time { return occur.AddDate(years, 0, 0) }
