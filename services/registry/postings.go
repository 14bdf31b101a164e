package registry

import (
	"context"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"

	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/services/registry/render"
)

// postingsTimeout bounds the ask for a unit's postings: past it the unit's page says that they
// cannot be shown now rather than wait (or show none).
const postingsTimeout = 1500 * time.Millisecond

// Postings looks up the notices a unit has posted and must keep up now (DEC-39-3).
type Postings func(ctx context.Context, tenant, unit string) ([]render.Posting, error)

// WithPostings lists each unit's current postings on its page (/p/{t}/{u}), so that a citizen
// finds them from the unit (DEC-39-3).
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
				Start: p.GetStartTime().AsTime().In(seoul.Location).Format("2006. 1. 2."),
				End:   p.GetEndTime().AsTime().In(seoul.Location).Format("2006. 1. 2.")})
		}
		return out, nil
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// postingsOf are the unit's postings, shared for pageTTL; ok is false when they cannot be read
// within postingsTimeout (the failure is not kept, so the next reader asks again).
func (p *pages) postingsOf(r *http.Request, t, u string) (ps []render.Posting, ok bool) {
	if p.opts.postings == nil {
		return nil, true
	}
	ps, err := p.posts.get(t+"/"+u, func() ([]render.Posting, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), postingsTimeout)
		defer cancel()
		ctx = metadata.AppendToOutgoingContext(ctx, "x-forwarded-for", clientChain(r))
		return p.opts.postings(ctx, t, u)
	})
	return ps, err == nil
}
