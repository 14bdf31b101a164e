// Package registry is the registry service's gRPC server: tenants, units, officers, CCTV sites,
// personal-information files, processors, and the privacy and CCTV policies published from them.
// Handlers validate, authorise, call the store or the policy domain, and return; errors are
// translated to gRPC statuses once, by pkg/server. README.md tells the life of a policy version.
package registry

import (
	"context"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/idempotency"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/registry/store/pg"
)

// Server implements registryv1.RegistryServiceServer.
type Server struct {
	registryv1.UnimplementedRegistryServiceServer
	store *pg.Store
	now   func() time.Time
	// ledger receives the publications' records (publish.go), with the service credential token;
	// nil where the registry runs without its ledger (they wait in the outbox).
	ledger ledgerv1.LedgerServiceClient
	token  func() (string, error)
	// outbox delivers the registers' REGISTER entries (registers.go); nil without Open.
	outbox *ledgerout.Outbox
	// sources are the other services' parts of the obligations list (obligations.go).
	sources sources
}

// Option configures a Server.
type Option func(*Server)

// WithClock replaces the wall clock; tests move it to cross effective dates.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// New returns the registry server over store.
func New(store *pg.Store, opts ...Option) *Server {
	s := &Server{store: store, now: time.Now, sources: sources{{name: "requests"}, {name: "retention"}}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// PublicMethods are callable without a token (the published policies, the bodies' indexes and
// the postings of notices, DEC-28-5).
var PublicMethods = map[string]bool{
	registryv1.RegistryService_GetPublishedPolicy_FullMethodName:        true,
	registryv1.RegistryService_GetPublishedPolicyVersion_FullMethodName: true,
	registryv1.RegistryService_GetPublicIndex_FullMethodName:            true,
	registryv1.RegistryService_ListPublicBodies_FullMethodName:          true,
	registryv1.RegistryService_GetNoticePosting_FullMethodName:          true,
	registryv1.RegistryService_ListNoticePostings_FullMethodName:        true,
}

// Roles by what they may do in the registry (ARCHITECTURE "Identity and tenancy").
var (
	readRoles     = []auth.Role{"cpo", "manager", "handler", "auditor", "tenant_admin", "service"}
	writeRoles    = []auth.Role{"cpo", "manager", "tenant_admin"}
	announceRoles = []auth.Role{"cpo", "tenant_admin"}
	adminRoles    = []auth.Role{"tenant_admin"}
)

// authorize checks that the caller holds one of roles on the tenant or on a unit subtree that
// contains unit. A caller with no grant inside the tenant is refused before anything is read, so
// it learns nothing about the tenant's data, not even whether a unit exists.
func (s *Server) authorize(ctx context.Context, tenant, unit string, roles []auth.Role) error {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return status.Error(codes.Unauthenticated, "a bearer token is required")
	}
	if p.Allows(tenant, nil, roles...) {
		return nil
	}
	denied := apierr.Denied("the caller's roles do not cover " + target(tenant, unit))
	if unit == "" {
		return denied
	}
	all, tenants := p.TenantScope()
	if !all && !slices.Contains(tenants, tenant) {
		return denied
	}
	path, err := s.store.Tenant(tenant).UnitPath(ctx, unit)
	if err != nil {
		return err
	}
	if p.Allows(tenant, path, roles...) {
		return nil
	}
	return denied
}

func target(tenant, unit string) string {
	if unit == "" {
		return names.Tenant(tenant)
	}
	return names.Unit(tenant, unit)
}

// idem is the idempotency key of a create: the gRPC method and the request hashed without its
// request_id, so a retry matches and a different request reusing the id is refused (AIP-155).
func idem(ctx context.Context, requestID string, req proto.Message) pg.Idem {
	if requestID == "" {
		return pg.Idem{}
	}
	method, _ := grpc.Method(ctx)
	h, err := idempotency.RequestHash(req)
	if err != nil {
		// Unreachable for a request that was just unmarshalled; never match a replay on it.
		h = []byte(err.Error())
	}
	return pg.Idem{RequestID: requestID, Method: method, Hash: h}
}

// once runs change, which changes the resource called name, in one transaction of tenant t's
// store, at most once per requestID (AIP-155). A retry of a call that succeeded does not run change
// again: it runs reread, which answers with what the resource now is (nil for a delete, whose
// answer is empty). The same requestID with another request is refused naming request_id. The
// caller has authorized and validated the call; replayed says change did not run.
func (s *Server) once(ctx context.Context, t, requestID string, req proto.Message, name string,
	change, reread func(tx *pg.TenantStore) error) (replayed bool, err error) {
	err = s.store.Tenant(t).InTx(ctx, func(tx *pg.TenantStore) error {
		replayed, err = tx.Once(ctx, idem(ctx, requestID, req), func() (string, error) { return name, change(tx) })
		if err != nil || !replayed || reread == nil {
			return err
		}
		return reread(tx)
	})
	return replayed, err
}

func checkRequestID(vs *apierr.Violations, id string) {
	if len(id) > 128 {
		vs.Add("request_id", "range", "must be at most 128 characters")
	}
}

// outputOnly are fields the server sets; clients' values are ignored.
var outputOnly = map[protoreflect.Name]bool{"name": true, "create_time": true, "update_time": true, "etag": true}

// clearOutputOnly drops server-set fields from a client's message.
func clearOutputOnly(m proto.Message, extra ...protoreflect.Name) {
	r := m.ProtoReflect()
	fields := r.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if outputOnly[fd.Name()] || slices.Contains(extra, fd.Name()) {
			r.Clear(fd)
		}
	}
}

// clearFields clears m's fields of those names (derived fields a client's value must not set).
func clearFields(m proto.Message, fields ...protoreflect.Name) {
	r := m.ProtoReflect()
	for _, f := range fields {
		r.Clear(r.Descriptor().Fields().ByName(f))
	}
}

// applyMask copies the masked top-level fields of src into dst (AIP-134). Without a mask, the
// fields src populates are copied (the implied mask). allowed limits the paths (nil: any
// non-output-only field).
func applyMask(dst, src proto.Message, mask *fieldmaskpb.FieldMask, allowed map[string]bool) error {
	d, sr := dst.ProtoReflect(), src.ProtoReflect()
	fields := d.Descriptor().Fields()
	copyField := func(fd protoreflect.FieldDescriptor) {
		if sr.Has(fd) {
			d.Set(fd, sr.Get(fd))
		} else {
			d.Clear(fd)
		}
	}
	if len(mask.GetPaths()) == 0 {
		for i := 0; i < fields.Len(); i++ {
			fd := fields.Get(i)
			if sr.Has(fd) && !outputOnly[fd.Name()] && (allowed == nil || allowed[string(fd.Name())]) {
				copyField(fd)
			}
		}
		return nil
	}
	var vs apierr.Violations
	for i, p := range mask.GetPaths() {
		fd := fields.ByName(protoreflect.Name(p))
		if fd == nil {
			fd = fields.ByJSONName(p)
		}
		if fd == nil || outputOnly[fd.Name()] || (allowed != nil && !allowed[string(fd.Name())]) {
			vs.Add(fieldIdx("update_mask.paths", i), "enum", "%q is not a field that can be updated", p)
			continue
		}
		copyField(fd)
	}
	return vs.Err()
}

// updatable is the allowed set of applyMask for a resource m whose fields except are set by the
// server or fixed at creation: a mask naming one is refused, where copying would silently keep the
// stored value and answer as if it had changed.
func updatable(m proto.Message, except ...protoreflect.Name) map[string]bool {
	fields := m.ProtoReflect().Descriptor().Fields()
	out := make(map[string]bool, fields.Len())
	for i := 0; i < fields.Len(); i++ {
		if n := fields.Get(i).Name(); !slices.Contains(except, n) {
			out[string(n)] = true
		}
	}
	return out
}

func pageSize(n int32) (int, error) {
	if n < 0 {
		return 0, apierr.Invalid(apierr.Violation{Field: "page_size", Rule: "range", Description: "must not be negative"})
	}
	return int(n), nil
}
