package retention

import (
	"context"

	"google.golang.org/grpc/codes"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
)

// lookups answer the domain's questions (lifecycle.Registry, lifecycle.Records) with the other
// services' gRPC APIs, with the credential the context carries: a missing record is an apierr
// NotFound, so the domain classifies without gRPC.
type lookups struct {
	registry registryv1.RegistryServiceClient
	ledger   ledgerv1.LedgerServiceClient
	requests requestsv1.RequestServiceClient
}

// notFound is err as the domain sees a missing record of name.
func notFound(name string, err error, also ...codes.Code) error {
	c := apierr.CodeOf(err)
	if c == codes.NotFound {
		return apierr.NotFound(name)
	}
	for _, a := range also {
		if c == a {
			return apierr.NotFound(name)
		}
	}
	return err
}

func (l lookups) Site(ctx context.Context, name string) (*registryv1.Site, error) {
	site, err := l.registry.GetSite(ctx, &registryv1.GetSiteRequest{Name: name})
	return site, notFound(name, err)
}

func (l lookups) FileExists(ctx context.Context, name string) (bool, error) {
	_, err := l.registry.GetFile(ctx, &registryv1.GetFileRequest{Name: name})
	if apierr.CodeOf(err) == codes.NotFound {
		return false, nil
	}
	return err == nil, err
}

func (l lookups) Request(ctx context.Context, name string) (*requestsv1.Request, error) {
	r, err := l.requests.GetRequest(ctx, &requestsv1.GetRequestRequest{Name: name})
	return r, notFound(name, err)
}

// Entry reads a ledger entry; an index the ledger does not know (InvalidArgument) is missing too.
func (l lookups) Entry(ctx context.Context, name string) (*ledgerv1.Entry, error) {
	e, err := l.ledger.GetEntry(ctx, &ledgerv1.GetEntryRequest{Name: name})
	return e, notFound(name, err, codes.InvalidArgument)
}
