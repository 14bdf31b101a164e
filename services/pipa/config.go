package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/pipa-kr/pipa/pkg/accesslog"
	"github.com/pipa-kr/pipa/pkg/auth"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/pkg/outbound/mail"
	"github.com/pipa-kr/pipa/pkg/outbound/sms"
	"github.com/pipa-kr/pipa/pkg/ratelimit"
	"github.com/pipa-kr/pipa/pkg/seal"
	"github.com/pipa-kr/pipa/pkg/server"
	ledgerpg "github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// config is every setting of a pipa process. Each flag defaults to its PIPA_* variable.
type config struct {
	target        string
	databaseURL   string
	grpcAddr      string
	httpAddr      string
	registryAddr  string
	ledgerAddr    string
	requestsAddr  string
	retentionAddr string
	ledgerOrigin  string
	// witnesses are the ledger's witnesses, PIPA_LEDGER_WITNESSES (see cosign.ParseWitnesses),
	// asked every witnessInterval.
	witnesses       string
	witnessInterval time.Duration
	dataKey         string
	devKey          string
	oidcIssuer      string
	oidcAudience    string
	oidcRoles       string
	oidcRoleMap     string
	// metricsAddr serves /metrics apart from the HTTP listener; empty serves it there.
	metricsAddr string
	origins     string
	publicRate  float64
	publicBurst int
	trusted     string
	migrate     bool
	accessLog   bool
	roleGrants  bool
	pprof       bool
	// serviceTokenFile holds the production service credential (access log, pkg/accesslog).
	serviceTokenFile string
	// mail is the SMTP relay of what services mail (PIPA_SMTP_*); outboundAttempts how often a
	// message is tried; webhooks where webhooks may go (PIPA_WEBHOOK_ALLOW_*).
	mail             mail.Config
	outboundAttempts int
	webhooks         outbound.Guard
	// smsProvider is "", log or sens (PIPA_SMS_*).
	smsProvider string
	sens        sms.SENSConfig
	// limits are the requests' deadlines and body limits (zero: server.DefaultLimits).
	limits server.Limits
	// retentionClock replaces time.Now for the retention service; tests only, no flag.
	retentionClock func() time.Time
	// spans also receive every span of the process; tests only, no flag.
	spans sdktrace.SpanProcessor
	// now is the clock tokens expire by; nil is time.Now. Tests only, no flag.
	now func() time.Time
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func envFloat(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil {
		return v
	}
	return def
}

func envBool(name string, def bool) bool {
	if v, err := strconv.ParseBool(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func envInt(name string, def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// serveFlags are the settings of a process that serves: `pipa serve`, and `pipa dev` with its own
// defaults.
func (c *config) serveFlags(fs *flag.FlagSet) {
	c.databaseFlag(fs)
	fs.StringVar(&c.grpcAddr, "grpc-addr", env("PIPA_GRPC_ADDR", ":9090"), "gRPC listen address (PIPA_GRPC_ADDR)")
	fs.StringVar(&c.httpAddr, "http-addr", env("PIPA_HTTP_ADDR", ":8080"), "HTTP listen address: REST, public pages, OpenAPI, /healthz (PIPA_HTTP_ADDR)")
	fs.StringVar(&c.metricsAddr, "metrics-addr", env("PIPA_METRICS_ADDR", ":9464"), "listen address of Prometheus's /metrics, apart from the public HTTP listener; empty serves it on the HTTP listener (PIPA_METRICS_ADDR)")
	fs.StringVar(&c.registryAddr, "registry-addr", env("PIPA_REGISTRY_ADDR", ""), "registry gRPC address the gateway and the other services call; this process's own when it runs the registry (PIPA_REGISTRY_ADDR)")
	fs.StringVar(&c.requestsAddr, "requests-addr", env("PIPA_REQUESTS_ADDR", ""), "requests gRPC address the gateway and the retention service call; this process's own when it runs the request service (PIPA_REQUESTS_ADDR)")
	fs.StringVar(&c.retentionAddr, "retention-addr", env("PIPA_RETENTION_ADDR", ""), "retention gRPC address the gateway and the request service call; this process's own when it runs the retention service (PIPA_RETENTION_ADDR)")
	fs.StringVar(&c.ledgerAddr, "ledger-addr", env("PIPA_LEDGER_ADDR", ""), "ledger gRPC address the gateway and every service call (the access log appends there); this process's own when it runs the ledger (PIPA_LEDGER_ADDR)")
	fs.StringVar(&c.ledgerOrigin, "ledger-origin", env("PIPA_LEDGER_ORIGIN", ledgerpg.DefaultOriginHost), "host of the origin line of every new ledger, {host}/tenants/{t}/units/{u}, which is also its key's name and, when the host reaches this gateway, its tlog-tiles URL; a ledger keeps the origin it was made with (PIPA_LEDGER_ORIGIN)")
	fs.StringVar(&c.witnesses, "ledger-witnesses", env("PIPA_LEDGER_WITNESSES", ""), "C2SP tlog-witness witnesses that cosign the ledgers' checkpoints: \"{cosignature verifier key} {URL}\", comma-separated (PIPA_LEDGER_WITNESSES)")
	fs.DurationVar(&c.witnessInterval, "ledger-witness-interval", envDuration("PIPA_LEDGER_WITNESS_INTERVAL", time.Minute), "how often the ledgers' new checkpoints go to the witnesses (PIPA_LEDGER_WITNESS_INTERVAL)")
	fs.StringVar(&c.dataKey, "dev-data-key", env("PIPA_DEV_DATA_KEY", ""), "development only: a key file, created if missing, that encrypts personal data at rest; production sets PIPA_DATA_KEY or PIPA_DATA_KEY_FILE (PIPA_DEV_DATA_KEY)")
	c.devKeyFlag(fs, "development only: Ed25519 key file, created if missing, that verifies the tokens pipa token mints, when no OIDC issuer is set (PIPA_DEV_KEY)")
	fs.StringVar(&c.oidcIssuer, "oidc-issuer", env("PIPA_OIDC_ISSUER", ""), "OpenID Provider (issuer URL) whose signing keys verify tokens in production (PIPA_OIDC_ISSUER)")
	fs.StringVar(&c.oidcAudience, "oidc-audience", env("PIPA_OIDC_AUDIENCE", "pipa"), "the aud tokens must hold: pipa's client id at the provider (PIPA_OIDC_AUDIENCE)")
	fs.StringVar(&c.oidcRoles, "oidc-roles-claim", env("PIPA_OIDC_ROLES_CLAIM", auth.DefaultRolesClaim), "where tokens carry roles: claim names or dotted paths, comma-separated, e.g. realm_access.roles,groups (PIPA_OIDC_ROLES_CLAIM)")
	fs.StringVar(&c.oidcRoleMap, "oidc-role-map", env("PIPA_OIDC_ROLE_MAP", ""), "YAML file mapping the provider's roles and groups to pipa roles and scopes (PIPA_OIDC_ROLE_MAP; README, Configuration)")
	fs.StringVar(&c.origins, "cors-origins", env("PIPA_CORS_ORIGINS", ""), "comma-separated frontend origins allowed by CORS (PIPA_CORS_ORIGINS)")
	fs.Float64Var(&c.publicRate, "public-rate", envFloat("PIPA_PUBLIC_RATE", 20), "requests per second per client on public endpoints; 0 disables (PIPA_PUBLIC_RATE)")
	fs.IntVar(&c.publicBurst, "public-burst", int(envFloat("PIPA_PUBLIC_BURST", 40)), "burst on public endpoints (PIPA_PUBLIC_BURST)")
	fs.StringVar(&c.trusted, "trusted-proxies", env("PIPA_TRUSTED_PROXIES", "127.0.0.0/8,::1/128"), "CIDRs of proxies (an ingress, the gateway) whose X-Forwarded-For names the client for rate limits (PIPA_TRUSTED_PROXIES)")
	fs.BoolVar(&c.pprof, "pprof", envBool("PIPA_PPROF", false), "serve Go's profiles (net/http/pprof) at /debug/pprof/ on the metrics listener, for profiling under load (PIPA_PPROF)")
	fs.BoolVar(&c.accessLog, "access-log", envBool("PIPA_ACCESS_LOG", true), "record reads of personal data as ACCESS entries of the units' ledgers, S-2-3 (PIPA_ACCESS_LOG)")
	fs.BoolVar(&c.roleGrants, "role-grants", envBool("PIPA_ROLE_GRANTS", true), "record the roles tokens present (pipa token, OIDC sign-ins) as they are granted, changed and revoked, S-5 (PIPA_ROLE_GRANTS)")
	fs.BoolVar(&c.migrate, "migrate", envBool("PIPA_MIGRATE", true), "apply migrations at start-up (PIPA_MIGRATE)")
	fs.StringVar(&c.mail.Addr, "smtp-addr", env("PIPA_SMTP_ADDR", ""), "host:port of the SMTP relay that sends notices to requesters; empty: mail waits in the outbound until it is set (PIPA_SMTP_ADDR)")
	fs.StringVar(&c.mail.From, "smtp-from", env("PIPA_SMTP_FROM", "pipa@localhost"), "sender of the mail, e.g. \"정읍시 <privacy@jeongeup.go.kr>\" (PIPA_SMTP_FROM)")
	fs.StringVar(&c.mail.Username, "smtp-username", env("PIPA_SMTP_USERNAME", ""), "SMTP AUTH user; empty: no authentication (PIPA_SMTP_USERNAME)")
	fs.StringVar(&c.mail.Password, "smtp-password", env("PIPA_SMTP_PASSWORD", ""), "SMTP AUTH password (PIPA_SMTP_PASSWORD)")
	fs.StringVar(&c.mail.TLS, "smtp-tls", env("PIPA_SMTP_TLS", "starttls"), "starttls (required), tls (implicit, port 465), opportunistic or none (PIPA_SMTP_TLS)")
	fs.StringVar(&c.mail.CAFile, "smtp-ca-file", env("PIPA_SMTP_CA_FILE", ""), "PEM file of the CAs that sign the SMTP relay's certificate, trusted instead of the system's (an internal relay); empty: the system's (PIPA_SMTP_CA_FILE)")
	fs.StringVar(&c.mail.Domain, "smtp-domain", env("PIPA_SMTP_DOMAIN", ""), "right side of the Message-IDs; the sender's domain when empty (PIPA_SMTP_DOMAIN)")
	fs.StringVar(&c.smsProvider, "sms-provider", env("PIPA_SMS_PROVIDER", ""), "text messages to requesters who ask for them and breach notices to data subjects: sens (NAVER Cloud SENS), log (development: logged, not sent), or empty (they wait) (PIPA_SMS_PROVIDER)")
	fs.StringVar(&c.sens.BaseURL, "sms-sens-url", env("PIPA_SMS_SENS_URL", "https://sens.apigw.gov-ntruss.com"), "SENS API base URL; the government region by default (PIPA_SMS_SENS_URL)")
	fs.StringVar(&c.sens.ServiceID, "sms-sens-service-id", env("PIPA_SMS_SENS_SERVICE_ID", ""), "SENS project's SMS service id (PIPA_SMS_SENS_SERVICE_ID)")
	fs.StringVar(&c.sens.AccessKey, "sms-sens-access-key", env("PIPA_SMS_SENS_ACCESS_KEY", ""), "SENS access key id (PIPA_SMS_SENS_ACCESS_KEY)")
	fs.StringVar(&c.sens.SecretKey, "sms-sens-secret-key", env("PIPA_SMS_SENS_SECRET_KEY", ""), "SENS secret key (PIPA_SMS_SENS_SECRET_KEY)")
	fs.StringVar(&c.sens.From, "sms-from", env("PIPA_SMS_FROM", ""), "registered sender number (발신번호) of text messages (PIPA_SMS_FROM)")
	fs.IntVar(&c.outboundAttempts, "outbound-attempts", int(envFloat("PIPA_OUTBOUND_ATTEMPTS", 15)), "attempts of a mail or webhook delivery, a second to five minutes apart, before it is given up and its subscription disabled (PIPA_OUTBOUND_ATTEMPTS)")
	fs.BoolVar(&c.webhooks.AllowHTTP, "webhook-allow-http", envBool("PIPA_WEBHOOK_ALLOW_HTTP", false), "accept webhook subscriptions to plain http URLs (development only) (PIPA_WEBHOOK_ALLOW_HTTP)")
	fs.BoolVar(&c.webhooks.AllowPrivate, "webhook-allow-private", envBool("PIPA_WEBHOOK_ALLOW_PRIVATE", false), "accept webhook receivers at loopback, private, shared or link-local addresses, e.g. on an inter-agency network (PIPA_WEBHOOK_ALLOW_PRIVATE)")
	d := server.DefaultLimits
	fs.DurationVar(&c.limits.Timeout, "request-timeout", envDuration("PIPA_REQUEST_TIMEOUT", d.Timeout), "deadline of a staff request, passed on to the gRPC call and its PostgreSQL statements; also the longest a gRPC call may run (PIPA_REQUEST_TIMEOUT)")
	fs.DurationVar(&c.limits.PublicTimeout, "public-request-timeout", envDuration("PIPA_PUBLIC_REQUEST_TIMEOUT", d.PublicTimeout), "deadline of a public request: /v1/public/, /p/, the ledgers' tiles (PIPA_PUBLIC_REQUEST_TIMEOUT)")
	fs.DurationVar(&c.limits.PrintTimeout, "print-timeout", envDuration("PIPA_PRINT_TIMEOUT", d.PrintTimeout), "deadline of a document printed by headless Chromium (routes ending in /pdf: a notice as PDF) (PIPA_PRINT_TIMEOUT)")
	fs.Int64Var(&c.limits.Body, "body-limit", envInt("PIPA_BODY_LIMIT", d.Body), "largest body of a staff request in bytes, refused with 413 (PIPA_BODY_LIMIT)")
	fs.Int64Var(&c.limits.PublicBody, "public-body-limit", envInt("PIPA_PUBLIC_BODY_LIMIT", d.PublicBody), "largest body of a public request in bytes (PIPA_PUBLIC_BODY_LIMIT)")
	fs.Int64Var(&c.limits.ImportBody, "import-body-limit", envInt("PIPA_IMPORT_BODY_LIMIT", d.ImportBody), "largest body of an import (routes ending :import) in bytes (PIPA_IMPORT_BODY_LIMIT)")
	fs.StringVar(&c.serviceTokenFile, "service-token-file", env("PIPA_SERVICE_TOKEN_FILE", ""), "file holding a bearer token from the OIDC issuer with the service role on \"*\", re-read as it rotates; the access log appends with it (PIPA_SERVICE_TOKEN_FILE)")
}

func (c *config) databaseFlag(fs *flag.FlagSet) {
	fs.StringVar(&c.databaseURL, "database-url", env("PIPA_DATABASE_URL", os.Getenv("DATABASE_URL")), "PostgreSQL URL (PIPA_DATABASE_URL or DATABASE_URL)")
}

func (c *config) devKeyFlag(fs *flag.FlagSet, usage string) {
	fs.StringVar(&c.devKey, "dev-key", env("PIPA_DEV_KEY", ""), usage)
}

func (c *config) originList() []string {
	var out []string
	for _, o := range strings.Split(c.origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// limiters are the per-client limits of public endpoints, one for HTTP and one for gRPC so that a
// page served through the gateway counts once per layer; nil when disabled.
func (c *config) limiters() (http, grpc *ratelimit.Limiter, err error) {
	if c.publicRate <= 0 {
		return nil, nil, nil
	}
	prefixes, err := c.trustedProxies()
	if err != nil {
		return nil, nil, err
	}
	opt := ratelimit.WithTrustedProxies(prefixes...)
	return ratelimit.New(c.publicRate, c.publicBurst, opt), ratelimit.New(c.publicRate, c.publicBurst, opt), nil
}

// trustedProxies parses PIPA_TRUSTED_PROXIES.
func (c *config) trustedProxies() ([]netip.Prefix, error) {
	var prefixes []netip.Prefix
	for _, p := range strings.Split(c.trusted, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		pf, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("PIPA_TRUSTED_PROXIES: %w", err)
		}
		prefixes = append(prefixes, pf)
	}
	return prefixes, nil
}

// serviceToken is the credential pipa services present to each other (role service on "*"):
// PIPA_SERVICE_TOKEN_FILE in production, else, with the development key and no OIDC issuer, a
// token that key mints. nil when there is none.
func (c *config) serviceToken() (func() (string, error), error) {
	switch {
	case c.serviceTokenFile != "":
		return accesslog.TokenFile(c.serviceTokenFile, time.Minute), nil
	case c.devKey != "" && c.oidcIssuer == "":
		key, err := auth.LoadOrCreateDevKey(c.devKey)
		if err != nil {
			return nil, err
		}
		return auth.DevServiceToken(key, 10*time.Minute), nil
	}
	return nil, nil
}

// dataBox is the key that encrypts personal data at rest: PIPA_DATA_KEY or PIPA_DATA_KEY_FILE
// ("id:base64key,…", the first sealing), or in development a generated key file.
func (c *config) dataBox() (*seal.Box, error) {
	if c.dataKey != "" {
		return seal.LoadOrCreateDevKey(c.dataKey)
	}
	b, err := seal.FromEnv()
	if errors.Is(err, seal.ErrNoKey) {
		return nil, errors.New("no data key: set PIPA_DATA_KEY or PIPA_DATA_KEY_FILE (id:base64 of 32 bytes), or PIPA_DEV_DATA_KEY=.data/data-key for development")
	}
	return b, err
}

// defaultDevKey is where `make run` keeps the development key, in the repository's .data.
const defaultDevKey = ".data/dev-key.pem"

// verifier is OIDC when an issuer is configured, else the development key — which must be
// asked for (PIPA_DEV_KEY), so that a production server never accepts locally minted tokens.
func (c *config) verifier(ctx context.Context) (auth.Verifier, error) {
	if c.oidcIssuer != "" {
		claims := auth.Claims{Paths: auth.ParseClaimPaths(c.oidcRoles)}
		if c.oidcRoleMap != "" {
			var err error
			if claims, err = auth.LoadRoleMap(c.oidcRoleMap, claims); err != nil {
				return nil, fmt.Errorf("PIPA_OIDC_ROLE_MAP: %w", err)
			}
		}
		v, err := auth.NewOIDCVerifier(ctx, auth.OIDCOptions{Issuer: c.oidcIssuer, Audience: c.oidcAudience, Claims: claims, Now: c.now})
		if err != nil {
			return nil, err
		}
		return auth.Cached(v, 10000, c.now), nil
	}
	if c.devKey == "" {
		return nil, errors.New("no token verifier: set PIPA_OIDC_ISSUER (production), or PIPA_DEV_KEY=" + defaultDevKey + " for development")
	}
	key, err := auth.LoadOrCreateDevKey(c.devKey)
	if err != nil {
		return nil, err
	}
	return auth.Cached(auth.NewDevVerifier(key.Public().(ed25519.PublicKey)), 10000, c.now), nil
}

// modules is the process configuration c gives pkg/modules, serving on ls.
func (c *config) modules(ls *listeners) (modules.Config, error) {
	httpLimiter, grpcLimiter, err := c.limiters()
	if err != nil {
		return modules.Config{}, err
	}
	trusted, err := c.trustedProxies()
	if err != nil {
		return modules.Config{}, err
	}
	token, err := c.serviceToken()
	if err != nil {
		return modules.Config{}, err
	}
	textSender, err := c.smsSender()
	if err != nil {
		return modules.Config{}, err
	}
	return modules.Config{
		GRPC: ls.grpc, HTTP: ls.http, Metrics: ls.metrics,
		Addrs: map[string]string{"registry": c.registryAddr, "ledger": c.ledgerAddr, "requests": c.requestsAddr,
			"retention": c.retentionAddr},
		DatabaseURL: c.databaseURL, Migrate: c.migrate,
		Verifier: c.verifier, Box: c.dataBox, Token: token,
		AccessLog: c.accessLog, RoleGrants: c.roleGrants, Trusted: trusted, Pprof: c.pprof,
		HTTPLimiter: httpLimiter, GRPCLimiter: grpcLimiter, Origins: c.originList(),
		Spans: c.spans, Limits: c.limits,
		Settings: modules.Settings{LedgerOrigin: c.ledgerOrigin, LedgerWitnesses: c.witnesses,
			LedgerWitnessInterval: c.witnessInterval, Now: c.retentionClock,
			Mail: c.mail, SMS: textSender, OutboundAttempts: c.outboundAttempts, Webhooks: c.webhooks},
	}, nil
}

// smsSender is the text-message provider PIPA_SMS_PROVIDER names; nil for none.
func (c *config) smsSender() (outbound.Sender, error) {
	switch c.smsProvider {
	case "":
		return nil, nil
	case "log":
		return sms.Log{}, nil
	case "sens":
		return sms.NewSENS(c.sens)
	}
	return nil, fmt.Errorf("PIPA_SMS_PROVIDER %q: want sens, log or empty", c.smsProvider)
}
