package ledger

import (
	"fmt"
	"net/http"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/services/ledger/entry"
)

// ExportPattern is the path of the ledger export (API.md `:export`).
const ExportPattern = "GET /v1/tenants/{t}/units/{u}/ledger:export"

// Export serves a unit's ledger as the 별지 제3호 table an inspector opens (STD-45): CSV by
// default, XLSX with format=xlsx. It reads through the ledger's gRPC API with the caller's own
// token, so the same roles apply as to ListEntries.
func Export(client ledgerv1.LedgerServiceClient) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		format := r.URL.Query().Get("format")
		if format == "" {
			format = "csv"
		}
		if format != "csv" && format != "xlsx" {
			writeStatus(w, status.New(codes.InvalidArgument, "format must be csv or xlsx"))
			return
		}
		ctx := r.Context()
		if a := r.Header.Get("Authorization"); a != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", a)
		}
		parent := "tenants/" + r.PathValue("t") + "/units/" + r.PathValue("u")
		var all []*ledgerv1.Entry
		for token := ""; ; {
			resp, err := client.ListEntries(ctx, &ledgerv1.ListEntriesRequest{Parent: parent, PageSize: 500, PageToken: token})
			if err != nil {
				writeStatus(w, status.Convert(err))
				return
			}
			all = append(all, resp.GetEntries()...)
			if token = resp.GetNextPageToken(); token == "" {
				break
			}
		}
		name := fmt.Sprintf("%s-%s-ledger-%s.%s", r.PathValue("t"), r.PathValue("u"), time.Now().In(entry.Seoul()).Format("20060102"), format)
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
		if format == "xlsx" {
			w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
			_ = entry.WriteXLSX(w, all)
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		_ = entry.WriteCSV(w, all)
	})
}

// writeStatus answers with a gRPC status as grpc-gateway would, as JSON.
func writeStatus(w http.ResponseWriter, st *status.Status) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(runtime.HTTPStatusFromCode(st.Code()))
	b, _ := protojson.Marshal(st.Proto())
	_, _ = w.Write(b)
}
