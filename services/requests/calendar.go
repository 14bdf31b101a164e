package requests

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/pipa-kr/pipa/pkg/apierr"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/requests/clock"
)

// calendars keeps what the service needs of each tenant's registry record — its clock (day
// counting and closures) and whether it is a public institution (PIPA-18-2, 18-4) — for a minute,
// so that a change of settings takes effect soon without a registry call per request.
type calendars struct {
	mu   sync.Mutex
	byID map[string]cachedCalendar
}

type cachedCalendar struct {
	cal         *clock.Calendar
	public      bool
	displayName string
	fetched     time.Time
}

const calendarTTL = time.Minute

var counting = map[registryv1.DayCounting]clock.Counting{
	registryv1.DayCounting_DAY_COUNTING_UNSPECIFIED:   clock.CivilCode,
	registryv1.DayCounting_DAY_COUNTING_CIVIL_CODE:    clock.CivilCode,
	registryv1.DayCounting_DAY_COUNTING_CALENDAR_DAYS: clock.CalendarDays,
	registryv1.DayCounting_DAY_COUNTING_WORKING_DAYS:  clock.WorkingDays,
}

// calendar returns the tenant's clock.
func (s *Server) calendar(ctx context.Context, tenant string) (*clock.Calendar, error) {
	c, err := s.tenant(ctx, tenant)
	return c.cal, err
}

// tenant returns what the service keeps of a tenant, asking the registry with the service
// credential when it is not known or a minute old.
func (s *Server) tenant(ctx context.Context, tenant string) (cachedCalendar, error) {
	s.cals.mu.Lock()
	c, ok := s.cals.byID[tenant]
	s.cals.mu.Unlock()
	if ok && s.now().Sub(c.fetched) < calendarTTL {
		return c, nil
	}
	rctx, err := s.asService(ctx)
	if err != nil {
		return c, err
	}
	t, err := s.registry.GetTenant(rctx, &registryv1.GetTenantRequest{Name: names.Tenant(tenant)})
	if err != nil {
		return c, err
	}
	settings := clock.Settings{Counting: counting[t.GetDayCounting()]}
	for _, cl := range t.GetClosures() {
		settings.Closures = append(settings.Closures, clock.Closure{Date: cl.GetDate(), Name: cl.GetName()})
	}
	for _, y := range t.GetHolidayYears() {
		settings.Years = append(settings.Years, int(y))
	}
	cal, err := clock.New(settings)
	if err != nil {
		return c, err
	}
	c = cachedCalendar{cal: cal, public: t.GetPublicInstitution(), displayName: t.GetDisplayName(), fetched: s.now()}
	s.cals.mu.Lock()
	s.cals.byID[tenant] = c
	s.cals.mu.Unlock()
	return c, nil
}

// due is the deadline of days counted from t on the tenant's clock. A year the holiday table
// does not cover is the tenant's to add, so it is said plainly.
func (s *Server) due(ctx context.Context, tenant string, count func(*clock.Calendar) (time.Time, error)) (time.Time, error) {
	cal, err := s.calendar(ctx, tenant)
	if err != nil {
		return time.Time{}, err
	}
	d, err := count(cal)
	if errors.Is(err, clock.ErrYearNotCovered) {
		return time.Time{}, apierr.Precondition("HOLIDAYS_NOT_COVERED",
			"the deadline runs into a year without a public-holiday table: add that year's holidays to the tenant (closures, holiday_years)")
	}
	return d, err
}
