package registry

import (
	"cmp"
	"context"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/rolechange"
	"github.com/pipa-kr/pipa/services/registry/store/pg"
)

// roleSource is the ROLE_CHANGE entries' form for the roles the registry's officers hold.
const roleSource = "등록부 담당자 (registry officer)"

// officerRoles records the officers' roles (S-5): a create, update or delete of an officer that
// grants, changes or revokes one of its roles is a ROLE_CHANGE entry of the unit's ledger, written
// to the outbox in the transaction of the change (pg.Changes) and delivered by the call when it
// can, by the outbox's drain otherwise. srv is the server once it is made.
func officerRoles(srv **Server) pg.Changes {
	return pg.Changes{
		Kind: pg.Officers,
		New:  func() proto.Message { return &registryv1.Officer{} },
		Entry: func(ctx context.Context, name string, before, after proto.Message) *ledgerv1.AppendEntryRequest {
			b, _ := before.(*registryv1.Officer)
			a, _ := after.(*registryv1.Officer)
			account := name
			if n := cmp.Or(a.GetDisplayName(), b.GetDisplayName()); n != "" {
				account += " (" + n + ")"
			}
			e := rolechange.Entry(rolechange.Change{Account: account, Before: officerRoleNames(b), After: officerRoleNames(a),
				Source: roleSource, By: auth.Officer(ctx), At: (*srv).now()})
			if e == nil {
				return nil
			}
			return &ledgerv1.AppendEntryRequest{Entry: e}
		},
		Deliver: func(ctx context.Context, tenant string, id int64) { (*srv).deliver(ctx, tenant, id) },
	}
}

// officerRoleNames are o's roles as lowercase names without the enum's prefix, e.g. "cpo".
func officerRoleNames(o *registryv1.Officer) rolechange.Set {
	var out rolechange.Set
	for _, r := range o.GetRoles() {
		out = append(out, strings.ToLower(strings.TrimPrefix(r.String(), "OFFICER_ROLE_")))
	}
	return out
}

// processorChanges records, as a REGISTER entry of the unit's ledger in the transaction of the
// change, each update that changes a processor's company or its task (위탁업무): the published
// processor table changes (PIPA-26-2), and for a marketing task a new notice to the subjects is
// due (PIPA-26-3). srv is the server once it is made.
func processorChanges(srv **Server) pg.Changes {
	return pg.Changes{
		Kind: pg.Processors,
		New:  func() proto.Message { return &registryv1.Processor{} },
		Entry: func(ctx context.Context, name string, before, after proto.Message) *ledgerv1.AppendEntryRequest {
			b, _ := before.(*registryv1.Processor)
			a, _ := after.(*registryv1.Processor)
			if b == nil || a == nil || (b.GetCompany() == a.GetCompany() && b.GetWork() == a.GetWork()) {
				return nil
			}
			return (*srv).registerEntry(fmt.Sprintf("수탁자·위탁업무 변경 (PIPA-26-3): %s: %s → %s: %s",
				b.GetCompany(), b.GetWork(), a.GetCompany(), a.GetWork()))(name)
		},
		Deliver: func(ctx context.Context, tenant string, id int64) { (*srv).deliver(ctx, tenant, id) },
	}
}
