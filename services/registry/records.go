package registry

import (
	"context"

	"google.golang.org/protobuf/proto"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/registry/policy"
	"github.com/pipa-kr/pipa/services/registry/store/pg"
)

// record is a register whose records live in a unit under a collection (contracts, internal
// plans): they share Get, List and a whole-record Update at the etag read, each update stored with
// its REGISTER entry.
type record[M interface {
	proto.Message
	GetName() string
	GetEtag() string
}] struct {
	kind     pg.RecordKind
	names    names.Collection
	field    string // the request field holding the record, e.g. "contract"
	validate func(M, policy.Date) apierr.Violations
	// changed is the REGISTER entry's purpose of an update.
	changed func(M) string
	// output sets m's output-only fields from its name before it is stored.
	output func(m M, t, u, id string)
}

func (r record[M]) get(ctx context.Context, s *Server, name string) (M, error) {
	var zero M
	t, u, id, err := r.names.Parse("name", name)
	if err != nil {
		return zero, err
	}
	if err := s.authorize(ctx, t, u, readRoles); err != nil {
		return zero, err
	}
	m := zero.ProtoReflect().New().Interface().(M)
	return m, s.store.Tenant(t).GetRecord(ctx, u, r.kind, id, m)
}

func (r record[M]) list(ctx context.Context, s *Server, parent string) ([]M, error) {
	t, u, err := names.ParseUnit("parent", parent)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, readRoles); err != nil {
		return nil, err
	}
	return listRecords[M](ctx, s.store.Tenant(t), u, r.kind)
}

func (r record[M]) update(ctx context.Context, s *Server, in M, requestID string, req proto.Message) (M, error) {
	var zero M
	t, u, id, err := r.names.Parse(r.field+".name", in.GetName())
	if err != nil {
		return zero, err
	}
	if err := s.authorize(ctx, t, u, writeRoles); err != nil {
		return zero, err
	}
	m := proto.CloneOf(in)
	clearOutputOnly(m, "ledger_entry")
	vs := r.validate(m, s.today())
	checkRequestID(&vs, requestID)
	if err := vs.Err(); err != nil {
		return zero, err
	}
	if r.output != nil {
		r.output(m, t, u, id)
	}
	if err := s.updateRecord(ctx, t, u, r.kind, id, m, in.GetEtag(), s.registerEntry(r.changed(m)), requestID, req); err != nil {
		return zero, err
	}
	return r.get(ctx, s, in.GetName())
}
