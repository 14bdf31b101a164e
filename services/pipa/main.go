// Command pipa runs pipa's services: any one of them, or all of them in one process
// (`pipa serve -target=all`), plus the operator commands migrate, token and import, and dev, the
// one-command local stack behind `make run`.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const usage = `pipa — Korean personal-information law duties for public bodies

Usage:
  pipa serve   [-target=all|registry|requests|ledger|retention|gateway] [flags]
  pipa targets                      the services -target runs, and the services each one calls
  pipa migrate [-database-url URL]  apply every built service's database migrations
  pipa token   [-role r] [-scope s] mint a development token with the key pipa dev serves with
  pipa import  [flags] FILE...      load tenants from YAML through the API
  pipa ledger verify -log tenants/{t}/units/{u}   audit a unit's ledger over the REST API
  pipa dev     [flags]              migrate, serve everything on loopback, load deploy/examples, print URLs

Run "pipa COMMAND -h" for a command's flags. Every flag has a PIPA_* environment equivalent.
`

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

var (
	// errHelp: the help asked for is printed.
	errHelp = errors.New("help printed")
	// errUsage: a command line that does not parse, its usage printed.
	errUsage = errors.New("usage printed")
)

// exitCode is an error that ends pipa with its own exit status.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// run runs the command line args and says pipa's exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch cmd, args := args[0], args[1:]; cmd {
	case "serve":
		err = serveCmd(ctx, args, stdout, stderr)
	case "targets":
		err = targetsCmd(args, stdout, stderr)
	case "migrate":
		err = migrateCmd(ctx, args, stdout, stderr)
	case "token":
		err = tokenCmd(args, stdout, stderr)
	case "import":
		err = importCmd(ctx, args, stdout, stderr)
	case "ledger":
		err = ledgerCmd(ctx, args, stdout, stderr)
	case "dev":
		err = devCmd(ctx, args, stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "pipa: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	var code exitCode
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.As(err, &code):
		return int(code)
	}
	fmt.Fprintln(stderr, "pipa:", err)
	return 1
}

// parse reads a command's flags: -h prints "usage: pipa {synopsis}" and the command's flags to
// stdout (errHelp), a flag it does not have prints them to stderr (errUsage).
func parse(fs *flag.FlagSet, synopsis string, args []string, stdout, stderr io.Writer) error {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: pipa %s\n", synopsis)
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(fs.Output(), "\nflags (each also a PIPA_* variable where named):")
			fs.PrintDefaults()
		}
	}
	var out bytes.Buffer
	fs.SetOutput(&out)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		_, _ = stdout.Write(out.Bytes())
		return errHelp
	case err != nil:
		_, _ = stderr.Write(out.Bytes())
		return errUsage
	}
	return nil
}

// targetsCmd prints the module graph that serve follows.
func targetsCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("targets", flag.ContinueOnError)
	if err := parse(fs, "targets\n\nLists the services -target runs and the services each one calls.", args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: pipa targets")
		return errUsage
	}
	fmt.Fprint(stdout, targetsText())
	return nil
}
