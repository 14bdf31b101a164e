// Command pipa runs pipa's services: any one of them, or all of them in one process
// (`pipa serve -target=all`), plus the operator commands migrate, token and import, and dev, the
// one-command local stack behind `make run`.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const usage = `pipa — Korean personal-information law duties for public bodies

Usage:
  pipa serve   [-target=all|registry|requests|ledger|retention|gateway] [flags]
  pipa targets                      the services -target runs, and the services each one calls
  pipa migrate [flags]              apply every built service's database migrations
  pipa token   [-role r] [-scope s] mint a development token (dev key)
  pipa import  FILE...              load tenants from YAML through the API
  pipa ledger verify -log tenants/{t}/units/{u}   audit a unit's ledger over the REST API
  pipa dev                          migrate, serve everything, load deploy/examples, print URLs

Run "pipa COMMAND -h" for a command's flags. Every flag has a PIPA_* environment equivalent.
`

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "serve":
		err = serveCmd(ctx, args)
	case "targets":
		fmt.Print(targetsText())
	case "migrate":
		err = migrateCmd(ctx, args)
	case "token":
		err = tokenCmd(args)
	case "import":
		err = importCmd(ctx, args)
	case "ledger":
		err = ledgerCmd(ctx, args)
	case "dev":
		err = devCmd(ctx, args)
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		err = fmt.Errorf("unknown command %q\n\n%s", cmd, usage)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pipa:", err)
		os.Exit(1)
	}
}
