package requests

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/requests/store/pg"
)

// Deliverer appends the outbox's entries to the ledger: at once, from the call that made the
// step, and again from its job until the ledger has it. Each entry carries a request_id fixed
// when the step was written, so delivering twice appends once (the ledger answers a replay with
// the first entry).
type Deliverer struct {
	store  *pg.Store
	ledger ledgerv1.LedgerServiceClient
	token  func() (string, error)
	log    *slog.Logger
}

// NewDeliverer returns a Deliverer appending with the service credential token.
func NewDeliverer(store *pg.Store, ledger ledgerv1.LedgerServiceClient, token func() (string, error)) *Deliverer {
	return &Deliverer{store: store, ledger: ledger, token: token, log: slog.Default()}
}

// ErrRefused means the ledger refused the step's entry; the step is recorded as failed.
var ErrRefused = errors.New("requests: the ledger refused the entry")

// Deliver appends step seq of a request and records its index. An entry the ledger refuses as
// invalid can never be appended: the step is recorded as failed (with every step that follows
// it) and ErrRefused returned, instead of retrying for ever.
func (d *Deliverer) Deliver(ctx context.Context, tenant, receipt string, seq int) (int64, error) {
	st, err := d.store.Step(ctx, tenant, receipt, seq)
	if errors.Is(err, pg.ErrFollowedFailed) {
		return 0, d.refused(ctx, tenant, receipt, seq, "follows a step the ledger refused")
	}
	if err != nil {
		return 0, err
	}
	switch {
	case st.Delivered != nil:
		return *st.Delivered, nil
	case st.Failed != "":
		return 0, ErrRefused
	}
	if st.FollowsIndex != nil {
		st.Entry.Entry.Follows = st.FollowsIndex
	}
	if d.token == nil {
		return 0, errors.New("requests: no service credential to append ledger entries")
	}
	tok, err := d.token()
	if err != nil {
		return 0, err
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	e, err := d.ledger.AppendEntry(unitauth.WithToken(actx, tok), st.Entry)
	if c := status.Code(err); c == codes.InvalidArgument || c == codes.FailedPrecondition {
		return 0, d.refused(ctx, tenant, receipt, seq, status.Convert(err).Message())
	}
	if err != nil {
		return 0, err
	}
	return e.GetIndex(), d.store.Delivered(ctx, tenant, receipt, seq, e.GetIndex())
}

func (d *Deliverer) refused(ctx context.Context, tenant, receipt string, seq int, reason string) error {
	d.log.Error("the ledger refused a request step's entry", "tenant", tenant, "receipt", receipt, "seq", seq, "reason", reason)
	if err := d.store.Failed(ctx, tenant, receipt, seq, reason); err != nil {
		return err
	}
	return ErrRefused
}

// Worker is the outbox's job: it delivers one step, retried with backoff while the ledger is out.
type Worker struct {
	river.WorkerDefaults[pg.DeliverArgs]
	D *Deliverer
}

// Work delivers the step; a refused entry ends the job (it is recorded as failed), anything else
// is retried.
func (w *Worker) Work(ctx context.Context, job *river.Job[pg.DeliverArgs]) error {
	a := job.Args
	_, err := w.D.Deliver(ctx, a.Tenant, a.Receipt, a.Seq)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pg.ErrFollowedPending):
		return river.JobSnooze(5 * time.Second)
	case errors.Is(err, ErrRefused):
		return river.JobCancel(err)
	}
	return err
}

// NextRetry backs off to at most five minutes, so that a ledger back from a long outage gets its
// entries within minutes, not days (River's default grows with the fourth power of attempts).
func (w *Worker) NextRetry(job *river.Job[pg.DeliverArgs]) time.Time {
	return time.Now().Add(min(time.Duration(1<<min(job.Attempt, 9))*time.Second, 5*time.Minute))
}
