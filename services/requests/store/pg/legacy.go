package pg

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/pgdb"
)

// AdoptSteps carries the rows of requests.steps, the outbox of versions before pkg/ledgerout,
// into the ledger outbox and drops the table: each step keeps its request_id, its index or its
// refusal, and one still pending its entry (opened with the old binding and sealed anew), the
// entry it follows and its delivery job; the old delivery jobs go. It does nothing once the table
// is gone (migration 00002 drops it when empty), and replicas starting together carry it once.
func (s *Store) AdoptSteps(ctx context.Context) error {
	return pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		h := fnv.New64a()
		h.Write([]byte("pipa/requests AdoptSteps"))
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(h.Sum64())); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass('requests.steps') IS NOT NULL`).Scan(&exists); err != nil || !exists {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT s.tenant_id, s.receipt, r.unit_id, s.seq, s.step, s.entry, s.follows_seq,
			s.ledger_index, s.fail_reason, s.create_time, r.create_time
			FROM requests.steps s JOIN requests.requests r ON r.tenant_id = s.tenant_id AND r.receipt = s.receipt
			ORDER BY s.tenant_id, s.receipt, s.seq`)
		if err != nil {
			return err
		}
		type legacyStep struct {
			tenant, receipt, unit string
			seq                   int
			step                  string
			entry                 []byte
			follows               *int
			index                 *int64
			failed                *string
			created, requested    time.Time
		}
		steps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (legacyStep, error) {
			var l legacyStep
			return l, r.Scan(&l.tenant, &l.receipt, &l.unit, &l.seq, &l.step, &l.entry, &l.follows, &l.index, &l.failed,
				&l.created, &l.requested)
		})
		if err != nil {
			return err
		}
		ids := map[string]int64{} // tenant/receipt/seq → its outbox id
		key := func(tenant, receipt string, seq int) string { return tenant + "/" + receipt + "/" + strconv.Itoa(seq) }
		for _, l := range steps {
			// The request_id each step was sent with (requestKey of that version, then the seq).
			e := ledgerout.Entry{Unit: l.unit, Subject: l.receipt, Label: l.step,
				RequestID: fmt.Sprintf("requests/%s/%d/%d", l.receipt, l.requested.UnixMicro(), l.seq)}
			c := ledgerout.Carried{Index: l.index, Time: l.created}
			if l.failed != nil {
				c.Refusal = *l.failed
			}
			if l.index == nil && l.failed == nil {
				plain, err := s.box.Open(l.entry, []byte("pipa/requests step\x00"+l.tenant+"\x00"+l.receipt+"\x00"+strconv.Itoa(l.seq)))
				if err != nil {
					return fmt.Errorf("requests: open step %d of %s: %w", l.seq, l.receipt, err)
				}
				e.Append = &ledgerv1.AppendEntryRequest{}
				if err := proto.Unmarshal(plain, e.Append); err != nil {
					return err
				}
				if l.follows != nil {
					e.After, e.Follows = ids[key(l.tenant, l.receipt, *l.follows)], true
				}
				if l.seq == 1 && strings.HasPrefix(l.receipt, "P-") {
					e.Chain = ChainCopy // the copy worker asks the request whether a copy left
				}
			}
			id, err := s.outbox.Carry(ctx, tx, l.tenant, e, c)
			if err != nil {
				return err
			}
			ids[key(l.tenant, l.receipt, l.seq)] = id
		}
		if _, err := tx.Exec(ctx, `DELETE FROM requests.river_job WHERE kind = 'requests.deliver_ledger_entry'`); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DROP TABLE requests.steps`)
		return err
	})
}
