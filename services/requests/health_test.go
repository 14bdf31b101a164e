package requests_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
)

// gRPC health reports each service the request module serves by its full name, not only the
// module's main one: a load balancer checking BreachService finds it SERVING.
func TestHealthReportsEveryService(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	hc := healthpb.NewHealthClient(s.Conn)
	for _, svc := range []string{requestsv1.RequestService_ServiceDesc.ServiceName,
		requestsv1.OutboundService_ServiceDesc.ServiceName, requestsv1.BreachService_ServiceDesc.ServiceName} {
		h, err := hc.Check(t.Context(), &healthpb.HealthCheckRequest{Service: svc})
		require.NoError(t, err, svc)
		require.Equal(t, healthpb.HealthCheckResponse_SERVING, h.GetStatus(), svc)
	}
}
