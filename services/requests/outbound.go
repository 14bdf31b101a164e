package requests

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/idempotency"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/requests/request"
	"github.com/pipa-kr/pipa/services/requests/store/pg"
)

// OutboundServer implements pipa.requests.v1.OutboundService: webhook subscriptions to the
// request service's events, their delivery logs and replays, and what a request sent (pkg/outbound
// does the sending).
type OutboundServer struct {
	requestsv1.UnimplementedOutboundServiceServer
	out   *outbound.Outbound
	units *unitauth.Units
}

// subscriptionRoles manage a tenant's subscriptions: its administrators and its CPO, on the
// whole tenant (a subscription's secret signs what the tenant's events say).
var subscriptionRoles = []auth.Role{auth.RoleTenantAdmin, auth.RoleCPO}

func authorizeTenant(ctx context.Context, tenant string) error {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return status.Error(codes.Unauthenticated, "a bearer token is required")
	}
	if !p.Allows(tenant, nil, subscriptionRoles...) {
		return apierr.Denied("managing " + names.Tenant(tenant) + "'s subscriptions takes tenant_admin or cpo on the tenant")
	}
	return nil
}

// eventTypes are the types a subscription may name: the request service's own, and those the
// other services publish through PublishEvent.
var eventTypes = slices.Concat(request.EventTypes, outbound.RelayedTypes)

// eventIDs are the ids of relayed events: the producing service's schema and a sequence number
// (outbound.Relay).
var eventIDs = regexp.MustCompile(`^[a-z]{1,32}-[0-9]{1,19}$`)

// PublishEvent records an event another pipa service relayed from its outbox and queues it to
// the subscriptions that want it; only a pipa service (role service on "*") publishes.
func (s *OutboundServer) PublishEvent(ctx context.Context, req *requestsv1.PublishEventRequest) (*requestsv1.PublishEventResponse, error) {
	if p, _ := auth.FromContext(ctx); !p.IsService() {
		return nil, apierr.Denied("events are published by the pipa services that emit them (registry, retention, ledger)")
	}
	tenant, unit, err := names.ParseUnit("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	var vs apierr.Violations
	if !eventIDs.MatchString(req.GetEventId()) {
		vs.Add("event_id", "format", "must be the producing service's schema, '-' and a number, e.g. registry-42 (got %q)", req.GetEventId())
	}
	if !slices.Contains(outbound.RelayedTypes, req.GetType()) {
		vs.Add("type", "format", "%q is not an event type the other services publish: %s", req.GetType(), strings.Join(outbound.RelayedTypes, ", "))
	}
	request.CheckText(&vs, "subject", req.GetSubject(), true)
	if req.GetEventTime() == nil {
		vs.Add("event_time", "required", "event_time is required: when the event happened")
	} else {
		request.CheckTime(&vs, "event_time", req.GetEventTime())
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	if err := s.units.Authorize(ctx, tenant, unit, []auth.Role{auth.RoleService}); err != nil {
		return nil, err
	}
	var n int
	var dup bool
	err = s.out.InTx(ctx, func(tx pgx.Tx) error {
		n, dup, err = s.out.Publish(ctx, tx, tenant, req.GetEventId(), req.GetEventTime().AsTime(), outbound.Event{
			Unit: unit, Type: req.GetType(), Subject: req.GetSubject(), Data: req.GetData().AsMap()})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &requestsv1.PublishEventResponse{Deliveries: int32(n), Duplicate: dup}, nil
}

func subscriptionView(tenant string, s outbound.Subscription) *requestsv1.Subscription {
	v := &requestsv1.Subscription{Name: names.Subscriptions.Name(tenant, s.ID), Url: s.URL, Types: s.Types,
		Secret: s.Secret, CreateTime: timestamppb.New(s.CreateTime), DisableReason: s.DisableReason}
	if s.Unit != "" {
		v.Unit = names.Unit(tenant, s.Unit)
	}
	if !s.DisableTime.IsZero() {
		v.DisableTime = timestamppb.New(s.DisableTime)
	}
	return v
}

func (s *OutboundServer) CreateSubscription(ctx context.Context, req *requestsv1.CreateSubscriptionRequest) (*requestsv1.Subscription, error) {
	tenant, err := names.ParseTenant("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := authorizeTenant(ctx, tenant); err != nil {
		return nil, err
	}
	in := req.GetSubscription()
	sub := outbound.Subscription{ID: req.GetSubscriptionId(), URL: in.GetUrl(), Types: in.GetTypes(), Secret: in.GetSecret()}
	var vs apierr.Violations
	names.CheckID(&vs, "subscription_id", sub.ID)
	if u := in.GetUnit(); u != "" {
		t, unit, err := names.ParseUnit("subscription.unit", u)
		if err != nil {
			return nil, err
		}
		if t != tenant {
			vs.Add("subscription.unit", "format", "must be a unit of %s", names.Tenant(tenant))
		}
		sub.Unit = unit
	}
	s.out.CheckSubscription(ctx, &vs, "subscription.", sub, eventTypes)
	if err := vs.Err(); err != nil {
		return nil, err
	}
	if sub.Unit != "" {
		if err := s.units.Authorize(ctx, tenant, sub.Unit, subscriptionRoles); err != nil {
			return nil, err // also NotFound for a unit the registry does not have
		}
	}
	got, err := s.out.CreateSubscription(ctx, tenant, sub)
	if errors.Is(err, outbound.ErrSubscriptionExists) {
		return nil, apierr.AlreadyExists(names.Subscriptions.Name(tenant, sub.ID))
	}
	if err != nil {
		return nil, err
	}
	return subscriptionView(tenant, got), nil
}

// subscription parses, authorizes and reads the subscription named in field.
func (s *OutboundServer) subscription(ctx context.Context, field, name string) (string, outbound.Subscription, error) {
	tenant, id, err := names.Subscriptions.Parse(field, name)
	if err != nil {
		return "", outbound.Subscription{}, err
	}
	if err := authorizeTenant(ctx, tenant); err != nil {
		return "", outbound.Subscription{}, err
	}
	sub, err := s.out.Subscription(ctx, tenant, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", sub, apierr.NotFound(name)
	}
	return tenant, sub, err
}

func (s *OutboundServer) GetSubscription(ctx context.Context, req *requestsv1.GetSubscriptionRequest) (*requestsv1.Subscription, error) {
	tenant, sub, err := s.subscription(ctx, "name", req.GetName())
	if err != nil {
		return nil, err
	}
	return subscriptionView(tenant, sub), nil
}

func (s *OutboundServer) ListSubscriptions(ctx context.Context, req *requestsv1.ListSubscriptionsRequest) (*requestsv1.ListSubscriptionsResponse, error) {
	tenant, err := names.ParseTenant("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := authorizeTenant(ctx, tenant); err != nil {
		return nil, err
	}
	var vs apierr.Violations
	size := names.PageSize(&vs, req.GetPageSize())
	if err := vs.Err(); err != nil {
		return nil, err
	}
	query := names.Query{"requests.subscriptions", req.GetParent()}
	after, err := query.Parse(req.GetPageToken(), 1)
	if err != nil {
		return nil, err
	}
	start := ""
	if len(after) > 0 {
		start = after[0]
	}
	subs, err := s.out.Subscriptions(ctx, tenant, start, size)
	if err != nil {
		return nil, err
	}
	out := &requestsv1.ListSubscriptionsResponse{}
	for _, sub := range subs {
		out.Subscriptions = append(out.Subscriptions, subscriptionView(tenant, sub))
	}
	if len(subs) == size {
		out.NextPageToken = query.Token(subs[len(subs)-1].ID)
	}
	return out, nil
}

// once runs change in one transaction with the record of its request_id (AIP-155,
// idempotency.Once, keyed as the steps are: idemOf): a retry does not run change again and gets
// the answer the first call recorded, with replayed true.
func (s *OutboundServer) once(ctx context.Context, tenant string, req idempotent, change func(tx pgx.Tx) (string, error)) (answer string, replayed bool, err error) {
	idem, err := idemOf(req)
	if err != nil {
		return "", false, err
	}
	err = s.out.InTx(ctx, func(tx pgx.Tx) error {
		answer, replayed, err = idempotency.Once(ctx, tx, pg.Schema, idem.Key(tenant), func() (string, error) { return change(tx) })
		return err
	})
	return answer, replayed, err
}

// subscriptionID parses and authorizes the subscription named in field, without reading it.
func subscriptionID(ctx context.Context, field, name string) (tenant, id string, err error) {
	if tenant, id, err = names.Subscriptions.Parse(field, name); err != nil {
		return "", "", err
	}
	return tenant, id, authorizeTenant(ctx, tenant)
}

// DeleteSubscription deletes a subscription; a retry with the same request_id succeeds again
// although the subscription is gone.
func (s *OutboundServer) DeleteSubscription(ctx context.Context, req *requestsv1.DeleteSubscriptionRequest) (*requestsv1.DeleteSubscriptionResponse, error) {
	tenant, id, err := subscriptionID(ctx, "name", req.GetName())
	if err != nil {
		return nil, err
	}
	_, _, err = s.once(ctx, tenant, req, func(tx pgx.Tx) (string, error) {
		found, err := s.out.DeleteSubscription(ctx, tx, tenant, id)
		if err == nil && !found {
			err = apierr.NotFound(req.GetName())
		}
		return req.GetName(), err
	})
	if err != nil {
		return nil, err
	}
	return &requestsv1.DeleteSubscriptionResponse{}, nil
}

// EnableSubscription enables a disabled subscription and answers it as it stands.
func (s *OutboundServer) EnableSubscription(ctx context.Context, req *requestsv1.EnableSubscriptionRequest) (*requestsv1.Subscription, error) {
	tenant, id, err := subscriptionID(ctx, "name", req.GetName())
	if err != nil {
		return nil, err
	}
	_, _, err = s.once(ctx, tenant, req, func(tx pgx.Tx) (string, error) {
		found, err := s.out.EnableSubscription(ctx, tx, tenant, id)
		if err == nil && !found {
			err = apierr.NotFound(req.GetName())
		}
		return req.GetName(), err
	})
	if err != nil {
		return nil, err
	}
	sub, err := s.out.Subscription(ctx, tenant, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apierr.NotFound(req.GetName()) // deleted since
	}
	if err != nil {
		return nil, err
	}
	return subscriptionView(tenant, sub), nil
}

// ReplaySubscription queues again the events of a time range; the replay and the record of its
// request_id commit together, so a retry answers the first count and queues nothing again.
func (s *OutboundServer) ReplaySubscription(ctx context.Context, req *requestsv1.ReplaySubscriptionRequest) (*requestsv1.ReplaySubscriptionResponse, error) {
	tenant, id, err := subscriptionID(ctx, "name", req.GetName())
	if err != nil {
		return nil, err
	}
	var vs apierr.Violations
	start, end := req.GetStartTime(), req.GetEndTime()
	if start == nil {
		vs.Add("start_time", "required", "start_time is required: the first event time to send again")
	}
	if end == nil {
		vs.Add("end_time", "required", "end_time is required: the event time to stop before")
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	if request.CheckTime(&vs, "start_time", start) && request.CheckTime(&vs, "end_time", end) && !start.AsTime().Before(end.AsTime()) {
		vs.Add("end_time", "range", "must be after start_time")
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	count, _, err := s.once(ctx, tenant, req, func(tx pgx.Tx) (string, error) {
		sub, err := s.out.LockSubscription(ctx, tx, tenant, id) // a disable waits for the replay, or the replay sees it
		if errors.Is(err, pgx.ErrNoRows) {
			return "", apierr.NotFound(req.GetName())
		}
		if err != nil {
			return "", err
		}
		if !sub.DisableTime.IsZero() {
			return "", apierr.Precondition("SUBSCRIPTION_DISABLED", "the subscription is disabled: enable it (:enable) before replaying")
		}
		n, err := s.out.Replay(ctx, tx, tenant, id, start.AsTime(), end.AsTime())
		return strconv.Itoa(n), err // the answer a retry gets
	})
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(count)
	if err != nil {
		return nil, fmt.Errorf("replay of %s: recorded count %q: %w", req.GetName(), count, err)
	}
	return &requestsv1.ReplaySubscriptionResponse{Count: int32(n)}, nil
}

// ListDeliveries lists a subscription's delivery log, for its managers.
func (s *OutboundServer) ListDeliveries(ctx context.Context, req *requestsv1.ListDeliveriesRequest) (*requestsv1.ListDeliveriesResponse, error) {
	tenant, sub, err := s.subscription(ctx, "parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	recs, next, err := s.deliveries(ctx, tenant, outbound.Filter{Channel: outbound.Webhook, Target: sub.ID}, req)
	return &requestsv1.ListDeliveriesResponse{Deliveries: recs, NextPageToken: next}, err
}

// ListRequestDeliveries lists what a request sent, for the unit's staff.
func (s *OutboundServer) ListRequestDeliveries(ctx context.Context, req *requestsv1.ListRequestDeliveriesRequest) (*requestsv1.ListRequestDeliveriesResponse, error) {
	tenant, unit, receipt, err := names.Requests.Parse("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := s.units.Authorize(ctx, tenant, unit, readRoles); err != nil {
		return nil, err
	}
	recs, next, err := s.deliveries(ctx, tenant, outbound.Filter{Subject: names.Requests.Name(tenant, unit, receipt)}, req)
	return &requestsv1.ListRequestDeliveriesResponse{Deliveries: recs, NextPageToken: next}, err
}

// page is a list request's paging.
type page interface {
	GetParent() string
	GetPageSize() int32
	GetPageToken() string
}

// deliveries are a page of the tenant's delivery records the filter selects, and the next
// page's token.
func (s *OutboundServer) deliveries(ctx context.Context, tenant string, f outbound.Filter, req page) ([]*requestsv1.Delivery, string, error) {
	var vs apierr.Violations
	f.Limit = names.PageSize(&vs, req.GetPageSize())
	if err := vs.Err(); err != nil {
		return nil, "", err
	}
	query := names.Query{"requests.deliveries", req.GetParent()}
	after, err := query.ParseN(req.GetPageToken())
	if err != nil {
		return nil, "", err
	}
	f.After = after
	recs, err := s.out.Records(ctx, tenant, f)
	if err != nil {
		return nil, "", err
	}
	var out []*requestsv1.Delivery
	for _, r := range recs {
		out = append(out, deliveryView(tenant, r))
	}
	next := ""
	if len(recs) == f.Limit {
		next = query.TokenN(recs[len(recs)-1].ID)
	}
	return out, next, nil
}

func deliveryView(tenant string, r outbound.Record) *requestsv1.Delivery {
	d := &requestsv1.Delivery{Channel: r.Channel, Target: r.Target, Label: r.Label, Subject: r.Subject,
		IdempotencyKey: r.Key, Attempts: int32(r.Attempts), CreateTime: timestamppb.New(r.CreateTime), Answer: r.Answer,
		State: requestsv1.DeliveryState_DELIVERY_STATE_PENDING}
	if r.Channel == outbound.Webhook {
		d.Target = names.Subscriptions.Name(tenant, r.Target)
	}
	if !r.AttemptTime.IsZero() {
		d.AttemptTime = timestamppb.New(r.AttemptTime)
	}
	switch {
	case !r.DeliverTime.IsZero():
		d.State, d.DeliverTime = requestsv1.DeliveryState_DELIVERY_STATE_DELIVERED, timestamppb.New(r.DeliverTime)
	case !r.FailTime.IsZero():
		d.State, d.FailTime = requestsv1.DeliveryState_DELIVERY_STATE_FAILED, timestamppb.New(r.FailTime)
	}
	return d
}

// mailStates are the states of the mail a request sent, by what it carried (a notice's name).
func (s *OutboundServer) mailStates(ctx context.Context, tenant, request string) (map[string]requestsv1.DeliveryState, error) {
	recs, err := s.out.Records(ctx, tenant, outbound.Filter{Channel: outbound.Mail, Subject: request, Limit: 1000})
	if err != nil {
		return nil, err
	}
	out := map[string]requestsv1.DeliveryState{}
	for _, r := range recs {
		out[r.Label] = deliveryView(tenant, r).GetState()
	}
	return out, nil
}
