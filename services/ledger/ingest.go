package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/idempotency"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/ledger/entry"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

const (
	// MaxBatch bounds the records of one ingested batch.
	MaxBatch = 1000
	// maxBatchID keeps the batch's request_id ("ingest/{batch}") within idempotency.MaxRequestID.
	maxBatchID = 64
)

// Ingest implements pipa.ledger.v1.AccessRecordService on the ledger's batch append
// (pg.Store.AppendBatchOnce): each record becomes an ACCESS entry, and the batch's records commit
// together, in one transaction of the log's group commit, with consecutive indexes in the batch's
// order. The batch has one request_id, "ingest/{batch_id}", fingerprinted by the whole request, so
// that a batch sent again is the same entries and a batch id cannot be taken for other records.
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
	// The tenant's download threshold matters only to a download without its reason: a batch
	// without one is checked without reading the settings.
	var set pg.Settings
	if slices.ContainsFunc(req.GetRecords(), func(r *ledgerv1.AccessRecord) bool {
		return r.GetDownload() && strings.TrimSpace(r.GetDownloadReason()) == ""
	}) {
		if set, err = in.s.store.Settings(ctx, t); err != nil {
			return nil, err
		}
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
		field := func(f string) string { return "records[" + strconv.Itoa(i) + "]." + f } // named only when refused
		if r.GetDownloadRecords() < 0 {
			vs.Add(field("download_records"), "range", "a number of records, 0 (not counted) or more")
		}
		if r.GetDownload() && strings.TrimSpace(r.GetDownloadReason()) == "" && reasonRequired(r.GetDownloadRecords(), set.DownloadReasonThreshold) {
			vs.Add(field("download_reason"), "S-8-2", "a download of %s states its reason (the tenant's threshold: %s)",
				downloadSize(r.GetDownloadRecords()), thresholdRule(set.DownloadReasonThreshold))
		}
		if strings.TrimSpace(r.GetSystem()) == "" {
			vs.Add(field("system"), "S-2-3", "the processing system that kept the record")
		}
		e := &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_ACCESS, OccurTime: r.GetAccessTime(), FileName: r.GetSystem(),
			Actor: r.GetAccount(), RemoteAddr: r.GetRemoteAddr(), Subject: r.GetSubject(), Action: r.GetAction(),
			Purpose: r.GetDownloadReason(), RecordedBy: p.Subject}
		// The entry's own rules (S-2-3 fields, times, sizes), with the record's field names.
		for _, v := range entry.Validate(e, now) {
			v.Field = field(recordField(strings.TrimPrefix(v.Field, "entry.")))
			vs = append(vs, v)
		}
		entries[i] = e
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	// One idempotency key for the batch (its id, fingerprinted by the whole request), kept with
	// its first entry: a batch sent again is the same entries, whatever its size.
	hash, err := idempotency.RequestHash(req)
	if err != nil {
		return nil, err
	}
	reqs := make([]pg.AppendRequest, len(entries))
	for i, e := range entries {
		a, err := in.s.appendRequest(t, u, e, noRequestID, appendOpts{})
		if err != nil {
			return nil, recordErr(i, err)
		}
		reqs[i] = a.req
	}
	res, err := in.s.store.AppendBatchOnce(ctx, t, u, "ingest/"+req.GetBatchId(), hash, reqs)
	if be, ok := errors.AsType[*pg.BatchError](err); ok {
		if v, ok := errors.AsType[*apierr.Error](be.Err); ok && len(v.Violations) == 1 && v.Violations[0].Field == "request_id" {
			// The records have no request ids: the batch's is its batch_id.
			return nil, invalid("batch_id", v.Violations[0].Rule, "this batch_id was already used for other records; use a new one")
		}
		return nil, recordErr(be.Index, be.Err)
	}
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

// reasonRequired says whether a download of n records (0: not counted) states its reason under the
// tenant's threshold (0: every download does; S-8-2). A download of unknown size always does.
func reasonRequired(n, threshold int32) bool { return threshold == 0 || n == 0 || n >= threshold }

func downloadSize(n int32) string {
	if n == 0 {
		return "an uncounted number of records"
	}
	return fmt.Sprintf("%d records", n)
}

func thresholdRule(n int32) string {
	if n == 0 {
		return "every download"
	}
	return fmt.Sprintf("%d records or more", n)
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
