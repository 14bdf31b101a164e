// Package relay is the sender of pkg/outbound's channel Relayed: it hands an event a service
// queued with Outbound.Relay to the request service's PublishEvent, which keeps the webhook
// subscriptions (no other service reads its tables). The event's id is the idempotency key:
// PublishEvent records an id once, so a relay repeated after a lost answer delivers nothing twice.
package relay

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/pkg/unitauth"
)

// Sender publishes events through client with the service credential token.
type Sender struct {
	client requestsv1.OutboundServiceClient
	token  func() (string, error)
}

// New returns the Sender of channel outbound.Relayed.
func New(client requestsv1.OutboundServiceClient, token func() (string, error)) *Sender {
	return &Sender{client: client, token: token}
}

// Send publishes d's CloudEvent. A refusal as invalid or forbidden is permanent (the event can
// never be taken); anything else (the request service down, a timeout) is retried.
func (s *Sender) Send(ctx context.Context, d outbound.Delivery) (string, error) {
	ev := event.New()
	if err := json.Unmarshal(d.Payload, &ev); err != nil {
		return "", outbound.Permanent(fmt.Errorf("relay: not a CloudEvent: %w", err))
	}
	var data map[string]any
	if err := ev.DataAs(&data); err != nil {
		return "", outbound.Permanent(fmt.Errorf("relay: the event's data: %w", err))
	}
	st, err := structpb.NewStruct(data)
	if err != nil {
		return "", outbound.Permanent(fmt.Errorf("relay: the event's data: %w", err))
	}
	sctx, err := unitauth.AsService(ctx, s.token)
	if err != nil {
		return "", err
	}
	resp, err := s.client.PublishEvent(sctx, &requestsv1.PublishEventRequest{Parent: ev.Source(), EventId: ev.ID(),
		Type: ev.Type(), Subject: ev.Subject(), EventTime: timestamppb.New(ev.Time()), Data: st})
	switch status.Code(err) {
	case codes.OK:
	case codes.InvalidArgument, codes.PermissionDenied, codes.NotFound:
		return status.Convert(err).Message(), outbound.Permanent(err)
	default:
		return "", err
	}
	if resp.GetDuplicate() {
		return "published before", nil
	}
	return fmt.Sprintf("published: %d deliveries", resp.GetDeliveries()), nil
}
