package registry

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/unitauth"
)

// The one list of what is due (ListObligations) holds, beside the registers' duties, those the
// other services keep: requests' and breaches' clocks (the requests service) and destruction
// plans and copies given out (retention). The registry asks each, when it lists, with the
// caller's own token, so each service applies its own access rules; it never needs them to start
// (they are Wants, not Needs, in module.go: requests and retention need the registry), and a
// source that is not configured or does not answer within sourceTimeout is named in missing.

// sourceTimeout bounds each source's answer, so that one slow service does not hold the list.
const sourceTimeout = 10 * time.Second

// source is one service's part of the list.
type source struct {
	name string
	// list is nil when the service is not configured in this process.
	list func(ctx context.Context, parent string) ([]*registryv1.Obligation, error)
}

// sources are the services asked for their obligations: requests, then retention (New), each
// not configured until withSources gives its client.
type sources []source

// withSources has the list ask requests and retention (nil clients: not configured).
func withSources(req requestsv1.RequestServiceClient, ret retentionv1.RetentionServiceClient) Option {
	return func(s *Server) {
		if req != nil {
			s.sources[0].list = func(ctx context.Context, parent string) ([]*registryv1.Obligation, error) {
				r, err := req.ListObligations(ctx, &requestsv1.ListObligationsRequest{Parent: parent})
				return r.GetObligations(), err
			}
		}
		if ret != nil {
			s.sources[1].list = func(ctx context.Context, parent string) ([]*registryv1.Obligation, error) {
				r, err := ret.ListObligations(ctx, &retentionv1.ListObligationsRequest{Parent: parent})
				return r.GetObligations(), err
			}
		}
	}
}

// list asks every source at once for parent's obligations; missing names each source that did
// not answer, with why.
func (ss sources) list(ctx context.Context, parent string) (out []*registryv1.Obligation, missing []string) {
	type answer struct {
		os  []*registryv1.Obligation
		err error
	}
	answers := make([]chan answer, len(ss))
	for i, src := range ss {
		answers[i] = make(chan answer, 1)
		if src.list == nil {
			answers[i] <- answer{err: status.Error(codes.Unavailable, "not configured in this process (set its address)")}
			continue
		}
		go func() {
			sctx, cancel := context.WithTimeout(unitauth.ForwardToken(ctx), sourceTimeout)
			defer cancel()
			os, err := src.list(sctx, parent)
			answers[i] <- answer{os, err}
		}()
	}
	for i, src := range ss {
		a := <-answers[i]
		if a.err != nil {
			slog.WarnContext(ctx, "obligations: a source did not answer", "source", src.name, "parent", parent, "err", a.err)
			missing = append(missing, src.name+": "+status.Code(a.err).String()+" ("+status.Convert(a.err).Message()+")")
			continue
		}
		out = append(out, a.os...)
	}
	return out, missing
}
