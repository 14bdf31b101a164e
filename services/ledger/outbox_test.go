package ledger_test

import (
	"context"
	"crypto/rand"
	"strconv"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/jobs"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/pgtest"
	"github.com/pipa-kr/pipa/pkg/seal"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/ledger/ledgertest"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// The outbox every service appends through (pkg/ledgerout), against this ledger over gRPC: a
// service schema "svc" holds the outbox and its job queue, and a table its hooks write, as a
// service's own rows follow its entries.

const outboxUnit = "cctv"

var svcMigrations = fstest.MapFS{"00001_svc.sql": {Data: []byte(`-- +goose Up
CREATE TABLE svc.followed (tenant_id text, outbox_id bigint, ledger_index bigint, refused boolean, reason text);
-- +goose Down
DROP TABLE svc.followed;`)}}

// hooks records each settled entry in svc.followed, in the transaction that settles it.
type hooks struct{}

func (hooks) Delivered(ctx context.Context, tx pgx.Tx, s ledgerout.Settled) error {
	_, err := tx.Exec(ctx, `INSERT INTO svc.followed VALUES ($1, $2, $3, false, '')`, s.Tenant, s.ID, s.Index)
	return err
}

func (hooks) Refused(ctx context.Context, tx pgx.Tx, refused []ledgerout.Settled, reason string) error {
	for _, s := range refused {
		if _, err := tx.Exec(ctx, `INSERT INTO svc.followed VALUES ($1, $2, NULL, true, $3)`, s.Tenant, s.ID, reason); err != nil {
			return err
		}
	}
	return nil
}

type outboxStack struct {
	pool   *pgxpool.Pool
	box    *ledgerout.Outbox
	jobs   *river.Client[pgx.Tx]
	client ledgerv1.LedgerServiceClient
	token  func() (string, error)
}

func newOutboxStack(t *testing.T, timeout time.Duration) *outboxStack {
	t.Helper()
	dataKey := make([]byte, seal.KeySize)
	_, _ = rand.Read(dataKey)
	sealBox, err := seal.New(map[string][]byte{"test": dataKey}, "test")
	require.NoError(t, err)
	pool := pgtest.NewMulti(t, []pgtest.Migration{{Schema: pg.Schema, FS: pg.Migrations},
		{Schema: "svc", FS: svcMigrations, Jobs: true, Outbox: true}})
	client, token := ledgertest.Serve(t, pool, sealBox)
	o, err := ledgerout.New(ledgerout.Config{Schema: "svc", Pool: pool, Box: sealBox, Ledger: client, Token: token, Timeout: timeout})
	require.NoError(t, err)
	workers := river.NewWorkers()
	o.AddWorkers(workers)
	jobsClient, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Schema: "svc", Workers: workers,
		Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}}, ErrorHandler: jobs.Errors{},
		PeriodicJobs: o.PeriodicJobs(), FetchPollInterval: 200 * time.Millisecond})
	require.NoError(t, err)
	o.Use(jobsClient, hooks{})
	return &outboxStack{pool: pool, box: o, jobs: jobsClient, client: client, token: token}
}

// start works the queue until the test ends.
func (s *outboxStack) start(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, s.jobs.Start(ctx))
	t.Cleanup(func() {
		cancel()
		sctx, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		_ = s.jobs.Stop(sctx)
	})
}

func (s *outboxStack) enqueue(t *testing.T, e ledgerout.Entry) int64 {
	t.Helper()
	var id int64
	err := pgx.BeginFunc(t.Context(), s.pool, func(tx pgx.Tx) error {
		var err error
		id, err = s.box.Enqueue(t.Context(), tx, "iksan", e)
		return err
	})
	require.NoError(t, err)
	return id
}

func (s *outboxStack) auditor(t *testing.T) context.Context {
	tok, err := s.token()
	require.NoError(t, err)
	return unitauth.WithToken(t.Context(), tok)
}

func (s *outboxStack) size(t *testing.T) int64 {
	cp, err := s.client.GetCheckpoint(s.auditor(t), &ledgerv1.GetCheckpointRequest{Parent: iksanLog})
	require.NoError(t, err)
	return cp.GetTreeSize()
}

// followed are the hooks' rows for an entry: how often it was delivered, and refused.
func (s *outboxStack) followed(t *testing.T, id int64) (delivered, refused int) {
	require.NoError(t, s.pool.QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE NOT refused), count(*) FILTER (WHERE refused)
		FROM svc.followed WHERE outbox_id = $1`, id).Scan(&delivered, &refused))
	return delivered, refused
}

func appendOf(e *ledgerv1.Entry) *ledgerv1.AppendEntryRequest {
	return &ledgerv1.AppendEntryRequest{Entry: e}
}

// A delivery appends once however often it runs, concurrently too (the request_id fixed when the
// row was written), and the service's hook follows it once, in the transaction that records it.
func TestOutbox_DeliversOnce(t *testing.T) {
	t.Parallel()
	s := newOutboxStack(t, 0)
	id := s.enqueue(t, ledgerout.Entry{Unit: outboxUnit, Append: appendOf(viewing()), Subject: "R-2026-000001", Label: "verifyIdentity"})
	var wg sync.WaitGroup
	got := make([]ledgerout.Settled, 4)
	for i := range got {
		wg.Go(func() {
			var err error
			got[i], err = s.box.Deliver(t.Context(), "iksan", id)
			require.NoError(t, err)
		})
	}
	wg.Wait()
	for _, g := range got {
		require.Equal(t, got[0].Index, g.Index)
		require.NotEmpty(t, g.LeafHash)
	}
	require.EqualValues(t, 1, s.size(t), "appended once")
	delivered, _ := s.followed(t, id)
	require.Equal(t, 1, delivered, "the hook followed once")
	require.Zero(t, s.jobCount(t), "an entry its call delivered enqueues no job")

	e, err := s.client.GetEntry(s.auditor(t), &ledgerv1.GetEntryRequest{Name: iksanLog + "/ledger/entries/0"})
	require.NoError(t, err)
	require.Equal(t, "김민수", e.GetRequesterName())
	recs, err := s.box.Records(t.Context(), s.pool, "iksan", []string{"R-2026-000001"})
	require.NoError(t, err)
	require.Len(t, recs["R-2026-000001"], 1)
	require.Equal(t, "verifyIdentity", recs["R-2026-000001"][0].Label)
	require.False(t, recs["R-2026-000001"][0].Pending)

	// Sealed at rest (the entry names the requester), and forgotten once the ledger has it.
	var stored []byte
	require.NoError(t, s.pool.QueryRow(t.Context(), `SELECT entry FROM svc.ledger_outbox WHERE id = $1`, id).Scan(&stored))
	require.NotContains(t, string(stored), "김민수")
	require.NoError(t, s.box.Forget(t.Context(), s.pool, "iksan", "R-2026-000001"))
	require.NoError(t, s.pool.QueryRow(t.Context(), `SELECT entry FROM svc.ledger_outbox WHERE id = $1`, id).Scan(&stored))
	require.Nil(t, stored)
}

// An entry waits for the one it follows and takes its index; one the ledger refuses is refused for
// good with the entries that wait on it, the hook undoing what they were to record once, and a
// later follower is refused too without reaching the ledger.
func TestOutbox_FollowsAndRefusals(t *testing.T) {
	t.Parallel()
	s := newOutboxStack(t, 0)
	prov := s.enqueue(t, ledgerout.Entry{Unit: outboxUnit, Append: appendOf(provision()), Subject: "P-2026-000001"})
	amend := &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT, AmendmentKind: ledgerv1.AmendmentKind_AMENDMENT_KIND_PROGRESS,
		OccurTime: timestamppb.Now(), Handler: "주무관 김민수", Note: "이행"}
	next := s.enqueue(t, ledgerout.Entry{Unit: outboxUnit, Append: appendOf(amend), Subject: "P-2026-000001", After: prov, Follows: true})
	_, err := s.box.Deliver(t.Context(), "iksan", next)
	require.ErrorIs(t, err, ledgerout.ErrWaiting)
	first, err := s.box.Deliver(t.Context(), "iksan", prov)
	require.NoError(t, err)
	second, err := s.box.Deliver(t.Context(), "iksan", next)
	require.NoError(t, err)
	e, err := s.client.GetEntry(s.auditor(t), &ledgerv1.GetEntryRequest{Name: iksanLog + "/ledger/entries/" + itoa(second.Index)})
	require.NoError(t, err)
	require.Equal(t, first.Index, e.GetFollows(), "the amendment follows the provision's index")

	// The ledger takes nothing stamped in its future (STD-42-2): refused for good.
	future := use()
	future.OccurTime = timestamppb.New(time.Now().Add(time.Hour))
	bad := s.enqueue(t, ledgerout.Entry{Unit: outboxUnit, Append: appendOf(future)})
	waiting := s.enqueue(t, ledgerout.Entry{Unit: outboxUnit, Append: appendOf(amend), After: bad, Follows: true})
	before := s.size(t)
	_, err = s.box.Deliver(t.Context(), "iksan", bad)
	var refusal *ledgerout.Refusal
	require.ErrorAs(t, err, &refusal)
	require.Equal(t, bad, refusal.ID)
	require.Contains(t, refusal.Reason, "occur_time")
	for _, id := range []int64{bad, waiting} {
		_, err := s.box.Deliver(t.Context(), "iksan", id)
		require.ErrorIs(t, err, ledgerout.ErrRefused, "settled: never retried")
		_, refused := s.followed(t, id)
		require.Equal(t, 1, refused, "the hook undid it once")
	}
	late := s.enqueue(t, ledgerout.Entry{Unit: outboxUnit, Append: appendOf(amend), After: bad, Follows: true})
	_, err = s.box.Deliver(t.Context(), "iksan", late)
	require.ErrorAs(t, err, &refusal)
	require.Contains(t, refusal.Reason, "follows an entry the ledger refused")
	require.Equal(t, before, s.size(t), "nothing refused reached the ledger")
}

// jobCount is how many jobs the service's queue holds, of any kind and state.
func (s *outboxStack) jobCount(t *testing.T) int {
	var n int
	require.NoError(t, s.pool.QueryRow(t.Context(), `SELECT count(*) FROM svc.river_job`).Scan(&n))
	return n
}

// An outage delays an entry: the call that could not deliver it enqueues the drain, once however
// many calls fail, and the drain delivers it once the ledger is back, with every other pending
// entry (one whose call died before it tried).
func TestOutbox_OutageAndDrain(t *testing.T) {
	t.Parallel()
	s := newOutboxStack(t, time.Second)
	conn, err := pgx.Connect(t.Context(), s.pool.Config().ConnConfig.ConnString())
	require.NoError(t, err)
	defer conn.Close(context.Background())
	tx, err := conn.Begin(t.Context())
	require.NoError(t, err)
	_, err = tx.Exec(t.Context(), "LOCK TABLE ledger.entries IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)

	id := s.enqueue(t, ledgerout.Entry{Unit: outboxUnit, Append: appendOf(use())})
	again := s.enqueue(t, ledgerout.Entry{Unit: outboxUnit, Append: appendOf(use())})
	orphan := s.enqueue(t, ledgerout.Entry{Unit: outboxUnit, Append: appendOf(use())})
	for _, e := range []int64{id, again} {
		_, err = s.box.Deliver(t.Context(), "iksan", e)
		require.Error(t, err, "the ledger does not answer in time")
		require.NotErrorIs(t, err, ledgerout.ErrRefused, "an outage is not a refusal")
	}
	rows, err := s.pool.Query(t.Context(), `SELECT kind FROM svc.river_job`)
	require.NoError(t, err)
	kinds, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"ledgerout.drain"}, kinds, "one drain for both failures, no job per entry")

	require.NoError(t, tx.Rollback(t.Context())) // the ledger is back
	s.start(t)
	require.Eventually(t, func() bool {
		a, _ := s.followed(t, id)
		b, _ := s.followed(t, again)
		c, _ := s.followed(t, orphan)
		return a == 1 && b == 1 && c == 1
	}, 30*time.Second, 100*time.Millisecond, "the drain delivered all three")
	require.EqualValues(t, 3, s.size(t))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// The drain sends the pending entries in batches per unit log (BatchAppendEntries), in the order
// they were written: each unit's entries get consecutive indexes in id order. An entry the ledger
// refuses fails its batch, so that batch is sent again one by one: the bad entry alone is refused
// and the others of its batch are appended, each hook run once.
func TestOutbox_DrainBatchesPerLog(t *testing.T) {
	t.Parallel()
	s := newOutboxStack(t, 0)
	future := use()
	future.OccurTime = timestamppb.New(time.Now().Add(time.Hour))
	var ids []int64
	var bad int64
	units := []string{outboxUnit, "cctv-2"}
	for i := range 40 {
		e := ledgerout.Entry{Unit: units[i%2], Append: appendOf(use())}
		if i == 17 {
			e.Append = appendOf(future)
		}
		id := s.enqueue(t, e) // never delivered by a call: the drain finds them
		if i == 17 {
			bad = id
			continue
		}
		ids = append(ids, id)
	}
	s.start(t)
	_, err := s.jobs.Insert(t.Context(), ledgerout.DrainArgs{}, nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, s.pool.QueryRow(t.Context(), `SELECT count(*) FROM svc.followed`).Scan(&n))
		return n == 40
	}, 60*time.Second, 100*time.Millisecond, "the drain settled every entry")
	_, refused := s.followed(t, bad)
	require.Equal(t, 1, refused, "the entry in the ledger's future is refused alone")
	last := map[string]int64{}
	rows, err := s.pool.Query(t.Context(), `SELECT unit_id, ledger_index FROM svc.ledger_outbox WHERE id = ANY($1) ORDER BY id`, ids)
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
		Unit  string
		Index int64
	}])
	require.NoError(t, err)
	require.Len(t, got, 39)
	for _, r := range got {
		want, seen := last[r.Unit]
		if !seen {
			want = 0 // the drain is the logs' first writer
		}
		require.Equal(t, want, r.Index, "unit %s: consecutive indexes in the order written", r.Unit)
		last[r.Unit] = r.Index + 1
	}
	for _, id := range ids {
		delivered, _ := s.followed(t, id)
		require.Equal(t, 1, delivered, "entry %d's hook ran once", id)
	}
}
