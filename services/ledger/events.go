package ledger

import (
	"context"
	"encoding/base64"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// The checkpoint-signed event is not written by the append path: a log signs a checkpoint per
// committed batch, hundreds a second under load, and one event each would flood the
// subscriptions and the request service's event log. A periodic job instead tells of each log's
// latest checkpoint when it grew since the last one told of: at most one event a log per
// interval, never two for one checkpoint (outbound_once, in the transaction that writes it), and
// none lost, since the job reads the durable head. Subscriptions get it only when they name its
// type (outbound.OptIn).

// CheckpointsArgs is the periodic job that writes the checkpoint events.
type CheckpointsArgs struct{}

// Kind names the job in the ledger's River tables.
func (CheckpointsArgs) Kind() string { return "ledger.checkpoint_events" }

type checkpointsWorker struct {
	river.WorkerDefaults[CheckpointsArgs]
	store *pg.Store
	out   *outbound.Outbound
}

// Work writes the event of every log's latest checkpoint not yet told of, each in its own
// transaction with its once-key.
func (w *checkpointsWorker) Work(ctx context.Context, _ *river.Job[CheckpointsArgs]) error {
	for {
		heads, err := w.store.Unannounced(ctx, 500)
		if err != nil || len(heads) == 0 {
			return err
		}
		for _, h := range heads {
			if err := w.out.InTx(ctx, func(tx pgx.Tx) error {
				first, err := w.out.Once(ctx, tx, h.Tenant, pg.CheckpointKey(h.Log, h.Size))
				// A tenant's own log (its staff's role grants) is no unit's ledger, whose
				// subscriptions the event goes to: its checkpoint is marked told of, and served
				// by its tiles.
				if err != nil || !first || h.Unit == names.TenantLog {
					return err
				}
				_, err = w.out.Relay(ctx, tx, h.Tenant, outbound.Event{Unit: h.Unit, Type: outbound.CheckpointSigned,
					Subject: names.Checkpoint(h.Tenant, h.Unit), Data: map[string]any{"ledger": names.Ledger(h.Tenant, h.Unit), "treeSize": h.Size,
						"rootHash": base64.StdEncoding.EncodeToString(h.Root), "checkpoint": h.Checkpoint}})
				return err
			}); err != nil {
				return err
			}
		}
	}
}

// checkpointsJob runs the worker every interval, elected once among the replicas.
func checkpointsJob(interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return CheckpointsArgs{}, nil },
		&river.PeriodicJobOpts{ID: "ledger.checkpoint_events", RunOnStart: true})
}
