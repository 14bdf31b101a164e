package requests

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/seoul"
)

// postingPage is a breach's notice as posted for the subjects who cannot be reached (DEC-39-3).
type postingPage struct {
	Title, Unit, Start, End, Text string
}

// PostingPage serves GET /p/{tenant}/{unit}/notices/{breach}: a breach's posting, as the unit
// wrote it, while its period runs (at least 30 days, DEC-39-3); 404 before and after.
func PostingPage(client requestsv1.BreachServiceClient) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, u, ok := unitOf(w, r)
		if !ok {
			return
		}
		n, err := strconv.ParseInt(r.PathValue("breach"), 10, 64)
		if err != nil || n <= 0 {
			errorPage(w, http.StatusNotFound, "게시된 안내문을 찾을 수 없습니다.")
			return
		}
		ctx, cancel := context.WithTimeout(forwarded(r), callTimeout)
		defer cancel()
		p, err := client.GetBreachPosting(ctx, &requestsv1.GetBreachPostingRequest{Tenant: t, Unit: u, Breach: n})
		if status.Code(err) == codes.NotFound {
			errorPage(w, http.StatusNotFound, "게시된 안내문을 찾을 수 없습니다. 게시 기간이 끝났거나 주소가 올바르지 않습니다.")
			return
		}
		if err != nil {
			fail(w, err)
			return
		}
		title, _, _ := strings.Cut(p.GetText(), "\n")
		render(w, http.StatusOK, "posting", postingPage{Title: title, Unit: p.GetUnitDisplayName(),
			Start: p.GetStartTime().AsTime().In(seoul.Location).Format("2006. 1. 2."),
			End:   p.GetEndTime().AsTime().In(seoul.Location).Format("2006. 1. 2."), Text: p.GetText()})
	})
}
