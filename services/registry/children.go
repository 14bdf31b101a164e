package registry

import (
	"context"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/registry/register"
	"github.com/pipa-kr/pipa/services/registry/store/pg"
)

// child describes one kind of resource that lives under a unit; officers, sites, files and
// processors share one implementation of the standard methods. References between them (a site's
// manager) are checked by the store, in the transaction that writes.
type child[M proto.Message] struct {
	kind     pg.Kind
	names    names.Collection
	field    string // request field holding the resource, e.g. "site"
	newMsg   func() M
	validate func(M) apierr.Violations
	// check, when set, validates m against the tenant (e.g. the CPO's grade for its kind).
	check func(ctx context.Context, s *Server, tenant string, m M) (apierr.Violations, error)
	// derived are output-only fields computed from other records; output, when set, computes
	// them on what is returned (ms of the tenant's unit).
	derived []protoreflect.Name
	output  func(ctx context.Context, s *Server, tenant, unit string, ms []M) error
	// paths are the fields an update may name: all but the derived (withPaths).
	paths map[string]bool
}

// withPaths is c with its paths set, made once for the kind rather than on every update.
func (c child[M]) withPaths() child[M] {
	c.paths = updatable(c.newMsg(), c.derived...)
	return c
}

var (
	officerKind = child[*registryv1.Officer]{kind: pg.Officers, names: names.Officers, field: "officer",
		newMsg: func() *registryv1.Officer { return &registryv1.Officer{} }, validate: validateOfficer, check: checkCPO}.withPaths()
	siteKind = child[*registryv1.Site]{kind: pg.Sites, names: names.Sites, field: "site",
		newMsg: func() *registryv1.Site { return &registryv1.Site{} }, validate: validateSite}.withPaths()
	fileKind = child[*registryv1.PersonalInformationFile]{kind: pg.Files, names: names.Files, field: "file",
		newMsg: func() *registryv1.PersonalInformationFile { return &registryv1.PersonalInformationFile{} }, validate: validateFile,
		derived: []protoreflect.Name{"registered", "registration_state"}, output: fileStatus}.withPaths()
	processorKind = child[*registryv1.Processor]{kind: pg.Processors, names: names.Processors, field: "processor",
		newMsg: func() *registryv1.Processor { return &registryv1.Processor{} }, validate: validateProcessor}.withPaths()
)

func (c child[M]) create(ctx context.Context, s *Server, parent, id, requestID string, in M, req proto.Message) (M, error) {
	var zero M
	t, u, err := names.ParseUnit("parent", parent)
	if err != nil {
		return zero, err
	}
	if err := s.authorize(ctx, t, u, writeRoles); err != nil {
		return zero, err
	}
	m := proto.CloneOf(in)
	clearOutputOnly(m, c.derived...)
	vs, err := c.validateIn(ctx, s, t, m)
	if err != nil {
		return zero, err
	}
	names.CheckID(&vs, c.field+"_id", id)
	checkRequestID(&vs, requestID)
	if err := vs.Err(); err != nil {
		return zero, err
	}
	if err := s.store.Tenant(t).CreateChild(ctx, c.kind, u, id, m, idem(ctx, requestID, req)); err != nil {
		return zero, err
	}
	return m, c.setOutput(ctx, s, t, u, m)
}

// setOutput computes the derived fields of ms, where c has any.
func (c child[M]) setOutput(ctx context.Context, s *Server, t, u string, ms ...M) error {
	if c.output == nil {
		return nil
	}
	return c.output(ctx, s, t, u, ms)
}

// fileStatus sets files' registration status from their registration records (PIPA-32-1).
func fileStatus(ctx context.Context, s *Server, t, u string, files []*registryv1.PersonalInformationFile) error {
	_, err := s.fileEvents(ctx, t, u, files)
	return err
}

// validateIn validates m, and checks it against the tenant where c says.
func (c child[M]) validateIn(ctx context.Context, s *Server, t string, m M) (apierr.Violations, error) {
	vs := c.validate(m)
	if c.check == nil {
		return vs, nil
	}
	more, err := c.check(ctx, s, t, m)
	return append(vs, more...), err
}

// checkCPO checks an officer made CPO against DEC-32-2 for the body's kind.
func checkCPO(ctx context.Context, s *Server, t string, o *registryv1.Officer) (apierr.Violations, error) {
	if !register.IsCPO(o) {
		return nil, nil
	}
	tenant, err := s.store.Tenant(t).Get(ctx)
	if err != nil {
		return nil, err
	}
	return register.ValidateCPO(o, tenant.GetKind()), nil
}

func (c child[M]) get(ctx context.Context, s *Server, name string) (M, error) {
	var zero M
	t, u, id, err := c.names.Parse("name", name)
	if err != nil {
		return zero, err
	}
	if err := s.authorize(ctx, t, u, readRoles); err != nil {
		return zero, err
	}
	m := c.newMsg()
	if err := s.store.Tenant(t).GetChild(ctx, c.kind, u, id, m); err != nil {
		return zero, err
	}
	return m, c.setOutput(ctx, s, t, u, m)
}

func (c child[M]) list(ctx context.Context, s *Server, parent string, size int32, token string) ([]M, string, error) {
	t, u, err := names.ParseUnit("parent", parent)
	if err != nil {
		return nil, "", err
	}
	if err := s.authorize(ctx, t, u, readRoles); err != nil {
		return nil, "", err
	}
	n, err := pageSize(size)
	if err != nil {
		return nil, "", err
	}
	ms, next, err := s.store.Tenant(t).ListChildren(ctx, c.kind, []string{u}, n, token, func() proto.Message { return c.newMsg() })
	if err != nil {
		return nil, "", err
	}
	out := make([]M, len(ms))
	for i, m := range ms {
		out[i] = m.(M)
	}
	return out, next, c.setOutput(ctx, s, t, u, out...)
}

func (c child[M]) update(ctx context.Context, s *Server, in M, mask *fieldmaskpb.FieldMask, requestID string, req proto.Message) (M, error) {
	var zero M
	name := in.ProtoReflect().Get(in.ProtoReflect().Descriptor().Fields().ByName("name")).String()
	etag := in.ProtoReflect().Get(in.ProtoReflect().Descriptor().Fields().ByName("etag")).String()
	t, u, id, err := c.names.Parse(c.field+".name", name)
	if err != nil {
		return zero, err
	}
	if err := s.authorize(ctx, t, u, writeRoles); err != nil {
		return zero, err
	}
	cur := c.newMsg()
	_, err = s.once(ctx, t, requestID, req, name, func(tx *pg.TenantStore) error {
		if err := tx.GetChild(ctx, c.kind, u, id, cur); err != nil {
			return err
		}
		if err := applyMask(cur, in, mask, c.paths); err != nil {
			return err
		}
		clearFields(cur, c.derived...)
		vs, err := c.validateIn(ctx, s, t, cur)
		if err != nil {
			return err
		}
		if err := vs.Err(); err != nil {
			return err
		}
		return tx.UpdateChild(ctx, c.kind, u, id, cur, etag)
	}, func(tx *pg.TenantStore) error { return tx.GetChild(ctx, c.kind, u, id, cur) })
	if err != nil {
		return zero, err
	}
	return cur, c.setOutput(ctx, s, t, u, cur)
}

func (c child[M]) delete(ctx context.Context, s *Server, name, etag, requestID string, req proto.Message) (*emptypb.Empty, error) {
	t, u, id, err := c.names.Parse("name", name)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, writeRoles); err != nil {
		return nil, err
	}
	_, err = s.once(ctx, t, requestID, req, name, func(tx *pg.TenantStore) error {
		return tx.DeleteChild(ctx, c.kind, u, id, etag)
	}, nil)
	if err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

func (s *Server) CreateOfficer(ctx context.Context, r *registryv1.CreateOfficerRequest) (*registryv1.Officer, error) {
	return officerKind.create(ctx, s, r.GetParent(), r.GetOfficerId(), r.GetRequestId(), r.GetOfficer(), r)
}
func (s *Server) GetOfficer(ctx context.Context, r *registryv1.GetOfficerRequest) (*registryv1.Officer, error) {
	return officerKind.get(ctx, s, r.GetName())
}
func (s *Server) ListOfficers(ctx context.Context, r *registryv1.ListOfficersRequest) (*registryv1.ListOfficersResponse, error) {
	ms, next, err := officerKind.list(ctx, s, r.GetParent(), r.GetPageSize(), r.GetPageToken())
	return &registryv1.ListOfficersResponse{Officers: ms, NextPageToken: next}, err
}
func (s *Server) UpdateOfficer(ctx context.Context, r *registryv1.UpdateOfficerRequest) (*registryv1.Officer, error) {
	return officerKind.update(ctx, s, r.GetOfficer(), r.GetUpdateMask(), r.GetRequestId(), r)
}
func (s *Server) DeleteOfficer(ctx context.Context, r *registryv1.DeleteOfficerRequest) (*emptypb.Empty, error) {
	return officerKind.delete(ctx, s, r.GetName(), r.GetEtag(), r.GetRequestId(), r)
}

func (s *Server) CreateSite(ctx context.Context, r *registryv1.CreateSiteRequest) (*registryv1.Site, error) {
	return siteKind.create(ctx, s, r.GetParent(), r.GetSiteId(), r.GetRequestId(), r.GetSite(), r)
}
func (s *Server) GetSite(ctx context.Context, r *registryv1.GetSiteRequest) (*registryv1.Site, error) {
	return siteKind.get(ctx, s, r.GetName())
}
func (s *Server) ListSites(ctx context.Context, r *registryv1.ListSitesRequest) (*registryv1.ListSitesResponse, error) {
	ms, next, err := siteKind.list(ctx, s, r.GetParent(), r.GetPageSize(), r.GetPageToken())
	return &registryv1.ListSitesResponse{Sites: ms, NextPageToken: next}, err
}
func (s *Server) UpdateSite(ctx context.Context, r *registryv1.UpdateSiteRequest) (*registryv1.Site, error) {
	return siteKind.update(ctx, s, r.GetSite(), r.GetUpdateMask(), r.GetRequestId(), r)
}
func (s *Server) DeleteSite(ctx context.Context, r *registryv1.DeleteSiteRequest) (*emptypb.Empty, error) {
	return siteKind.delete(ctx, s, r.GetName(), r.GetEtag(), r.GetRequestId(), r)
}

func (s *Server) CreateFile(ctx context.Context, r *registryv1.CreateFileRequest) (*registryv1.PersonalInformationFile, error) {
	return fileKind.create(ctx, s, r.GetParent(), r.GetFileId(), r.GetRequestId(), r.GetFile(), r)
}
func (s *Server) GetFile(ctx context.Context, r *registryv1.GetFileRequest) (*registryv1.PersonalInformationFile, error) {
	return fileKind.get(ctx, s, r.GetName())
}
func (s *Server) ListFiles(ctx context.Context, r *registryv1.ListFilesRequest) (*registryv1.ListFilesResponse, error) {
	ms, next, err := fileKind.list(ctx, s, r.GetParent(), r.GetPageSize(), r.GetPageToken())
	return &registryv1.ListFilesResponse{Files: ms, NextPageToken: next}, err
}
func (s *Server) UpdateFile(ctx context.Context, r *registryv1.UpdateFileRequest) (*registryv1.PersonalInformationFile, error) {
	return fileKind.update(ctx, s, r.GetFile(), r.GetUpdateMask(), r.GetRequestId(), r)
}
func (s *Server) DeleteFile(ctx context.Context, r *registryv1.DeleteFileRequest) (*emptypb.Empty, error) {
	return fileKind.delete(ctx, s, r.GetName(), r.GetEtag(), r.GetRequestId(), r)
}

func (s *Server) CreateProcessor(ctx context.Context, r *registryv1.CreateProcessorRequest) (*registryv1.Processor, error) {
	return processorKind.create(ctx, s, r.GetParent(), r.GetProcessorId(), r.GetRequestId(), r.GetProcessor(), r)
}
func (s *Server) GetProcessor(ctx context.Context, r *registryv1.GetProcessorRequest) (*registryv1.Processor, error) {
	return processorKind.get(ctx, s, r.GetName())
}
func (s *Server) ListProcessors(ctx context.Context, r *registryv1.ListProcessorsRequest) (*registryv1.ListProcessorsResponse, error) {
	ms, next, err := processorKind.list(ctx, s, r.GetParent(), r.GetPageSize(), r.GetPageToken())
	return &registryv1.ListProcessorsResponse{Processors: ms, NextPageToken: next}, err
}
func (s *Server) UpdateProcessor(ctx context.Context, r *registryv1.UpdateProcessorRequest) (*registryv1.Processor, error) {
	return processorKind.update(ctx, s, r.GetProcessor(), r.GetUpdateMask(), r.GetRequestId(), r)
}
func (s *Server) DeleteProcessor(ctx context.Context, r *registryv1.DeleteProcessorRequest) (*emptypb.Empty, error) {
	return processorKind.delete(ctx, s, r.GetName(), r.GetEtag(), r.GetRequestId(), r)
}
