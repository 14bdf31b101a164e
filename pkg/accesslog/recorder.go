package accesslog

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/pgdb"
)

// Schema holds the spool.
const Schema = "accesslog"

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations build the spool (goose, in Schema), for pgdb.Migrate.
var Migrations fs.FS = pgdb.Sub(migrations, "migrations")

// Options configures a Recorder.
type Options struct {
	// Pool is the process's database, which holds the spool (Migrations).
	Pool *pgxpool.Pool
	// Ledger receives the entries.
	Ledger ledgerv1.LedgerServiceClient
	// Token is the service credential (role service on scope "*"): auth.DevServiceToken in
	// development, TokenFile in production.
	Token func() (string, error)
	// Trusted are the proxies (the REST gateway, an ingress) whose X-Forwarded-For names the client.
	Trusted []netip.Prefix
	// Buffer bounds the reads whose records wait to be stored; 1,024 when zero. Beyond it a read
	// waits for room.
	Buffer int
	// Batch bounds the records one transaction stores, and one pass of the flusher appends; 512
	// when zero.
	Batch int
	// Concurrency bounds the appends in flight; 16 when zero. The ledger commits concurrent
	// appends to one log together, so a burst costs a few transactions, not one each.
	Concurrency int
	// Every is how often the flusher looks at the spool when nothing woke it; 2 s when zero.
	Every time.Duration
}

// record is one ACCESS entry to append.
type record struct {
	id        int64 // in the spool
	parent    string
	requestID string
	entry     *ledgerv1.Entry
}

// write is the records of one read, and where the store's outcome goes.
type write struct {
	recs []record
	done chan error
}

// ErrClosed is the error of a read made after Close: it is not answered, since it cannot be recorded.
var ErrClosed = errors.New("accesslog: the recorder is closed")

// Recorder stores access records in the spool before their reads are answered, and appends them
// to the ledger in the background.
type Recorder struct {
	o      Options
	id     [8]byte // this recorder's, so that request ids of two replicas never meet
	seq    atomic.Uint64
	writes chan write
	kick   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.RWMutex // guards closed against sends to writes
	closed  bool
	done    chan struct{} // closed by Close
	stored  chan struct{} // closed when the store loop has finished
	flushed chan struct{} // closed when the flusher has finished

	refused, failed, appended atomic.Int64
	mRefused, mFailed, mAdded metric.Int64Counter
}

// NewRecorder starts a recorder; Close stops it.
func NewRecorder(o Options) *Recorder {
	if o.Buffer <= 0 {
		o.Buffer = 1024
	}
	if o.Batch <= 0 {
		o.Batch = 512
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.Every <= 0 {
		o.Every = 2 * time.Second
	}
	r := &Recorder{o: o, writes: make(chan write, o.Buffer), kick: make(chan struct{}, 1),
		done: make(chan struct{}), stored: make(chan struct{}), flushed: make(chan struct{})}
	_, _ = rand.Read(r.id[:])
	r.ctx, r.cancel = context.WithCancel(context.Background())
	m := otel.Meter("github.com/pipa-kr/pipa/pkg/accesslog")
	r.mRefused, _ = m.Int64Counter("pipa.accesslog.refused", metric.WithDescription("reads not answered because their access record could not be stored (S-2-3)"))
	r.mFailed, _ = m.Int64Counter("pipa.accesslog.failed", metric.WithDescription("access records the ledger refused (S-2-3 gaps)"))
	r.mAdded, _ = m.Int64Counter("pipa.accesslog.appended", metric.WithDescription("access records appended to the ledger"))
	// At 0 from the start, so that an alert on their increase sees the series before the first one.
	for _, c := range []metric.Int64Counter{r.mRefused, r.mFailed, r.mAdded} {
		c.Add(context.Background(), 0)
	}
	go r.storeLoop()
	go r.flushLoop()
	return r
}

// Stats are the records appended, the reads refused (their record could not be stored) and the
// records the ledger refused, so far.
func (r *Recorder) Stats() (appended, refused, failed int64) {
	return r.appended.Load(), r.refused.Load(), r.failed.Load()
}

// Interceptor records each successful call of a method in rules made by a principal that is not
// a pipa service (auth.Principal.IsService: the service role on "*"). Install it after
// authentication, innermost: it sees the handler's own result. The answer leaves only once its
// records are stored; when they cannot be, the call fails with Unavailable instead.
func (r *Recorder) Interceptor(rules Rules) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		if err != nil {
			return resp, err
		}
		rule, ok := rules[info.FullMethod]
		if !ok {
			return resp, nil
		}
		p, ok := auth.FromContext(ctx)
		if !ok || p.IsService() {
			return resp, nil
		}
		t, u, ok := rule.Log(req)
		if !ok {
			return resp, nil
		}
		action := rule.Action
		if action == "" {
			action = info.FullMethod
		}
		at, addr := timestamppb.Now(), r.remoteAddr(ctx)
		var recs []record
		for _, subject := range rule.Subjects(req, resp) {
			recs = append(recs, record{parent: names.Unit(t, u), entry: &ledgerv1.Entry{
				Kind:       ledgerv1.EntryKind_ENTRY_KIND_ACCESS,
				OccurTime:  at,
				Actor:      p.Subject,
				RemoteAddr: addr,
				Subject:    subject,
				Action:     action,
			}})
		}
		if err := r.add(ctx, recs); err != nil {
			r.refused.Add(1)
			r.mRefused.Add(context.Background(), 1)
			slog.Error("access log: a read was not answered, its record could not be stored (S-2-3)", "method", info.FullMethod, "err", err)
			return nil, status.Error(codes.Unavailable, "the access record of this read could not be stored (S-2-3); try again")
		}
		return resp, nil
	}
}

// add stores recs in the spool and returns once they are committed: it waits for room in the
// buffer and for the group commit (storeLoop).
func (r *Recorder) add(ctx context.Context, recs []record) error {
	if len(recs) == 0 {
		return nil
	}
	for i := range recs {
		recs[i].requestID = r.requestID(recs[i])
	}
	w := write{recs: recs, done: make(chan error, 1)}
	r.mu.RLock()
	if r.closed {
		r.mu.RUnlock()
		return ErrClosed
	}
	select {
	case r.writes <- w:
		r.mu.RUnlock()
	case <-ctx.Done():
		r.mu.RUnlock()
		return ctx.Err()
	}
	// Once queued, the write is committed or fails as a whole: waiting for it is not abandoned
	// with ctx, so that a read is never answered "failed" while its record is stored.
	return <-w.done
}

// requestID is fixed when the record is made, so retried appends are one entry: a hash of what
// the entry states, this recorder's id and a sequence number (two reads alike to the nanosecond
// are still two entries).
func (r *Recorder) requestID(rec record) string {
	h := sha256.New()
	e := rec.entry
	for _, s := range []string{rec.parent, e.GetAction(), e.GetActor(), e.GetSubject(), e.GetRemoteAddr(), e.GetOccurTime().AsTime().Format(time.RFC3339Nano)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write(r.id[:])
	h.Write(binary.BigEndian.AppendUint64(nil, r.seq.Add(1)))
	return "access-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// remoteAddr is the client's IP address (S-2-3 access location): the peer, or, when the peer is
// a trusted proxy, the first X-Forwarded-For hop, from the nearest back, that is not one.
func (r *Recorder) remoteAddr(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return "unknown"
	}
	var addr netip.Addr
	if ap, err := netip.ParseAddrPort(p.Addr.String()); err == nil {
		addr = ap.Addr().Unmap()
	} else {
		return p.Addr.String() // a Unix socket, say
	}
	if !r.trusted(addr) {
		return addr.String()
	}
	var hops []string
	for _, h := range metadata.ValueFromIncomingContext(ctx, "x-forwarded-for") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // hops further left are the client's word
		}
		addr = a.Unmap()
		if !r.trusted(addr) {
			break
		}
	}
	return addr.String()
}

func (r *Recorder) trusted(a netip.Addr) bool {
	for _, p := range r.o.Trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// storeLoop commits what reads queued, in one transaction per batch of what has accumulated
// (group commit: under load one commit answers many reads), until Close.
func (r *Recorder) storeLoop() {
	defer close(r.stored)
	for {
		var batch []write
		select {
		case w := <-r.writes:
			batch = append(batch, w)
		case <-r.done:
			for { // Close waits for the writers it let in: store what they queued
				select {
				case w := <-r.writes:
					batch = append(batch, w)
				default:
					r.commit(batch)
					return
				}
			}
		}
		n := len(batch[0].recs)
	fill:
		for n < r.o.Batch {
			select {
			case w := <-r.writes:
				batch = append(batch, w)
				n += len(w.recs)
			default:
				break fill
			}
		}
		r.commit(batch)
	}
}

// commit stores the batch's records and tells each write the outcome.
func (r *Recorder) commit(batch []write) {
	if len(batch) == 0 {
		return
	}
	var tenants, parents, ids []string
	var entries [][]byte
	var err error
	for _, w := range batch {
		for _, rec := range w.recs {
			var raw []byte
			if raw, err = proto.Marshal(rec.entry); err != nil {
				break
			}
			t, _, _ := names.ParseLog("parent", rec.parent) // a unit's log, or a tenant's own
			tenants, parents, ids, entries = append(tenants, t), append(parents, rec.parent), append(ids, rec.requestID), append(entries, raw)
		}
	}
	if err == nil {
		ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
		_, err = r.o.Pool.Exec(ctx, `INSERT INTO accesslog.spool (tenant_id, parent, request_id, entry)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[])`, tenants, parents, ids, entries)
		cancel()
	}
	for _, w := range batch {
		w.done <- err
	}
	if err == nil {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

// flushLoop appends the spool's records to the ledger whenever records were stored, and every
// o.Every (what an earlier process left, what the ledger could not take before), until Close.
func (r *Recorder) flushLoop() {
	defer close(r.flushed)
	tick := time.NewTicker(r.o.Every)
	defer tick.Stop()
	for {
		select {
		case <-r.kick:
		case <-tick.C:
		case <-r.stored: // closing: one last pass
			r.flush()
			return
		}
		r.flush()
	}
}

// flush appends the spool's records, oldest first, a batch at a time, until the spool is empty
// or the ledger stops taking them. Each record goes under its request_id, so a record that two
// replicas' flushers both send is one entry; it leaves the spool once the ledger holds it, or
// refused it (counted and logged: a gap to explain).
func (r *Recorder) flush() {
	for r.ctx.Err() == nil {
		batch, err := r.pending()
		if err != nil {
			slog.Error("access log: reading the spool", "err", err)
			return
		}
		var (
			g    errgroup.Group
			mu   sync.Mutex
			gone []int64
		)
		g.SetLimit(r.o.Concurrency)
		for _, rec := range batch {
			g.Go(func() error {
				err := r.append(rec)
				switch {
				case err == nil:
					r.appended.Add(1)
					r.mAdded.Add(context.Background(), 1)
				case !retryable(err):
					r.failed.Add(1)
					r.mFailed.Add(context.Background(), 1)
					slog.Error("access log: the ledger refused a record (S-2-3 gap)", "log", rec.parent, "request_id", rec.requestID, "err", err)
				default:
					return err
				}
				mu.Lock()
				gone = append(gone, rec.id)
				mu.Unlock()
				return nil
			})
		}
		waitErr := g.Wait()
		if len(gone) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := r.o.Pool.Exec(ctx, `DELETE FROM accesslog.spool WHERE id = ANY($1)`, gone)
			cancel()
			if err != nil {
				slog.Error("access log: clearing the spool", "err", err)
				return
			}
		}
		if waitErr != nil {
			slog.Warn("access log: the ledger is not taking records; they wait in the spool", "err", waitErr)
			return
		}
		if len(batch) < r.o.Batch {
			return
		}
	}
}

// pending reads the oldest records of the spool.
func (r *Recorder) pending() ([]record, error) {
	ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
	defer cancel()
	rows, err := r.o.Pool.Query(ctx, `SELECT id, parent, request_id, entry FROM accesslog.spool ORDER BY id LIMIT $1`, r.o.Batch)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (record, error) {
		var rec record
		var raw []byte
		if err := row.Scan(&rec.id, &rec.parent, &rec.requestID, &raw); err != nil {
			return rec, err
		}
		rec.entry = &ledgerv1.Entry{}
		return rec, proto.Unmarshal(raw, rec.entry)
	})
}

// append appends rec once; the spool keeps it for the next pass if this fails.
func (r *Recorder) append(rec record) error {
	ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
	defer cancel()
	_, err := r.o.Ledger.AppendEntry(ctx, &ledgerv1.AppendEntryRequest{Parent: rec.parent, Entry: rec.entry, RequestId: rec.requestID},
		grpc.PerRPCCredentials(auth.PerRPCToken(r.o.Token)))
	return err
}

func retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted, codes.Unknown, codes.Internal, codes.Canceled:
		return true
	}
	return false
}

// Close stops recording (later reads fail with Unavailable: they cannot be recorded), stores what
// is queued, and appends the spool to the ledger, waiting until ctx is done; what is left stays
// in the spool for the next process.
func (r *Recorder) Close(ctx context.Context) error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.done)
	}
	r.mu.Unlock()
	defer r.cancel()
	select {
	case <-r.flushed:
		return nil
	case <-ctx.Done():
		r.cancel()
		<-r.flushed
		return ctx.Err()
	}
}
