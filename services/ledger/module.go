package ledger

import (
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/grpc"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// Module is the ledger as a pipa process runs it. It asks the registry whether a unit exists.
var Module = modules.Module{
	Name:       "ledger",
	Service:    ledgerv1.LedgerService_ServiceDesc.ServiceName,
	Schema:     pg.Schema,
	Migrations: pg.Migrations,
	Needs:      []string{"registry"},
	Public:     PublicMethods,
	Access:     AccessRules,
	Register: func(g *grpc.Server, d modules.Deps) error {
		box, err := d.Box()
		if err != nil {
			return err
		}
		reg, err := d.Conn("registry")
		if err != nil {
			return err
		}
		// A note key name, which the origin host starts, has no spaces and no '+'.
		if strings.ContainsAny(d.LedgerOrigin, "/+ \t\r\n") {
			return fmt.Errorf("PIPA_LEDGER_ORIGIN %q: want a host name, e.g. ledger.iksan.go.kr", d.LedgerOrigin)
		}
		store := pg.New(d.Pool, box, pg.WithOriginHost(d.LedgerOrigin))
		ledgerv1.RegisterLedgerServiceServer(g, New(store, box, registryv1.NewRegistryServiceClient(reg)))
		return nil
	},
	Gateway: ledgerv1.RegisterLedgerServiceHandler,
	Pages: func(conn *grpc.ClientConn, d modules.Deps) map[string]http.Handler {
		client := ledgerv1.NewLedgerServiceClient(conn)
		m := map[string]http.Handler{ExportPattern: Export(client)}
		if d.Pool != nil { // tiles read the stored hashes: served where the ledger has its database
			if box, err := d.Box(); err == nil {
				m[TilesPattern] = Tiles(pg.New(d.Pool, box, pg.WithOriginHost(d.LedgerOrigin)), client)
			}
		}
		return m
	},
}
