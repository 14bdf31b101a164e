package accesslog

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/names"
)

// Options configures a Recorder.
type Options struct {
	// Ledger receives the entries.
	Ledger ledgerv1.LedgerServiceClient
	// Token is the service credential (role service on scope "*"): auth.DevServiceToken in
	// development, TokenFile in production.
	Token func() (string, error)
	// Trusted are the proxies (the REST gateway, an ingress) whose X-Forwarded-For names the client.
	Trusted []netip.Prefix
	// Buffer bounds the records waiting to be appended; 10,000 when zero.
	Buffer int
	// Concurrency bounds the appends in flight; 16 when zero. The ledger commits concurrent
	// appends to one log together, so a burst costs a few transactions, not one each.
	Concurrency int
}

// record is one ACCESS entry waiting to be appended.
type record struct {
	parent    string
	requestID string
	entry     *ledgerv1.Entry
}

// Recorder queues access records and appends them to the ledger in the background.
type Recorder struct {
	o      Options
	id     [8]byte // this recorder's, so that request ids of two replicas never meet
	seq    atomic.Uint64
	ch     chan record
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.RWMutex // guards closed against sends to ch
	closed bool
	done   chan struct{} // closed by Close
	exited chan struct{} // closed when the flusher has finished

	dropped, failed, appended atomic.Int64
	reported                  atomic.Int64 // dropped, as of the last error log
	mDropped, mFailed, mAdded metric.Int64Counter
}

// NewRecorder starts a recorder; Close stops it.
func NewRecorder(o Options) *Recorder {
	if o.Buffer <= 0 {
		o.Buffer = 10_000
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	r := &Recorder{o: o, ch: make(chan record, o.Buffer), done: make(chan struct{}), exited: make(chan struct{})}
	_, _ = rand.Read(r.id[:])
	r.ctx, r.cancel = context.WithCancel(context.Background())
	m := otel.Meter("github.com/pipa-kr/pipa/pkg/accesslog")
	r.mDropped, _ = m.Int64Counter("pipa.accesslog.dropped", metric.WithDescription("access records dropped because the buffer was full or the recorder closed (S-2-3 gaps)"))
	r.mFailed, _ = m.Int64Counter("pipa.accesslog.failed", metric.WithDescription("access records the ledger refused or that failed after retries"))
	r.mAdded, _ = m.Int64Counter("pipa.accesslog.appended", metric.WithDescription("access records appended to the ledger"))
	go r.run()
	return r
}

// Stats are the records appended, dropped (buffer full or closed) and failed (refused by the
// ledger or out of retries) so far.
func (r *Recorder) Stats() (appended, dropped, failed int64) {
	return r.appended.Load(), r.dropped.Load(), r.failed.Load()
}

// Interceptor records each successful call of a method in rules made by a principal that is not
// a pipa service (auth.Principal.IsService: the service role on "*"). Install it after
// authentication, innermost: it sees the handler's own result.
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
		for _, subject := range rule.Subjects(req, resp) {
			r.add(record{parent: names.Unit(t, u), entry: &ledgerv1.Entry{
				Kind:       ledgerv1.EntryKind_ENTRY_KIND_ACCESS,
				OccurTime:  at,
				Actor:      p.Subject,
				RemoteAddr: addr,
				Subject:    subject,
				Action:     action,
			}})
		}
		return resp, nil
	}
}

// add queues rec without ever waiting: a full buffer drops it (see the package doc).
func (r *Recorder) add(rec record) {
	rec.requestID = r.requestID(rec)
	r.mu.RLock()
	defer r.mu.RUnlock()
	if !r.closed {
		select {
		case r.ch <- rec:
			return
		default:
		}
	}
	r.dropped.Add(1)
	r.mDropped.Add(context.Background(), 1)
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

// run appends what is queued, in batches of what has accumulated, until Close.
func (r *Recorder) run() {
	defer close(r.exited)
	most := 4 * r.o.Concurrency
	for {
		var batch []record
		select {
		case rec := <-r.ch:
			batch = append(batch, rec)
		case <-r.done:
			for {
				select {
				case rec := <-r.ch:
					batch = append(batch, rec)
				default:
					r.flush(batch)
					return
				}
			}
		}
	fill:
		for len(batch) < most {
			select {
			case rec := <-r.ch:
				batch = append(batch, rec)
			default:
				break fill
			}
		}
		r.flush(batch)
	}
}

func (r *Recorder) flush(batch []record) {
	if d := r.dropped.Load(); d != r.reported.Load() {
		r.reported.Store(d)
		slog.Error("access log: records dropped, the buffer was full (S-2-3 gap)", "dropped_total", d)
	}
	var g errgroup.Group
	g.SetLimit(r.o.Concurrency)
	for _, rec := range batch {
		g.Go(func() error {
			if err := r.append(rec); err != nil {
				r.failed.Add(1)
				r.mFailed.Add(context.Background(), 1)
				slog.Error("access log: append failed", "log", rec.parent, "request_id", rec.requestID, "err", err)
				return nil
			}
			r.appended.Add(1)
			r.mAdded.Add(context.Background(), 1)
			return nil
		})
	}
	_ = g.Wait()
}

// append appends rec, retrying (with the same request_id) while the ledger is unreachable.
func (r *Recorder) append(rec record) error {
	req := &ledgerv1.AppendEntryRequest{Parent: rec.parent, Entry: rec.entry, RequestId: rec.requestID}
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
		_, err := r.o.Ledger.AppendEntry(ctx, req, grpc.PerRPCCredentials(auth.PerRPCToken(r.o.Token)))
		cancel()
		if err == nil || attempt == 5 || !retryable(err) {
			return err
		}
		select {
		case <-r.ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait *= 2
	}
}

func retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted, codes.Unknown, codes.Internal:
		return true
	}
	return false
}

// Close stops recording and appends what is queued, waiting until ctx is done; records made after
// Close are dropped and counted.
func (r *Recorder) Close(ctx context.Context) error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.done)
	}
	r.mu.Unlock()
	defer r.cancel()
	select {
	case <-r.exited:
		return nil
	case <-ctx.Done():
		r.cancel()
		<-r.exited
		return ctx.Err()
	}
}
