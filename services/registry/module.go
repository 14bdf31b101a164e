package registry

import (
	"net/http"

	"google.golang.org/grpc"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/services/registry/store/pg"
)

// Module is the registry as a pipa process runs it. It calls no other service.
var Module = modules.Module{
	Name:        "registry",
	Service:     registryv1.RegistryService_ServiceDesc.ServiceName,
	Schema:      pg.Schema,
	Migrations:  pg.Migrations,
	Idempotency: true,
	Public:      PublicMethods,
	Access:      AccessRules,
	Register: func(g *grpc.Server, d modules.Deps) error {
		registryv1.RegisterRegistryServiceServer(g, New(pg.New(d.Pool)))
		return nil
	},
	Gateway: registryv1.RegisterRegistryServiceHandler,
	Pages: func(conn *grpc.ClientConn, _ modules.Deps) map[string]http.Handler {
		public := Pages(registryv1.NewRegistryServiceClient(conn))
		m := map[string]http.Handler{}
		for _, p := range PagePatterns {
			m[p] = public
		}
		return m
	},
}
