package server

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/fullstorydev/grpchan/inprocgrpc"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/pipa-kr/pipa/pkg/telemetry"
)

// InProcess is where a process's own REST edge and services reach the services it runs
// (monolithic mode, through Local): a grpc.ClientConnInterface that calls their handlers directly, through the same unary
// interceptors as NewGRPC's server (panic recovery, authentication, error translation, the
// access log), with no loopback connection, no HTTP/2 framing and no encoding of each message:
// messages are copied, not marshalled. It is github.com/fullstorydev/grpchan's inprocgrpc
// (FullStory's, maintained, the same Channel its httpgrpc builds on); grpc-gateway's own
// in-process option (Register…HandlerServer) skips the interceptors altogether.
//
// The OpenTelemetry server stats handler (telemetry.GRPCServer) runs on it as over the network (its span and the
// rpc.server metrics); the client's does not: in one process the caller's span is handed to the
// callee directly (inProcessParent), so one call is still one trace, without a client span, the
// rpc.client metrics and the trace context written into and read back from metadata on every
// call (together about 6 % of an append's CPU over REST). The peer of a call is the edge's own client: the
// last X-Forwarded-For hop, which grpc-gateway appends, taken off the list, so that the rate
// limits and the access log (S-2-3, the access location) see what a gRPC server behind a trusted
// loopback edge sees; a call without one (a service's, or a page's without a client address)
// comes from this process, 127.0.0.1.
//
// It serves unary calls only: a streaming call is answered Unimplemented, not run without the
// server's interceptors (no pipa service streams).
//
// Register services on it as on the gRPC server (Registrar does both).
func InProcess(o GRPCOptions) *inprocgrpc.Channel {
	chain := append([]grpc.UnaryServerInterceptor{edgePeer}, unaryChain(o)...)
	return new(inprocgrpc.Channel).
		WithServerStatsHandler(inProcessParent{telemetry.GRPCServer(tracer(o.Tracer)),
			otel.GetTextMapPropagator().Fields()}).
		WithServerUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			return chained(chain, ctx, req, info, h)
		}).
		WithServerStreamInterceptor(func(any, grpc.ServerStream, *grpc.StreamServerInfo, grpc.StreamHandler) error {
			return status.Error(codes.Unimplemented, "streaming is not served in-process")
		})
}

// inProcessParent gives an in-process call's server span the caller's span as its parent, and
// the caller's baggage, which a server context does not carry over (inprocgrpc keeps the
// client's context values from the handler) and no client stats handler has written into the
// metadata. Trace fields in the metadata (an HTTP client's Grpc-Metadata-Traceparent, which the
// gateway passes on) are dropped, as a client stats handler's own would have replaced them.
// fields are the propagator's, set once at start-up before the channel is made.
type inProcessParent struct {
	stats.Handler
	fields []string
}

func (h inProcessParent) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	if caller := inprocgrpc.ClientContext(ctx); caller != nil {
		fields := h.fields
		if slices.ContainsFunc(fields, func(f string) bool { return len(metadata.ValueFromIncomingContext(ctx, f)) > 0 }) {
			md, _ := metadata.FromIncomingContext(ctx) // a copy
			for _, f := range fields {
				delete(md, f)
			}
			ctx = metadata.NewIncomingContext(ctx, md)
		}
		if sc := trace.SpanContextFromContext(caller); sc.IsValid() {
			ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
		}
		if b := baggage.FromContext(caller); b.Len() > 0 {
			ctx = baggage.ContextWithBaggage(ctx, b)
		}
	}
	return h.Handler.TagRPC(ctx, info)
}

var loopback = &peer.Peer{Addr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0))}

// edgePeer sets an in-process call's peer (see InProcess). It reads X-Forwarded-For alone and
// copies the metadata once, only to take the hop off.
func edgePeer(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	p := loopback
	if hops := metadata.ValueFromIncomingContext(ctx, "x-forwarded-for"); len(hops) > 0 {
		last := hops[len(hops)-1]
		rest, hop := "", last
		if i := strings.LastIndexByte(last, ','); i >= 0 {
			rest, hop = strings.TrimSpace(last[:i]), last[i+1:]
		}
		if a, err := netip.ParseAddr(strings.TrimSpace(hop)); err == nil {
			hops = hops[:len(hops)-1] // hops is a copy
			if rest != "" {
				hops = append(hops, rest)
			}
			md, _ := metadata.FromIncomingContext(ctx) // a copy
			if len(hops) == 0 {
				delete(md, "x-forwarded-for")
			} else {
				md.Set("x-forwarded-for", hops...)
			}
			ctx = metadata.NewIncomingContext(ctx, md)
			p = &peer.Peer{Addr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(a.Unmap(), 0))}
		}
	}
	return h(peer.NewContext(ctx, p), req)
}

// chained runs req through chain, outermost first, then h.
func chained(chain []grpc.UnaryServerInterceptor, ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if len(chain) == 0 {
		return h(ctx, req)
	}
	return chain[0](ctx, req, info, func(ctx context.Context, req any) (any, error) {
		return chained(chain[1:], ctx, req, info, h)
	})
}

// Local is how a process's own services reach each other and how its REST edge reaches them
// (monolithic mode): the in-process channel (InProcess) once every service run here is registered
// on it (Open). A call made before waits, as a call to a gRPC server that has not begun serving
// waits for it: the services are handed Local while they are still being registered, and some
// start background work that calls the others at once.
type Local struct {
	ch    *inprocgrpc.Channel
	ready chan struct{}
}

// NewLocal is a Local that holds its calls until Open.
func NewLocal() *Local { return &Local{ready: make(chan struct{})} }

// Open serves the calls on ch, whose services must all be registered: registering on a channel
// that serves is a data race. Called once.
func (l *Local) Open(ch *inprocgrpc.Channel) {
	l.ch = ch
	close(l.ready)
}

func (l *Local) Invoke(ctx context.Context, method string, req, resp any, opts ...grpc.CallOption) error {
	if err := l.wait(ctx); err != nil {
		return err
	}
	return l.ch.Invoke(ctx, method, req, resp, opts...)
}

func (l *Local) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if err := l.wait(ctx); err != nil {
		return nil, err
	}
	return l.ch.NewStream(ctx, desc, method, opts...)
}

// wait waits for Open, or for ctx to end: then its error is the status a gRPC client gives.
func (l *Local) wait(ctx context.Context) error {
	select {
	case <-l.ready:
		return nil
	default:
	}
	select {
	case <-l.ready:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}

// Registrar registers every service on each of rs: the gRPC server and the in-process channel.
type Registrar []grpc.ServiceRegistrar

func (rs Registrar) RegisterService(desc *grpc.ServiceDesc, impl any) {
	for _, r := range rs {
		r.RegisterService(desc, impl)
	}
}
