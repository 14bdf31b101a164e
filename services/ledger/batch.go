package ledger

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// MaxBatchAppend bounds the entries of one BatchAppendEntries call. They commit in one
// transaction (the store takes up to pg.MaxAppendBatch), and 500 entries of the usual size (about
// 1 kB as JSON) stay well inside a staff request's body limit (server.DefaultLimits.Body, 1 MiB).
const MaxBatchAppend = 500

// BatchAppendEntries appends the requests' entries to one unit's log all together or not at all
// (AIP-233), on the store's group commit (pg.Store.AppendBatch): consecutive indexes in the order
// given. Every entry is checked as AppendEntry checks it before anything is written, and each is
// idempotent by its own request_id exactly as there, under the same fingerprint: an entry may be
// sent alone first and in a batch later (the ledger outbox does) and is appended once.
func (s *Server) BatchAppendEntries(ctx context.Context, req *ledgerv1.BatchAppendEntriesRequest) (*ledgerv1.BatchAppendEntriesResponse, error) {
	t, u, err := names.ParseUnit("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := s.units.Authorize(ctx, t, u, appendRoles); err != nil {
		return nil, err
	}
	switch n := len(req.GetRequests()); {
	case n == 0:
		return nil, invalid("requests", "required", "a batch holds at least one entry")
	case n > MaxBatchAppend:
		return nil, invalid("requests", "range", fmt.Sprintf("at most %d entries a batch, got %d", MaxBatchAppend, n))
	}
	seen := make(map[string]int, len(req.GetRequests()))
	as := make([]*appending, len(req.GetRequests()))
	for i, r := range req.GetRequests() {
		if p := r.GetParent(); p != "" && p != req.GetParent() {
			return nil, invalid(fmt.Sprintf("requests[%d].parent", i), "AIP-233", "must be empty or the batch's parent "+req.GetParent())
		}
		if id := r.GetRequestId(); id != "" {
			if j, ok := seen[id]; ok {
				return nil, invalid(fmt.Sprintf("requests[%d].request_id", i), "AIP-155", fmt.Sprintf("the same request_id as requests[%d]: each entry has its own", j))
			}
			seen[id] = i
		}
		// As AppendEntry would get it, so that both fingerprint it alike.
		one := &ledgerv1.AppendEntryRequest{Parent: req.GetParent(), Entry: r.GetEntry(), RequestId: r.GetRequestId()}
		e, err := s.checkAppend(ctx, t, u, one)
		if err == nil {
			as[i], err = s.appendRequest(t, u, e, one, appendOpts{})
		}
		if err != nil {
			return nil, requestErr(i, err)
		}
	}
	res, err := s.appendBatch(ctx, t, u, as, requestErr)
	if err != nil {
		return nil, err
	}
	out := &ledgerv1.BatchAppendEntriesResponse{Entries: make([]*ledgerv1.Entry, len(as))}
	var g errgroup.Group
	g.SetLimit(8) // only replays read anything
	for i, a := range as {
		g.Go(func() (err error) {
			out.Entries[i], err = s.stored(ctx, t, u, a, res[i])
			return err
		})
	}
	return out, g.Wait()
}

// appendBatch commits as to log t/u together (pg.Store.AppendBatch); the error of an entry that
// fails the batch is given to named with the entry's place.
func (s *Server) appendBatch(ctx context.Context, t, u string, as []*appending, named func(i int, err error) error) ([]pg.Appended, error) {
	reqs := make([]pg.AppendRequest, len(as))
	for i, a := range as {
		reqs[i] = a.req
	}
	res, err := s.store.AppendBatch(ctx, t, u, reqs)
	if be, ok := errors.AsType[*pg.BatchError](err); ok {
		return nil, named(be.Index, be.Err)
	}
	return res, err
}

// requestErr names the i-th request of a BatchAppendEntries call in err, that request's error.
func requestErr(i int, err error) error {
	return inEntry(err, fmt.Sprintf("requests[%d]", i), func(f string) string { return f })
}

// inEntry is err, the error of one entry of a batch, as the batch's: its message says which entry
// (label, e.g. "requests[3]"), and each field violation's field becomes label.field(field).
func inEntry(err error, label string, field func(string) string) error {
	e, ok := errors.AsType[*apierr.Error](err)
	if !ok {
		return err
	}
	out := *e
	out.Message = label + ": " + e.Message
	out.Violations = make([]apierr.Violation, len(e.Violations))
	for i, v := range e.Violations {
		v.Field = label + "." + field(v.Field)
		out.Violations[i] = v
	}
	return &out
}
