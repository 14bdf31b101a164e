// Package rolegrant records the staff roles that reach pipa in bearer tokens (LAW.md S-5: every
// grant, change and revocation of an access right kept at least three years). Roles minted by
// `pipa token` (offline, with the dev key) and those an OIDC sign-in maps from the identity
// provider's claims are never registered with pipa beforehand: the server learns of them only
// when a token presents them. So [Tracker.Interceptor], after authentication, compares the role
// set each account (issuer and subject) presents with the last one this process saw for it, and
// when it differs has the ledger record it (RoleGrantService.RecordRoleGrants) before the call
// goes on: the call waits for the record, as a read waits for its access record, so a process
// that dies after answering has lost nothing. The ledger compares the set with the last one it
// recorded for the account and keeps one record per tenant whose part changed, a ROLE_CHANGE
// entry of the tenant's own log (S-8-3); a set that shrinks is a change, an empty one a
// revocation.
//
// Nothing is written while nothing changes: an in-memory cache of the last set seen per account
// (github.com/hashicorp/golang-lru/v2's expirable LRU, already pipa's token cache) answers
// first, and concurrent first calls of one account share one record call
// (golang.org/x/sync/singleflight). The cache forgets an account after five minutes, so that in a
// deployment of several processes, a set recorded by another process and then reverted is
// recorded again within five minutes of its next presentation. When the ledger cannot be reached the call
// fails with Unavailable rather than go unrecorded.
//
// What cannot be observed: a token that is simply no longer presented (it expired, or its holder
// left) records no revocation, and a change is recorded when the account next presents a token,
// not when the identity provider made it. Calls by pipa's services (the service role on "*") are
// not recorded: their grant is fixed, and the record call itself is one.
package rolegrant

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/sync/singleflight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/rolechange"
)

// Options configures a Tracker.
type Options struct {
	// Ledger records the role sets.
	Ledger ledgerv1.RoleGrantServiceClient
	// Token is the service credential (role service on "*").
	Token func() (string, error)
}

// The cache of the last set seen per account: at most remembered accounts, each trusted without
// asking the ledger for trust.
const (
	remembered = 10_000
	trust      = 5 * time.Minute
)

// Tracker reports each account's role set to the ledger when it changes.
type Tracker struct {
	o     Options
	seen  *expirable.LRU[string, string]
	calls singleflight.Group
}

// New makes a Tracker.
func New(o Options) *Tracker {
	return &Tracker{o: o, seen: expirable.NewLRU[string, string](remembered, nil, trust)}
}

// Interceptor records the caller's role set before the call when it is not the one last seen
// for its account (S-5). Install it after authentication.
func (t *Tracker) Interceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if p, ok := auth.FromContext(ctx); ok && !p.IsService() {
			if err := t.Observe(ctx, p); err != nil {
				return nil, status.Error(codes.Unavailable, "the roles of this token could not be recorded (S-5); try again")
			}
		}
		return handler(ctx, req)
	}
}

// Observe records p's role set unless it is the one last seen for p's account, and returns
// once the ledger holds it.
func (t *Tracker) Observe(ctx context.Context, p *auth.Principal) error {
	account, set := p.Issuer+"\x00"+p.Subject, fingerprint(p.Grants)
	if last, ok := t.seen.Get(account); ok && last == set {
		return nil
	}
	_, err, _ := t.calls.Do(account+"\x00"+set, func() (any, error) {
		req := &ledgerv1.RecordRoleGrantsRequest{Issuer: p.Issuer, Subject: p.Subject, DisplayName: p.Name, Source: source(p)}
		for _, g := range p.Grants {
			req.Grants = append(req.Grants, &ledgerv1.TokenGrant{Role: string(g.Role), Scope: g.Scope})
		}
		// The record is made for every caller waiting on it: not cut short by the first one's
		// cancellation.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := t.o.Ledger.RecordRoleGrants(rctx, req, grpc.PerRPCCredentials(auth.PerRPCToken(t.o.Token))); err != nil {
			return nil, err
		}
		t.seen.Add(account, set)
		return nil, nil
	})
	return err
}

// fingerprint is the grants as a comparable string: "role scope" lines, sorted, without duplicates.
func fingerprint(gs []auth.Grant) string {
	lines := make([]string, len(gs))
	for i, g := range gs {
		lines[i] = string(g.Role) + " " + g.Scope
	}
	slices.Sort(lines)
	return strings.Join(slices.Compact(lines), "\n")
}

// source names where p's roles came from: `pipa token` for the dev issuer, else an OIDC sign-in.
func source(p *auth.Principal) string {
	if p.Issuer == auth.DevIssuer {
		return rolechange.SourceToken
	}
	return rolechange.SourceOIDC
}
