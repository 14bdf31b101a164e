package registry

import (
	"context"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/services/registry/render"
)

// postingsTimeout bounds the ask for a unit's postings: past it the unit's page says that they
// cannot be shown now rather than wait (or show none).
const postingsTimeout = 1500 * time.Millisecond

// Postings looks up the notices a unit has posted and must keep up now (DEC-39-3).
type Postings func(ctx context.Context, tenant, unit string) ([]render.Posting, error)

// WithPostings lists each unit's current breach postings on its page (/p/{t}/{u}), with its
// notices of outsourcing, so that a citizen finds them from the unit (DEC-39-3).
func WithPostings(f Postings) PageOption { return func(o *pageOptions) { o.postings = f } }

// breachPostings are the unit's breach postings up now, from the requests service's public
// ListBreachPostings: the title is the first line of the unit's own notice.
func breachPostings(client requestsv1.BreachServiceClient) Postings {
	return func(ctx context.Context, t, u string) ([]render.Posting, error) {
		resp, err := client.ListBreachPostings(ctx, &requestsv1.ListBreachPostingsRequest{Tenant: t, Unit: u})
		if err != nil {
			return nil, err
		}
		var out []render.Posting
		for _, p := range resp.GetPostings() {
			out = append(out, render.Posting{Title: firstLine(p.GetText()), URL: p.GetPath(),
				Start: render.Date(p.GetStartTime().AsTime().In(seoul.Location).Format(time.DateOnly)),
				End:   render.Date(p.GetEndTime().AsTime().In(seoul.Location).Format(time.DateOnly))})
		}
		return out, nil
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// postingsOf are the unit's postings up now, shared for pageTTL: its notices of outsourcing
// (DEC-28-5, the registry's own) and, with WithPostings, its breach notices (DEC-39-3). ok is
// false when they cannot all be read within postingsTimeout (the failure is not kept, so the next
// reader asks again).
func (p *pages) postingsOf(r *http.Request, t, u string) (ps []render.Posting, ok bool) {
	ps, err := p.posts.get(t+"/"+u, func() ([]render.Posting, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), postingsTimeout)
		defer cancel()
		ctx = metadata.AppendToOutgoingContext(ctx, "x-forwarded-for", clientChain(r))
		var out []render.Posting
		if p.opts.postings != nil {
			bs, err := p.opts.postings(ctx, t, u)
			if err != nil {
				return nil, err
			}
			out = bs
		}
		ns, err := p.client.ListNoticePostings(ctx, &registryv1.ListNoticePostingsRequest{Tenant: t, Unit: u})
		if err != nil {
			return nil, err
		}
		for _, n := range ns.GetPostings() {
			out = append(out, render.Posting{Title: "개인정보 처리업무 위탁 사실 게재: " + n.GetProcessorCompany() + " (" + n.GetTask() + ")",
				URL: n.GetPath(), Start: render.Date(n.GetStartDate()), End: render.Date(n.GetEndDate())})
		}
		return out, nil
	})
	return ps, err == nil
}
