package outbound

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// webhookSender posts an event to its subscription's URL in CloudEvents' structured JSON mode,
// signed per Standard Webhooks: webhook-id (the event's id, the same on every retry and replay),
// webhook-timestamp and webhook-signature, "v1," and the base64 HMAC-SHA256 of
// "{id}.{timestamp}.{body}" under the subscription's whsec_ secret.
type webhookSender struct {
	o      *Outbound
	client *http.Client
}

// Send: a 2xx answer delivers; 410 Gone gives up at once (the receiver says it is gone, as the
// scheme asks); anything else is retried.
func (w webhookSender) Send(ctx context.Context, d Delivery) (string, error) {
	sub, err := w.o.Subscription(ctx, d.Tenant, d.Target)
	if errors.Is(err, pgx.ErrNoRows) {
		return "subscription deleted", Permanent(errors.New("the subscription was deleted"))
	}
	if err != nil {
		return "", err
	}
	if !sub.DisableTime.IsZero() {
		return "subscription disabled", Permanent(errors.New("the subscription is disabled"))
	}
	wh, err := standardwebhooks.NewWebhook(sub.Secret)
	if err != nil {
		return "", Permanent(err)
	}
	now := w.o.cfg.Now()
	sig, err := wh.Sign(d.Key, now, d.Payload)
	if err != nil {
		return "", Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return "", Permanent(err)
	}
	req.Header.Set("Content-Type", "application/cloudevents+json; charset=utf-8")
	req.Header.Set("webhook-id", d.Key)
	req.Header.Set("webhook-timestamp", fmt.Sprint(now.Unix()))
	req.Header.Set("webhook-signature", sig)
	resp, err := w.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck // drained for the connection's reuse
	answer := "HTTP " + resp.Status
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return answer, nil
	case resp.StatusCode == http.StatusGone:
		return answer, Permanent(errors.New(answer))
	}
	return answer, errors.New(answer)
}

// webhookClient does not follow redirects (a receiver answers where it was subscribed) and bounds
// each post.
func webhookClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
