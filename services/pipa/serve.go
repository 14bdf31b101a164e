package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/pgdb"
	"github.com/pipa-kr/pipa/services/pipa/internal/bundle"
)

// built are the services this binary contains; each declares what it needs (pkg/modules).
var built = bundle.Modules

func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&c.target, "target", env("PIPA_TARGET", "all"), "what to run: all, registry, requests, ledger, retention or gateway (PIPA_TARGET)")
	c.serveFlags(fs)
	if err := parse(fs, "serve [-target=all|registry|requests|ledger|retention|gateway] [flags]", args, stdout, stderr); err != nil {
		return err
	}
	return serve(ctx, &c, nil)
}

// listeners lets tests bind loopback ports themselves; nil binds the configured addresses.
type listeners struct{ grpc, http, metrics net.Listener }

// listen binds c's listeners that are not bound yet: gRPC when target runs a service, HTTP, and
// /metrics when it has an address of its own. An address it cannot bind is an error naming the
// listener and its setting.
func (ls *listeners) listen(c *config, services bool) error {
	bind := func(l *net.Listener, name, setting, addr string) error {
		if *l != nil || addr == "" {
			return nil
		}
		var err error
		if *l, err = net.Listen("tcp", addr); err != nil {
			var errno syscall.Errno
			if errors.As(err, &errno) {
				return fmt.Errorf("%s listener: %s=%s: %s", name, setting, addr, errno.Error())
			}
			return fmt.Errorf("%s listener: %s=%s: %w", name, setting, addr, err)
		}
		return nil
	}
	var errs []error
	if services {
		errs = append(errs, bind(&ls.grpc, "gRPC", "PIPA_GRPC_ADDR", c.grpcAddr))
	}
	errs = append(errs, bind(&ls.http, "http", "PIPA_HTTP_ADDR", c.httpAddr),
		bind(&ls.metrics, "metrics", "PIPA_METRICS_ADDR", c.metricsAddr))
	if err := errors.Join(errs...); err != nil {
		ls.close()
		return err
	}
	return nil
}

func (ls *listeners) close() {
	for _, l := range []net.Listener{ls.grpc, ls.http, ls.metrics} {
		if l != nil {
			l.Close()
		}
	}
}

// serve runs c.target: the modules it names, in the order of their needs, and the REST edge.
func serve(ctx context.Context, c *config, ls *listeners) error {
	run, _, err := modules.Targets(built, c.target)
	if err != nil {
		return err
	}
	if ls == nil {
		ls = &listeners{}
		if err := ls.listen(c, len(run) > 0); err != nil {
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

func migrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c config
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	c.databaseFlag(fs)
	if err := parse(fs, "migrate [-database-url URL]\n\nApplies every built service's database migrations.", args, stdout, stderr); err != nil {
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
	fmt.Fprintln(stdout, "migrated:", strings.Join(names, ", "))
	return nil
}
