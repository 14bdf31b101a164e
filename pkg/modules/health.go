package modules

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// served registers services and keeps their full names, so that gRPC health reports every service
// a module serves (the request module's RequestService, OutboundService and BreachService; the
// ledger's LedgerService, AccessRecordService and AccessReviewService), not only the one it is
// named by (Module.Service).
type served struct {
	grpc.ServiceRegistrar
	names []string
}

func (s *served) RegisterService(desc *grpc.ServiceDesc, impl any) {
	s.ServiceRegistrar.RegisterService(desc, impl)
	s.names = append(s.names, desc.ServiceName)
}

// databaseWatch is how often a process pings its database for its gRPC health.
const databaseWatch = 2 * time.Second

// watchDatabase reports services NOT_SERVING on gRPC health while pool's database does not answer
// a ping within every, and SERVING again once it does, until ctx ends: a load balancer or a
// client's health check then sees an outage for what it is, as /healthz does.
func watchDatabase(ctx context.Context, pool *pgxpool.Pool, hs *health.Server, services []string, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	serving := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, every)
		err := pool.Ping(pctx)
		cancel()
		if (err == nil) == serving || ctx.Err() != nil {
			continue
		}
		serving = err == nil
		st := healthpb.HealthCheckResponse_SERVING
		if serving {
			slog.Info("the database answers again: serving")
		} else {
			st = healthpb.HealthCheckResponse_NOT_SERVING
			slog.Error("the database does not answer: not serving", "err", err)
		}
		for _, s := range services {
			hs.SetServingStatus(s, st)
		}
	}
}
