package outbound

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

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
	sub := d.sub // read with the message
	if d.subErr != nil {
		return "", d.subErr // retried: a data key put right, the subscription stays
	}
	if sub == nil {
		return "subscription deleted", Permanent(errors.New("the subscription was deleted"))
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
	if err := w.o.cfg.Guard.checkScheme(sub.URL); err != nil {
		return "refused: not https", Permanent(err)
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
	if errors.Is(err, errNotPublic) {
		return "refused: " + err.Error(), Permanent(err)
	}
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

// webhookClient does not follow redirects (a receiver answers where it was subscribed), bounds
// each post, dials only where g allows (checked on the address dialled), and goes through no
// proxy, which would dial for it. It keeps as many connections to a receiver open as the
// dispatcher posts at once: with http's default of two, a busy subscription's posts would
// mostly dial (and the receiver accept) a connection each.
func webhookClient(g Guard) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.MaxIdleConnsPerHost = Parallel
	t.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: g.control}).DialContext
	return &http.Client{Timeout: 30 * time.Second, Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
