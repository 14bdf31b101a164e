package lifecycle

import (
	"context"
	"time"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/names"
)

// HoldScope checks that a hold names exactly one thing of the unit that exists: a site with a
// time range, a file, a request, or a ledger entry that links to no request (an entry's item is
// covered by a hold on its request), as the registry and the other services know them (PIPA-21-1).
// It returns what items name to be covered.
func HoldScope(ctx context.Context, reg Registry, recs Records, vs *apierr.Violations, tenant, unit string, h *retentionv1.Hold) (scope string, start, end *time.Time, err error) {
	n := 0
	for _, v := range []string{h.GetSite(), h.GetFile(), h.GetRequest(), h.GetLedgerEntry()} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		vs.Add("hold", "PIPA-21-1", "a hold covers exactly one of: site (with start_time and end_time), file, request, ledger_entry")
		return "", nil, nil, nil
	}
	switch {
	case h.GetSite() != "":
		switch {
		case h.GetStartTime() == nil || h.GetEndTime() == nil:
			vs.Add("hold.start_time", "PIPA-21-1", "a site's hold covers a time range: start_time and end_time")
		case h.GetStartTime().CheckValid() != nil:
			vs.Add("hold.start_time", "PIPA-21-1", "not a valid timestamp: %v", h.GetStartTime().CheckValid())
		case h.GetEndTime().CheckValid() != nil:
			vs.Add("hold.end_time", "PIPA-21-1", "not a valid timestamp: %v", h.GetEndTime().CheckValid())
		case !h.GetEndTime().AsTime().After(h.GetStartTime().AsTime()):
			vs.Add("hold.end_time", "PIPA-21-1", "must be after start_time")
		default:
			a, b := h.GetStartTime().AsTime(), h.GetEndTime().AsTime()
			start, end = &a, &b
		}
		if !names.Sites.In(tenant, unit, h.GetSite()) {
			vs.Add("hold.site", "PIPA-21-1", "must be a site of this unit: %s/sites/{site}", names.Unit(tenant, unit))
		} else if _, err := reg.Site(ctx, h.GetSite()); apierr.KindOf(err) == apierr.KindNotFound {
			vs.Add("hold.site", "PIPA-21-1", "no such site: %s", h.GetSite())
		} else if err != nil {
			return "", nil, nil, err
		}
		return h.GetSite(), start, end, nil
	case h.GetStartTime() != nil || h.GetEndTime() != nil:
		vs.Add("hold.start_time", "PIPA-21-1", "a time range belongs to a site's hold; any other hold covers all of its scope")
	}
	switch {
	case h.GetFile() != "":
		if !names.Files.In(tenant, unit, h.GetFile()) {
			vs.Add("hold.file", "PIPA-21-1", "must be a file of this unit: %s/files/{file}", names.Unit(tenant, unit))
		} else if ok, err := reg.FileExists(ctx, h.GetFile()); err != nil {
			return "", nil, nil, err
		} else if !ok {
			vs.Add("hold.file", "PIPA-21-1", "no such file: %s", h.GetFile())
		}
		return h.GetFile(), nil, nil, nil
	case h.GetRequest() != "":
		if !names.Requests.In(tenant, unit, h.GetRequest()) {
			vs.Add("hold.request", "PIPA-21-1", "must be a request of this unit: %s/requests/{receipt}", names.Unit(tenant, unit))
		} else if _, err := recs.Request(ctx, h.GetRequest()); apierr.KindOf(err) == apierr.KindNotFound {
			vs.Add("hold.request", "PIPA-21-1", "no such request: %s", h.GetRequest())
		} else if err != nil {
			return "", nil, nil, err
		}
		return h.GetRequest(), nil, nil, nil
	}
	e, err := unitEntry(ctx, recs, vs, "hold.ledger_entry", "PIPA-21-1", tenant, unit, h.GetLedgerEntry())
	if e == nil || err != nil {
		return "", nil, nil, err
	}
	if e.GetRequest() != "" {
		vs.Add("hold.ledger_entry", "PIPA-21-1", "entry %d records %s: hold the request, which holds its entries too", e.GetIndex(), e.GetRequest())
	}
	return h.GetLedgerEntry(), nil, nil, nil
}

// unitEntry reads an entry of the unit's ledger named in field; it returns nil, with a violation
// of rule, when there is no such entry.
func unitEntry(ctx context.Context, recs Records, vs *apierr.Violations, field, rule, tenant, unit, name string) (*ledgerv1.Entry, error) {
	if !names.Entries.In(tenant, unit, name) {
		vs.Add(field, rule, "must be an entry of this unit's ledger: %s/ledger/entries/{index}", names.Unit(tenant, unit))
		return nil, nil
	}
	e, err := recs.Entry(ctx, name)
	if apierr.KindOf(err) == apierr.KindNotFound {
		vs.Add(field, rule, "no such ledger entry: %s", name)
		return nil, nil
	}
	return e, err
}
