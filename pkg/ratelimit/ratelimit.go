package ratelimit

import (
	"context"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pipa-kr/pipa/pkg/apierr"
)

// limited is the error of a limited call, the same for HTTP (as the gateway renders a gRPC
// status) and gRPC.
var limited = apierr.RateLimited("rate limit exceeded, retry later").GRPCStatus()

var httpBody, _ = protojson.Marshal(limited.Proto())

const (
	// defaultMaxClients caps the buckets kept: about 100 bytes each, so some 10 MB at most.
	defaultMaxClients = 100_000
	// minIdle keeps sweeps of the client table rare even when buckets refill quickly.
	minIdle = time.Minute
)

// Limiter limits requests per client address. The zero value is not usable; call New.
type Limiter struct {
	limit      rate.Limit
	burst      int
	trusted    []netip.Prefix
	idle       time.Duration // a bucket unused this long is full again, so forgetting it loses nothing
	maxClients int
	now        func() time.Time

	mu        sync.Mutex
	clients   map[netip.Addr]*client
	overflow  *rate.Limiter // shared by new clients while the table is full
	nextSweep time.Time
}

type client struct {
	bucket   *rate.Limiter
	lastSeen time.Time
}

// Option configures a Limiter.
type Option func(*Limiter)

// WithTrustedProxies names the proxies (load balancers, the REST gateway) whose X-Forwarded-For
// header, or x-forwarded-for gRPC metadata, says who the client is.
func WithTrustedProxies(proxies ...netip.Prefix) Option {
	return func(l *Limiter) { l.trusted = append(l.trusted, proxies...) }
}

// New returns a Limiter allowing each client perSecond requests a second on average, in bursts of
// up to burst (at least 1). With perSecond <= 0 it limits nothing.
func New(perSecond float64, burst int, opts ...Option) *Limiter {
	burst = max(burst, 1)
	l := &Limiter{
		limit:      rate.Limit(perSecond),
		burst:      burst,
		maxClients: defaultMaxClients,
		now:        time.Now,
		clients:    make(map[netip.Addr]*client),
		overflow:   rate.NewLimiter(rate.Limit(perSecond), burst),
	}
	if perSecond > 0 {
		l.idle = max(time.Duration(float64(burst)/perSecond*float64(time.Second)), minIdle)
	}
	for _, o := range opts {
		o(l)
	}
	return l
}

func (l *Limiter) disabled() bool { return l == nil || l.limit <= 0 }

// Middleware limits the requests for which match returns true (every request if match is nil) and
// passes the others through. A limited request gets 429 Too Many Requests, a Retry-After header,
// and a JSON body shaped like the gateway's errors.
func (l *Limiter) Middleware(match func(*http.Request) bool, next http.Handler) http.Handler {
	if l.disabled() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if match == nil || match(r) {
			if wait, ok := l.allow(l.clientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"))); !ok {
				w.Header().Set("Retry-After", retryAfter(wait))
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = w.Write(httpBody)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// UnaryServerInterceptor limits the calls whose full method match accepts (every call if match is
// nil), keyed by the peer address, or by the x-forwarded-for metadata a trusted peer sends. A
// limited call gets codes.ResourceExhausted and a retry-after header.
func (l *Limiter) UnaryServerInterceptor(match func(fullMethod string) bool) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if l.disabled() || (match != nil && !match(info.FullMethod)) {
			return handler(ctx, req)
		}
		var peerAddr string
		if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
			peerAddr = p.Addr.String()
		}
		wait, ok := l.allow(l.clientAddr(peerAddr, metadata.ValueFromIncomingContext(ctx, "x-forwarded-for")))
		if !ok {
			_ = grpc.SetHeader(ctx, metadata.Pairs("retry-after", retryAfter(wait)))
			return nil, limited.Err()
		}
		return handler(ctx, req)
	}
}

// clientAddr says whom to count a request against. Callers whose address cannot be parsed (a Unix
// socket, say) share the zero address's bucket.
func (l *Limiter) clientAddr(peerAddr string, forwardedFor []string) netip.Addr {
	var addr netip.Addr
	if ap, err := netip.ParseAddrPort(peerAddr); err == nil {
		addr = ap.Addr()
	} else if a, err := netip.ParseAddr(peerAddr); err == nil {
		addr = a
	}
	addr = addr.Unmap().WithZone("")
	// Walk X-Forwarded-For from the nearest hop back while the hops are trusted proxies: the first
	// untrusted one is the client. Hops further left were written by the client and may be forged.
	if l.isTrusted(addr) {
		var hops []string
		for _, h := range forwardedFor {
			hops = append(hops, strings.Split(h, ",")...)
		}
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break
			}
			addr = a.Unmap().WithZone("")
			if !l.isTrusted(addr) {
				break
			}
		}
	}
	if addr.Is6() {
		// One subscriber usually holds a whole /64.
		addr = netip.PrefixFrom(addr, 64).Masked().Addr()
	}
	return addr
}

func (l *Limiter) isTrusted(addr netip.Addr) bool {
	for _, p := range l.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// allow takes a token from addr's bucket, or says how long until one is there.
func (l *Limiter) allow(addr netip.Addr) (wait time.Duration, ok bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !now.Before(l.nextSweep) {
		l.sweep(now)
	}
	bucket := l.overflow
	if c, found := l.clients[addr]; found {
		c.lastSeen = now
		bucket = c.bucket
	} else if len(l.clients) < l.maxClients {
		bucket = rate.NewLimiter(l.limit, l.burst)
		l.clients[addr] = &client{bucket: bucket, lastSeen: now}
	}
	r := bucket.ReserveN(now, 1)
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now)
		return wait, false
	}
	return 0, true
}

// sweep forgets the clients idle for l.idle: their buckets have refilled, so a fresh one is the same.
func (l *Limiter) sweep(now time.Time) {
	for addr, c := range l.clients {
		if now.Sub(c.lastSeen) >= l.idle {
			delete(l.clients, addr)
		}
	}
	l.nextSweep = now.Add(l.idle)
}

// retryAfter renders a wait as whole seconds, rounded up (RFC 9110 §10.2.3).
func retryAfter(wait time.Duration) string {
	return strconv.Itoa(max(int(math.Ceil(wait.Seconds())), 1))
}
