package pg_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/services/requests/breach"
	"github.com/pipa-kr/pipa/services/requests/store/pg"
)

// DEC-39-3: a notice's delivery given up is counted on its open breach. One that names no open
// breach's notice (a label or subject that does not parse, another tenant's breach, a notice the
// breach does not have, a closed breach) is let go without an error, which would roll back the
// give-up and send the notice to the subject again, and changes nothing.
func TestBreachGaveUpHook(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	hooks := &pg.NoticeHooks{Store: f.store}
	entry := func(b *requestsv1.Breach, o breach.Outcome) ledgerout.Entry {
		return ledgerout.Entry{Label: o.Label, Append: &ledgerv1.AppendEntryRequest{Entry: &ledgerv1.Entry{
			Kind: ledgerv1.EntryKind_ENTRY_KIND_BREACH, OccurTime: timestamppb.Now(), FileName: b.GetName(), Purpose: o.Label, Handler: "주무관"}}}
	}
	create := func(state requestsv1.BreachState) *pg.Breach {
		b, _, err := f.store.CreateBreach(ctx, "jeongeup", "library", &requestsv1.Breach{Type: requestsv1.BreachType_BREACH_TYPE_LEAK,
			KnownTime: timestamppb.Now(), State: state, Notices: []*requestsv1.BreachNotice{{RecipientCount: 1}}}, pg.Idem{}, entry)
		require.NoError(t, err)
		return b
	}
	unreached := func(b *pg.Breach) int64 {
		got, err := f.store.GetBreach(ctx, b.Tenant, b.Unit, b.Number)
		require.NoError(t, err)
		return got.Doc.GetNotices()[0].GetUnreachedCount()
	}
	gaveUp := func(label, subject string) {
		d := outbound.Delivery{Tenant: "jeongeup", ID: 1, Message: outbound.Message{Channel: outbound.SMS,
			Target: pg.BreachSubjectTarget(1), Label: label, Subject: subject}}
		require.NoError(t, pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error { return hooks.GaveUp(ctx, tx, d, "550 no such user") }), "%s %s", label, subject)
	}
	open, closed := create(requestsv1.BreachState_BREACH_STATE_OPEN), create(requestsv1.BreachState_BREACH_STATE_CLOSED)
	gaveUp(pg.BreachNoticeLabel(1), open.Doc.GetName())
	require.EqualValues(t, 1, unreached(open))

	gaveUp("notice/x", open.Doc.GetName())
	gaveUp("alert/1", open.Doc.GetName())
	gaveUp(pg.BreachNoticeLabel(2), open.Doc.GetName())
	gaveUp(pg.BreachNoticeLabel(1), "tenants/jeongeup/units/library/breaches/x")
	gaveUp(pg.BreachNoticeLabel(1), "tenants/jeongeup/units/library/breaches/99")
	gaveUp(pg.BreachNoticeLabel(1), "tenants/gochang/units/library/breaches/1")
	require.EqualValues(t, 1, unreached(open), "nothing more counted")
	gaveUp(pg.BreachNoticeLabel(1), closed.Doc.GetName())
	require.Zero(t, unreached(closed), "a closed breach is not changed")
}
