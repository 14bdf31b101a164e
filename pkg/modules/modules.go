// Package modules declares the parts of pipa that one process can run and runs the chosen ones:
// each service says what it serves (its gRPC service, REST mapping, pages, schema) and which other
// services it calls, as Grafana Mimir's pkg/mimir/modules.go does for its components. "Module" is
// meant in Mimir's sense, a part of the binary, not a Go module.
//
// A dependency is not an in-process object but a gRPC client connection (Deps.Conn): to a service
// run here, the process's in-process channel (server.Local: its handlers called directly, behind
// the same interceptors, without a loopback connection or encoding each message), else a
// connection to the address its PIPA_{NAME}_ADDR setting gives. The process's REST edge reaches
// the services the same way. dskit's module manager (what Mimir uses) starts in-process
// services in dependency order; it was not taken because pipa has no in-process services to
// order and dskit's module pulls in a large dependency graph for some 300 lines.
package modules

import (
	"cmp"
	"context"
	_ "embed"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"

	"github.com/pipa-kr/pipa/pkg/accesslog"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/pkg/outbound/mail"
	"github.com/pipa-kr/pipa/pkg/outbound/relay"
	"github.com/pipa-kr/pipa/pkg/seal"
)

// Module is one service as a pipa process runs it.
type Module struct {
	// Name is the service's -target value; its address setting is PIPA_{NAME}_ADDR.
	Name string
	// Service is the full name of its main gRPC service. Health (grpc.health.v1) reports it, and
	// every other service Register adds, by full name.
	Service string
	// Schema and Migrations are its PostgreSQL schema and the migrations that build it.
	Schema     string
	Migrations fs.FS
	// Jobs: the service keeps a job queue in its schema (pkg/jobs).
	Jobs bool
	// Outbox: the service keeps a ledger outbox in its schema (pkg/ledgerout).
	Outbox bool
	// Outbound: the service keeps what it sends (mail, text messages, webhook events) in its
	// schema (pkg/outbound).
	Outbound bool
	// Idempotency: the service keeps request_ids in its schema's idempotency table.
	Idempotency bool
	// Needs are the services it calls and cannot start without.
	Needs []string
	// Wants are services it calls when they are configured, each with what waits while it is
	// not (logged at start-up).
	Wants map[string]string
	// Public are its full method names callable without a token.
	Public map[string]bool
	// Access are its reads of personal data, recorded in the access log (pkg/accesslog).
	Access accesslog.Rules
	// Register adds the service to the gRPC server (and, in the same call, to the process's
	// in-process channel: server.Registrar).
	Register func(g grpc.ServiceRegistrar, d Deps) error
	// Gateway mounts its REST mapping over a client connection to the service, wherever it runs:
	// the in-process channel when it runs here (server.InProcess), else gRPC (see Mount).
	Gateway func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error
	// Pages are its hand-written HTTP handlers by pattern, over the same connection; nil for none.
	Pages func(conn grpc.ClientConnInterface, d Deps) map[string]http.Handler
	// OpenAPI documents Pages: a Swagger 2.0 fragment in YAML (paths, and definitions if any) that
	// `make generate` merges with the REST mapping's into the served OpenAPI documents.
	OpenAPI []byte
}

// Deps is what a module gets from its process.
type Deps struct {
	// Pool is the process's database; nil on a lone gateway.
	Pool *pgxpool.Pool
	// Box is the key that encrypts personal data at rest.
	Box func() (*seal.Box, error)
	// Conn is a client connection to a service: in-process when it runs here (server.Local), else
	// over gRPC to where its address setting says. A call made while the process's services are
	// still being registered waits until they all are.
	Conn func(service string) (grpc.ClientConnInterface, error)
	// Token is the service credential (role service on "*"); nil when there is none.
	Token func() (string, error)
	// Run starts background work that lives until the process stops, and stops it then.
	Run func(start func(ctx context.Context) error, stop func(ctx context.Context) error) error
	Settings
}

// Mount is a Gateway from a service's generated Register…HandlerClient and New…Client.
func Mount[C any](register func(context.Context, *runtime.ServeMux, C) error, client func(grpc.ClientConnInterface) C) func(context.Context, *runtime.ServeMux, grpc.ClientConnInterface) error {
	return func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
		return register(ctx, mux, client(conn))
	}
}

// Dial is Conn for each of names, in order.
func (d Deps) Dial(names ...string) ([]grpc.ClientConnInterface, error) {
	out := make([]grpc.ClientConnInterface, len(names))
	for i, name := range names {
		cc, err := d.Conn(name)
		if err != nil {
			return nil, err
		}
		out[i] = cc
	}
	return out, nil
}

// Settings are what particular services are configured with.
type Settings struct {
	// LedgerOrigin is the host of the ledgers' origin lines (PIPA_LEDGER_ORIGIN).
	LedgerOrigin string
	// LedgerWitnesses are the witnesses that cosign the ledgers' checkpoints, asked every
	// LedgerWitnessInterval (PIPA_LEDGER_WITNESSES, see the ledger's package cosign).
	LedgerWitnesses       string
	LedgerWitnessInterval time.Duration
	// CheckpointEventInterval is how often the ledger tells the subscriptions of each log's
	// latest checkpoint, when it grew (a minute when 0; tests shorten it).
	CheckpointEventInterval time.Duration
	// Now is the retention service's and the breaches' clock; nil is time.Now (tests move it).
	Now func() time.Time
	// Mail is the SMTP relay of the mail services send (PIPA_SMTP_*); without an address, mail
	// waits in their outbound. SMS is the text-message provider; nil: text messages wait.
	Mail mail.Config
	SMS  outbound.Sender
	// OutboundAttempts is how often a message is tried before it is given up (0: outbound's).
	OutboundAttempts int
	// Webhooks is where webhook subscriptions may post (PIPA_WEBHOOK_ALLOW_*).
	Webhooks outbound.Guard
}

// OutboundConfig is the senders and attempts of a service's outbound (pkg/outbound). The mail
// sender's SMTP connections are closed when the process stops, after the service's job workers:
// the service starts those (Run) after this call, and what Run registers stops last first.
func (d Deps) OutboundConfig() (outbound.Config, error) {
	c := outbound.Config{Senders: map[string]outbound.Sender{}, Attempts: d.OutboundAttempts, Guard: d.Webhooks}
	if d.Mail.Addr != "" {
		m, err := mail.New(d.Mail)
		if err != nil {
			return c, err
		}
		noStart := func(context.Context) error { return nil }
		if err := d.Run(noStart, func(context.Context) error { return m.Close() }); err != nil {
			return c, err
		}
		c.Senders[outbound.Mail] = m
	}
	if d.SMS != nil {
		c.Senders[outbound.SMS] = d.SMS
	}
	return c, nil
}

// EventOutbound is OutboundConfig with the sender of the events a service other than requests
// emits (outbound.Relay): the request service's PublishEvent, through Conn. Without a connection
// to it (no PIPA_REQUESTS_ADDR), the events wait in the service's outbound.
func (d Deps) EventOutbound() (outbound.Config, error) {
	c, err := d.OutboundConfig()
	if err != nil {
		return c, err
	}
	if cc, err := d.Conn("requests"); err == nil {
		c.Senders[outbound.Relayed] = relay.New(requestsv1.NewOutboundServiceClient(cc), d.Token)
	}
	return c, nil
}

// AddrSetting is the environment variable that gives a service's address.
func AddrSetting(name string) string { return "PIPA_" + strings.ToUpper(name) + "_ADDR" }

// Targets resolves -target against the modules built into the binary: the modules to run here,
// in dependency order, and whether to serve the REST edge. "all" is every module and the edge,
// "gateway" the edge alone.
func Targets(built []Module, target string) (run []Module, gateway bool, err error) {
	switch target {
	case "all":
		run, err = Ordered(built)
		return run, true, err
	case "gateway":
		return nil, true, nil
	}
	var names []string
	for _, m := range built {
		if m.Name == target {
			return []Module{m}, false, nil
		}
		names = append(names, m.Name)
	}
	return nil, false, fmt.Errorf("unknown target %q: want all, %s or gateway", target, strings.Join(names, ", "))
}

// Ordered returns ms with every module after the modules it needs that are among them; a cycle of
// needs is an error. Wants do not order: a service that wants another is started without it.
func Ordered(ms []Module) ([]Module, error) {
	byName := map[string]Module{}
	for _, m := range ms {
		byName[m.Name] = m
	}
	var out []Module
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(m Module, path []string) error
	visit = func(m Module, path []string) error {
		switch state[m.Name] {
		case 1:
			return fmt.Errorf("modules: a cycle of needs: %s", strings.Join(append(path, m.Name), " → "))
		case 2:
			return nil
		}
		state[m.Name] = 1
		for _, n := range m.Needs {
			if dep, ok := byName[n]; ok {
				if err := visit(dep, append(path, m.Name)); err != nil {
					return err
				}
			}
		}
		state[m.Name] = 2
		out = append(out, m)
		return nil
	}
	for _, m := range ms {
		if err := visit(m, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Check reports the first need of run that is neither run here nor has an address, naming the
// setting that is missing.
func Check(run []Module, addrs map[string]string) error {
	here := map[string]bool{}
	for _, m := range run {
		here[m.Name] = true
	}
	for _, m := range run {
		for _, n := range slices.Sorted(slices.Values(m.Needs)) {
			if !here[n] && addrs[n] == "" {
				return fmt.Errorf("%s needs the %s service: set %s (or run both here: -target=all)", m.Name, n, AddrSetting(n))
			}
		}
	}
	return nil
}

// Graph describes who needs and wants whom, one module a line, for documentation and start-up logs.
func Graph(ms []Module) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%s (%s): needs %s", m.Name, m.Service, cmp.Or(strings.Join(m.Needs, ", "), "nothing"))
		if len(m.Wants) > 0 {
			fmt.Fprintf(&b, "; wants %s", strings.Join(slices.Sorted(maps.Keys(m.Wants)), ", "))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// EdgeOpenAPI documents the routes every pipa HTTP listener serves besides the services' (/healthz,
// the OpenAPI documents), as Module.OpenAPI does a service's pages.
//
//go:embed openapi.yaml
var EdgeOpenAPI []byte
