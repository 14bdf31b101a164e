package outbound_test

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/pkg/pgtest"
	"github.com/pipa-kr/pipa/pkg/seal"
)

// senderFunc is a Sender of a test.
type senderFunc func(ctx context.Context, d outbound.Delivery) (string, error)

func (f senderFunc) Send(ctx context.Context, d outbound.Delivery) (string, error) { return f(ctx, d) }

// A message a dispatcher took and never answered for (its process hangs or died mid-send) is
// leased: another dispatcher (or the same one) leaves it alone until the lease ends, then sends
// it again under the same idempotency key, as its next attempt; the first send's late answer
// changes nothing.
func TestDispatcherLeaseOutlivesAHungSend(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.NewMulti(t, []pgtest.Migration{{Schema: "svc", Jobs: true, Outbound: true,
		FS: fstest.MapFS{"00001_svc.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 1;\n")}}}})

	taken, release := make(chan outbound.Delivery, 1), make(chan struct{})
	sent := make(chan outbound.Delivery, 4) // what either dispatcher sends once the lease is over
	send := senderFunc(func(_ context.Context, d outbound.Delivery) (string, error) {
		sent <- d
		return "250 queued", nil
	})
	var calls atomic.Int64
	hung, err := outbound.New(outbound.Config{Schema: "svc", Pool: pool, Timeout: time.Second,
		Senders: map[string]outbound.Sender{outbound.Mail: senderFunc(func(ctx context.Context, d outbound.Delivery) (string, error) {
			if calls.Add(1) > 1 {
				return send(ctx, d)
			}
			taken <- d
			<-release // past its timeout: as a process that hangs
			return "250 too late", nil
		})}})
	require.NoError(t, err)
	require.NoError(t, hung.Start(ctx))
	t.Cleanup(func() {
		close(release)
		require.NoError(t, hung.Stop(context.Background()))
	})

	var id int64
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) (err error) {
		id, err = hung.Enqueue(ctx, tx, "iksan", outbound.Message{Channel: outbound.Mail, Target: "requester",
			Subject: "requests/R-1", Label: "notice", Payload: []byte("hello")})
		return err
	}))
	first := <-taken
	require.Equal(t, 1, first.Attempt)

	other, err := outbound.New(outbound.Config{Schema: "svc", Pool: pool, Senders: map[string]outbound.Sender{outbound.Mail: send}})
	require.NoError(t, err)
	require.NoError(t, other.Start(ctx))
	t.Cleanup(func() { require.NoError(t, other.Stop(context.Background())) })

	select {
	case d := <-sent:
		t.Fatalf("message %d sent again while its lease runs", d.ID)
	case <-time.After(2500 * time.Millisecond): // two of the other dispatcher's idle looks
	}
	var leased time.Duration
	require.NoError(t, pool.QueryRow(ctx, `SELECT extract(epoch FROM next_time - now()) * 1e9 FROM svc.outbound WHERE id = $1`,
		id).Scan(&leased))
	require.Greater(t, leased, 30*time.Second, "leased well past the attempt's timeout")
	// The lease runs out.
	_, err = pool.Exec(ctx, `UPDATE svc.outbound SET next_time = now() WHERE id = $1`, id)
	require.NoError(t, err)
	select {
	case d := <-sent:
		require.Equal(t, id, d.ID)
		require.Equal(t, 2, d.Attempt)
		require.Equal(t, first.Key, d.Key, "the receiver's idempotency key is the message's")
		require.Equal(t, "hello", string(d.Payload))
	case <-time.After(30 * time.Second):
		t.Fatal("the message was not sent again when its lease ended")
	}
	require.Eventually(t, func() bool {
		recs, err := other.Records(ctx, "iksan", outbound.Filter{Subject: "requests/R-1", Limit: 10})
		require.NoError(t, err)
		return len(recs) == 1 && !recs[0].DeliverTime.IsZero() && recs[0].Attempts == 2 && recs[0].Answer == "250 queued"
	}, 10*time.Second, 50*time.Millisecond)
}

// A personal message erased (Forget: its request erased, PIPA-21-1) while it is being sent, and
// then delivered, is recorded as delivered, its answer empty as Forget left it: not as "erased
// before it was sent".
func TestForgottenWhileSentIsRecordedDelivered(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.NewMulti(t, []pgtest.Migration{{Schema: "svc", Jobs: true, Outbound: true,
		FS: fstest.MapFS{"00001_svc.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 1;\n")}}}})
	box, err := seal.New(map[string][]byte{"k": bytes.Repeat([]byte{7}, seal.KeySize)}, "k")
	require.NoError(t, err)
	taken, release := make(chan struct{}), make(chan struct{})
	o, err := outbound.New(outbound.Config{Schema: "svc", Pool: pool, Box: box,
		Senders: map[string]outbound.Sender{outbound.Mail: senderFunc(func(context.Context, outbound.Delivery) (string, error) {
			close(taken)
			<-release
			return "250 queued for minwon@example.kr", nil
		})}})
	require.NoError(t, err)
	require.NoError(t, o.Start(ctx))
	t.Cleanup(func() { require.NoError(t, o.Stop(context.Background())) })
	var id int64
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) (err error) {
		id, err = o.Enqueue(ctx, tx, "iksan", outbound.Message{Channel: outbound.Mail, Target: "requester",
			Subject: "requests/R-1", Label: "notice", Payload: []byte("minwon@example.kr"), Personal: true})
		return err
	}))
	<-taken
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return o.Forget(ctx, tx, "iksan", "requests/R-1") }))
	close(release)
	require.Eventually(t, func() bool {
		var delivered, failed bool
		var answer string
		require.NoError(t, pool.QueryRow(ctx, `SELECT deliver_time IS NOT NULL, fail_time IS NOT NULL, answer FROM svc.outbound WHERE id = $1`,
			id).Scan(&delivered, &failed, &answer))
		return delivered && !failed && answer == ""
	}, 10*time.Second, 50*time.Millisecond)
}
