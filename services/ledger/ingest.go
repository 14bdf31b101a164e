package ledger

import (
	"context"
	"fmt"
	"strings"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/ledger/entry"
)

const (
	// MaxBatch bounds the records of one ingested batch.
	MaxBatch = 1000
	// maxBatchID keeps each record's request_id ("ingest/{batch}/{i}") within idempotency.MaxRequestID.
	maxBatchID = 64
)

// Ingest implements pipa.ledger.v1.AccessRecordService on the ledger's batch append
// (pg.Store.AppendBatch): each record becomes an ACCESS entry under the request_id
// "ingest/{batch_id}/{i}", so that a batch sent again is appended once, and a batch's records
// commit together, in one transaction of the log's group commit, with consecutive indexes in the
// batch's order.
type Ingest struct {
	ledgerv1.UnimplementedAccessRecordServiceServer
	s *Server
}

// Ingest is the access-record intake beside s.
func (s *Server) Ingest() *Ingest { return &Ingest{s: s} }

func (in *Ingest) IngestAccessRecords(ctx context.Context, req *ledgerv1.IngestAccessRecordsRequest) (*ledgerv1.IngestAccessRecordsResponse, error) {
	t, u, err := names.ParseUnit("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	// The body's systems write with a service credential on the unit or its tenant; staff do not.
	if err := in.s.units.Authorize(ctx, t, u, []auth.Role{auth.RoleService}); err != nil {
		return nil, err
	}
	p, _ := auth.FromContext(ctx)
	now := in.s.now()
	var vs apierr.Violations
	switch b := req.GetBatchId(); {
	case strings.TrimSpace(b) == "":
		vs.Add("batch_id", "required", "a batch id makes a retried batch one batch")
	case len(b) > maxBatchID:
		vs.Add("batch_id", "range", "must be at most %d bytes", maxBatchID)
	}
	switch n := len(req.GetRecords()); {
	case n == 0:
		vs.Add("records", "required", "a batch holds at least one record")
	case n > MaxBatch:
		vs.Add("records", "range", "at most %d records a batch, got %d", MaxBatch, n)
	}
	entries := make([]*ledgerv1.Entry, len(req.GetRecords()))
	for i, r := range req.GetRecords() {
		field := fmt.Sprintf("records[%d].", i)
		if r.GetDownload() && strings.TrimSpace(r.GetDownloadReason()) == "" {
			vs.Add(field+"download_reason", "S-8-2", "a download states its reason")
		}
		if strings.TrimSpace(r.GetSystem()) == "" {
			vs.Add(field+"system", "S-2-3", "the processing system that kept the record")
		}
		e := &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_ACCESS, OccurTime: r.GetAccessTime(), FileName: r.GetSystem(),
			Actor: r.GetAccount(), RemoteAddr: r.GetRemoteAddr(), Subject: r.GetSubject(), Action: r.GetAction(),
			Purpose: r.GetDownloadReason(), RecordedBy: p.Subject}
		// The entry's own rules (S-2-3 fields, times, sizes), with the record's field names.
		for _, v := range entry.Validate(e, now) {
			v.Field = field + recordField(strings.TrimPrefix(v.Field, "entry."))
			vs = append(vs, v)
		}
		entries[i] = e
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	as := make([]*appending, len(entries))
	for i, e := range entries {
		one := &ledgerv1.AppendEntryRequest{Parent: req.GetParent(), Entry: e, RequestId: fmt.Sprintf("ingest/%s/%d", req.GetBatchId(), i)}
		if as[i], err = in.s.appendRequest(t, u, e, one, appendOpts{}); err != nil {
			return nil, recordErr(i, err)
		}
	}
	res, err := in.s.appendBatch(ctx, t, u, as, recordErr)
	if err != nil {
		return nil, err
	}
	out := &ledgerv1.IngestAccessRecordsResponse{BatchId: req.GetBatchId(), Indexes: make([]int64, len(res))}
	for i, r := range res {
		out.Indexes[i] = r.Index
	}
	return out, nil
}

// recordErr names the i-th record of an ingested batch in err, that record's entry's error.
func recordErr(i int, err error) error {
	return inEntry(err, fmt.Sprintf("records[%d]", i), func(f string) string { return recordField(strings.TrimPrefix(f, "entry.")) })
}

// recordField is the AccessRecord field an Entry field comes from.
func recordField(f string) string {
	switch f {
	case "occur_time":
		return "access_time"
	case "actor":
		return "account"
	case "file_name":
		return "system"
	case "purpose":
		return "download_reason"
	}
	return f
}
