package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"

	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/pgdb"
	"github.com/pipa-kr/pipa/services/ledger"
	"github.com/pipa-kr/pipa/services/registry"
	"github.com/pipa-kr/pipa/services/requests"
	"github.com/pipa-kr/pipa/services/retention"
)

// built are the services this binary contains; each declares what it needs (pkg/modules).
var built = []modules.Module{registry.Module, ledger.Module, requests.Module, retention.Module}

func serveCmd(ctx context.Context, args []string) error {
	var c config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c.flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	return serve(ctx, &c, nil)
}

// listeners lets tests bind loopback ports themselves; nil binds the configured addresses.
type listeners struct{ grpc, http net.Listener }

// serve runs c.target: the modules it names, in the order of their needs, and the REST edge.
func serve(ctx context.Context, c *config, ls *listeners) error {
	run, _, err := modules.Targets(built, c.target)
	if err != nil {
		return err
	}
	if ls == nil {
		ls = &listeners{}
		if len(run) > 0 {
			if ls.grpc, err = net.Listen("tcp", c.grpcAddr); err != nil {
				return err
			}
		}
		if ls.http, err = net.Listen("tcp", c.httpAddr); err != nil {
			return err
		}
	}
	mc, err := c.modules(ls)
	if err != nil {
		return err
	}
	return modules.Run(ctx, mc, built, c.target)
}

// targetsText is what `pipa targets` prints: each service with what it needs (its address is
// required when it runs elsewhere) and what it wants (used when configured), then the two targets
// that are not one service.
func targetsText() string {
	return modules.Graph(built) + "gateway: the REST edge and the public pages over the services' addresses\n" +
		"all: every service and the gateway in one process (monolithic mode)\n"
}

func migrateCmd(ctx context.Context, args []string) error {
	var c config
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	c.flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.databaseURL == "" {
		return errors.New("no database: set DATABASE_URL")
	}
	pool, err := pgdb.Open(ctx, c.databaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := modules.Migrate(ctx, pool, built); err != nil {
		return err
	}
	names := make([]string, len(built))
	for i, m := range built {
		names[i] = m.Name
	}
	fmt.Println("migrated:", strings.Join(names, ", "))
	return nil
}
