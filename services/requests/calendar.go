package requests

import (
	"context"
	"sync"
	"time"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/requests/clock"
	"github.com/pipa-kr/pipa/services/requests/request"
)

// calendars keeps what the service needs of each tenant's registry record — its clock (day
// counting and closures) and whether it is a public institution (PIPA-18-2, 18-4) — for a minute,
// so that a change of settings takes effect soon without a registry call per request.
type calendars struct {
	mu   sync.Mutex
	byID map[string]cachedTenant
}

type cachedTenant struct {
	request.Tenant
	fetched time.Time
}

const calendarTTL = time.Minute

var counting = map[registryv1.DayCounting]clock.Counting{
	registryv1.DayCounting_DAY_COUNTING_UNSPECIFIED:   clock.CivilCode,
	registryv1.DayCounting_DAY_COUNTING_CIVIL_CODE:    clock.CivilCode,
	registryv1.DayCounting_DAY_COUNTING_CALENDAR_DAYS: clock.CalendarDays,
	registryv1.DayCounting_DAY_COUNTING_WORKING_DAYS:  clock.WorkingDays,
}

// tenant returns what the service keeps of a tenant, asking the registry with the service
// credential when it is not known or a minute old.
func (s *Server) tenant(ctx context.Context, tenant string) (request.Tenant, error) {
	s.cals.mu.Lock()
	c, ok := s.cals.byID[tenant]
	s.cals.mu.Unlock()
	if ok && s.now().Sub(c.fetched) < calendarTTL {
		return c.Tenant, nil
	}
	rctx, err := s.asService(ctx)
	if err != nil {
		return request.Tenant{}, err
	}
	t, err := s.registry.GetTenant(rctx, &registryv1.GetTenantRequest{Name: names.Tenant(tenant)})
	if err != nil {
		return request.Tenant{}, err
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
		return request.Tenant{}, err
	}
	c = cachedTenant{Tenant: request.Tenant{Calendar: cal, Public: t.GetPublicInstitution(), DisplayName: t.GetDisplayName()},
		fetched: s.now()}
	s.cals.mu.Lock()
	s.cals.byID[tenant] = c
	s.cals.mu.Unlock()
	return c.Tenant, nil
}
