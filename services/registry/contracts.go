package registry

import (
	"context"

	"google.golang.org/protobuf/proto"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/registry/register"
	"github.com/pipa-kr/pipa/services/registry/store/pg"
)

// Outsourcing contracts (PIPA 26, DEC-28; register.ValidateContract): one per processor, stored
// with its REGISTER entry like the other registers.

// CreateContract records the contract of a processor (PIPA-26-1).
func (s *Server) CreateContract(ctx context.Context, req *registryv1.CreateContractRequest) (*registryv1.ProcessorContract, error) {
	t, u, p, err := names.Processors.Parse("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, writeRoles); err != nil {
		return nil, err
	}
	c := proto.CloneOf(req.GetContract())
	if c == nil {
		c = &registryv1.ProcessorContract{}
	}
	clearOutputOnly(c, "processor", "ledger_entry")
	vs := register.ValidateContract(c, s.today())
	checkRequestID(&vs, req.GetRequestId())
	if err := vs.Err(); err != nil {
		return nil, err
	}
	c.Processor = req.GetParent()
	name, oid, err := s.store.Tenant(t).CreateRecord(ctx, u, pg.Contracts, func(ctx context.Context, tx *pg.TenantStore) (string, error) {
		return p, tx.LockProcessor(ctx, u, p)
	}, c, idem(ctx, req.GetRequestId(), req), s.registerEntry("개인정보 처리업무 위탁계약 기록: "+req.GetParent()))
	if err != nil {
		return nil, err
	}
	s.deliver(ctx, t, oid)
	return s.GetContract(ctx, &registryv1.GetContractRequest{Name: name})
}

var contractRecord = record[*registryv1.ProcessorContract]{kind: pg.Contracts, names: names.Contracts, field: "contract",
	validate: register.ValidateContract,
	changed: func(c *registryv1.ProcessorContract) string {
		return "개인정보 처리업무 위탁계약 변경: " + c.GetProcessor()
	},
	output: func(c *registryv1.ProcessorContract, t, u, id string) { c.Processor = names.Processors.Name(t, u, id) }}

func (s *Server) GetContract(ctx context.Context, req *registryv1.GetContractRequest) (*registryv1.ProcessorContract, error) {
	return contractRecord.get(ctx, s, req.GetName())
}

func (s *Server) ListContracts(ctx context.Context, req *registryv1.ListContractsRequest) (*registryv1.ListContractsResponse, error) {
	cs, err := contractRecord.list(ctx, s, req.GetParent())
	return &registryv1.ListContractsResponse{Contracts: cs}, err
}

// UpdateContract replaces a contract's fields (a renewal, an education, an inspection, a consent),
// at the etag read.
func (s *Server) UpdateContract(ctx context.Context, req *registryv1.UpdateContractRequest) (*registryv1.ProcessorContract, error) {
	return contractRecord.update(ctx, s, req.GetContract(), req.GetRequestId(), req)
}
