package ledger

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/pkg/server"
	"github.com/pipa-kr/pipa/services/ledger/entry"
)

// ExportPattern is the path of the ledger export (API.md `:export`).
const ExportPattern = "GET /v1/tenants/{tenant}/units/{unit}/ledger:export"

// exportPage is how many entries of a kind an export asks for at a time.
const exportPage = 500

// Export serves a unit's ledger as the 별지 제3호 table an inspector opens (STD-45): CSV by
// default, XLSX with format=xlsx. It holds the entries of entry.FormKinds unless kinds names
// others (comma-separated or repeated, e.g. kinds=access for the access log alone). It reads
// through the ledger's gRPC API with the caller's own token, so the same roles apply as to
// ListEntries, and it streams: rows are written as their pages come, so memory holds a page per
// kind, not the ledger.
func Export(client ledgerv1.LedgerServiceClient) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		format, ctx, ok := exportRequest(w, r)
		if !ok {
			return
		}
		kinds, err := exportKinds(q)
		if err != nil {
			writeStatus(w, status.Convert(apierr.ToStatus(err)))
			return
		}
		unreadable := entry.Unreadable{}
		entries, err := listKinds(ctx, client, names.Unit(r.PathValue("tenant"), r.PathValue("unit")), kinds, unreadable)
		if err != nil {
			writeStatus(w, status.Convert(err))
			return
		}
		out := newDownload(w, fmt.Sprintf("%s-%s-ledger", r.PathValue("tenant"), r.PathValue("unit")), format)
		write := entry.WriteCSV
		if format == "xlsx" {
			write = entry.WriteXLSX
		}
		out.finish(write(out, entries, unreadable))
	})
}

// exportKinds reads the kinds an export holds: names of EntryKind without ENTRY_KIND_, in any
// case; entry.FormKinds when kinds is absent.
func exportKinds(q url.Values) ([]ledgerv1.EntryKind, error) {
	if !q.Has("kinds") {
		return entry.FormKinds, nil
	}
	var out []ledgerv1.EntryKind
	for _, v := range q["kinds"] {
		for _, name := range strings.Split(v, ",") {
			k := entry.ParseKind(strings.TrimSpace(name))
			if k == ledgerv1.EntryKind_ENTRY_KIND_UNSPECIFIED {
				var names []string
				for n := range len(ledgerv1.EntryKind_name) - 1 {
					names = append(names, strings.ToLower(entry.KindName(ledgerv1.EntryKind(n+1))))
				}
				return nil, invalid("kinds", "enum", fmt.Sprintf("%q is not a kind of entry: name one or more of %s, comma-separated", name, strings.Join(names, ", ")))
			}
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	return out, nil
}

// kindList is a unit's entries of one kind, read a page at a time.
type kindList struct {
	req  *ledgerv1.ListEntriesRequest
	page []*ledgerv1.Entry
	more bool
}

// listKinds yields the unit's entries of kinds in index order, those of the tree its checkpoint
// has when it is called, so that an export is the ledger as of one checkpoint. ListEntries
// filters by one kind, so each kind is listed apart and the lists merged. The first pages are read
// before it returns: a refusal is answered before any byte of the file. The entries a page names
// unreadable are added to unreadable as the page is read, before they are yielded.
func listKinds(ctx context.Context, client ledgerv1.LedgerServiceClient, parent string, kinds []ledgerv1.EntryKind,
	unreadable entry.Unreadable) (iter.Seq2[*ledgerv1.Entry, error], error) {
	cp, err := client.GetCheckpoint(ctx, &ledgerv1.GetCheckpointRequest{Parent: parent})
	if err != nil {
		return nil, err
	}
	// fill reads l's next page when its current one is used up.
	fill := func(l *kindList) error {
		for len(l.page) == 0 && l.more {
			resp, err := client.ListEntries(ctx, l.req)
			if err != nil {
				return err
			}
			l.page, l.req.PageToken = resp.GetEntries(), resp.GetNextPageToken()
			for _, n := range resp.GetUnreadable() {
				unreadable[n] = true
			}
			l.more = l.req.PageToken != ""
		}
		if len(l.page) > 0 && l.page[0].GetIndex() >= cp.GetTreeSize() {
			l.page, l.more = nil, false // appended since the checkpoint
		}
		return nil
	}
	lists := make([]*kindList, len(kinds))
	for i, k := range kinds {
		lists[i] = &kindList{req: &ledgerv1.ListEntriesRequest{Parent: parent, Kind: k, PageSize: exportPage}, more: true}
		if err := fill(lists[i]); err != nil {
			return nil, err
		}
	}
	return func(yield func(*ledgerv1.Entry, error) bool) {
		for {
			var next *kindList
			for _, l := range lists {
				if len(l.page) > 0 && (next == nil || l.page[0].GetIndex() < next.page[0].GetIndex()) {
					next = l
				}
			}
			if next == nil {
				return
			}
			e := next.page[0]
			next.page = next.page[1:]
			if !yield(e, nil) {
				return
			}
			if err := fill(next); err != nil {
				yield(nil, err)
				return
			}
		}
	}, nil
}

// download is the response as a file: its headers are set by the first byte written, so that an
// export failing before then still answers with an error status.
type download struct {
	w         http.ResponseWriter
	name, typ string
	started   bool
}

func (d *download) Write(p []byte) (int, error) {
	if !d.started {
		d.started = true
		d.w.Header().Set("Content-Type", d.typ)
		d.w.Header().Set("Content-Disposition", `attachment; filename="`+d.name+`"`)
	}
	return d.w.Write(p)
}

// exportRequest reads an export's format (csv, the default, or xlsx) and passes the caller's
// token on to the service it reads through, so that the same roles apply; a bad format is
// answered here and ok is false.
func exportRequest(w http.ResponseWriter, r *http.Request) (format string, ctx context.Context, ok bool) {
	format = cmp.Or(r.URL.Query().Get("format"), "csv")
	if format != "csv" && format != "xlsx" {
		writeStatus(w, status.Convert(apierr.ToStatus(invalid("format", "enum", "format must be csv or xlsx"))))
		return "", nil, false
	}
	ctx = r.Context()
	if a := r.Header.Get("Authorization"); a != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", a)
	}
	return format, ctx, true
}

// newDownload is a file named {base}-{date in Seoul}.{format}, typed by its format.
func newDownload(w http.ResponseWriter, base, format string) *download {
	d := &download{w: w, typ: "text/csv; charset=utf-8", name: fmt.Sprintf("%s-%s.%s", base, time.Now().In(seoul.Location).Format("20060102"), format)}
	if format == "xlsx" {
		d.typ = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return d
}

// finish ends a download that failed with err: a status if nothing was written yet; otherwise a
// file cut short must not pass for the whole, so the response ends without its last chunk and
// the client sees it fail.
func (d *download) finish(err error) {
	if err == nil {
		return
	}
	if !d.started {
		writeStatus(d.w, status.Convert(apierr.ToStatus(err)))
		return
	}
	panic(http.ErrAbortHandler)
}

// writeStatus answers with a gRPC status as grpc-gateway would, as JSON.
func writeStatus(w http.ResponseWriter, st *status.Status) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(runtime.HTTPStatusFromCode(st.Code()))
	b, _ := server.JSON.Marshal(st.Proto())
	_, _ = w.Write(b)
}
