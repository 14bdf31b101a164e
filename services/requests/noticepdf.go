package requests

import (
	"errors"
	"net/http"
	"strconv"

	"google.golang.org/grpc/metadata"

	"github.com/pipa-kr/pipa/pkg/apierr"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/pdfprint"
	"github.com/pipa-kr/pipa/pkg/server"
)

// NoticePDFPattern is the printable notice beside GetNotice's HTML: a path segment of its own,
// since a route pattern's wildcard takes a whole segment (no "{notice}:pdf").
const NoticePDFPattern = "GET /v1/tenants/{tenant}/units/{unit}/requests/{request}/notices/{notice}/pdf"

// NoticePDF serves a notice as the PDF a requester who chose post or a visit is handed: the
// notice's own HTML (별지 제9호/제10호, with its print stylesheet) printed by p. It reads the
// notice through GetNotice with the caller's own token, so the same roles apply and the read is
// recorded as GetNotice's. Where the browser is missing it answers FailedPrecondition
// (BROWSER_MISSING) naming it, never another document. A path that spells no notice is refused
// (InvalidArgument naming name) before anything is read, and the file is named from the parsed
// receipt and number, never from raw path values.
func NoticePDF(client requestsv1.RequestServiceClient, p *pdfprint.Printer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := names.NoticeOf(names.Requests.Name(r.PathValue("tenant"), r.PathValue("unit"), r.PathValue("request")), r.PathValue("notice"))
		_, _, _, receipt, number, err := names.ParseNotice("name", name)
		if err != nil {
			server.WriteStatus(w, err)
			return
		}
		ctx := r.Context()
		if a := r.Header.Get("Authorization"); a != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", a)
		}
		n, err := client.GetNotice(ctx, &requestsv1.GetNoticeRequest{Name: name})
		if err != nil {
			server.WriteStatus(w, err)
			return
		}
		pdf, err := p.Print(ctx, []byte(n.GetHtml()))
		if errors.Is(err, pdfprint.ErrNoBrowser) {
			server.WriteStatus(w, apierr.Precondition("BROWSER_MISSING", "printing a notice as PDF needs headless Chromium, which is not installed here ("+
				p.Command()+"; on Debian: apt-get install chromium fonts-nanum); the notice's HTML prints from a browser"))
			return
		}
		if err != nil {
			server.WriteStatus(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("Content-Disposition", `inline; filename="`+receipt+"-notice-"+strconv.Itoa(number)+`.pdf"`)
		_, _ = w.Write(pdf)
	})
}
