package outbound

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/pgdb"
)

// Subscription is a webhook subscription of a tenant, or of one of its units.
type Subscription struct {
	ID, Unit, URL string
	// Types are the event types it wants; none: all.
	Types []string
	// Secret is the whsec_ secret its deliveries are signed with (Standard Webhooks).
	Secret      string
	CreateTime  time.Time
	DisableTime time.Time
	// DisableReason is the last answer of the delivery that was given up.
	DisableReason string
}

// ErrSubscriptionExists: another subscription has the id.
var ErrSubscriptionExists = errors.New("outbound: a different subscription has this id")

// whsecPrefix starts a Standard Webhooks secret, base64 of 24 to 64 random bytes.
const whsecPrefix = "whsec_"

// CheckSubscription validates s as given by a caller, field names under prefix: its URL against
// the outbound's Guard, its types among known.
func (o *Outbound) CheckSubscription(ctx context.Context, vs *apierr.Violations, prefix string, s Subscription, known []string) {
	o.cfg.Guard.checkURL(ctx, vs, prefix+"url", s.URL)
	for i, t := range s.Types {
		if !slices.Contains(known, t) {
			vs.Add(prefix+"types", "format", "types[%d] %q is not an event pipa emits: %s", i, t, strings.Join(known, ", "))
		}
	}
	if s.Secret != "" {
		b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s.Secret, whsecPrefix))
		if !strings.HasPrefix(s.Secret, whsecPrefix) || err != nil || len(b) < 24 || len(b) > 64 {
			vs.Add(prefix+"secret", "StandardWebhooks", "must be whsec_ followed by base64 of 24 to 64 bytes; leave it empty for pipa to make one")
		}
	}
}

func (o *Outbound) secretAD(tenant, id string) []byte {
	return []byte("pipa/outbound subscription\x00" + o.cfg.Schema + "\x00" + tenant + "\x00" + id)
}

// CreateSubscription stores s (checked) for the tenant, making its secret when it has none. A
// second call with the same id, url, unit and types returns the first; otherwise
// ErrSubscriptionExists.
func (o *Outbound) CreateSubscription(ctx context.Context, tenant string, s Subscription) (Subscription, error) {
	if s.Secret == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return s, err
		}
		s.Secret = whsecPrefix + base64.StdEncoding.EncodeToString(b)
	}
	if s.Types == nil {
		s.Types = []string{}
	}
	secret, err := o.cfg.Box.Seal([]byte(s.Secret), o.secretAD(tenant, s.ID))
	if err != nil {
		return s, err
	}
	s.CreateTime = o.clock()
	_, err = o.cfg.Pool.Exec(ctx, `INSERT INTO `+o.cfg.Schema+`.subscriptions (tenant_id, id, unit_id, url, types, secret, create_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, tenant, s.ID, s.Unit, s.URL, s.Types, secret, s.CreateTime)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		old, err := o.Subscription(ctx, tenant, s.ID)
		if err != nil {
			return s, err
		}
		if old.URL != s.URL || old.Unit != s.Unit || !slices.Equal(old.Types, s.Types) {
			return s, ErrSubscriptionExists
		}
		return old, nil
	}
	return s, err
}

const selectSubscription = `SELECT id, unit_id, url, types, secret, create_time, coalesce(disable_time, 'epoch'), disable_reason`

func (o *Outbound) scanSubscription(tenant string, r pgx.CollectableRow) (Subscription, error) {
	var s Subscription
	var secret []byte
	if err := r.Scan(&s.ID, &s.Unit, &s.URL, &s.Types, &secret, &s.CreateTime, &s.DisableTime, &s.DisableReason); err != nil {
		return s, err
	}
	if s.DisableTime.Equal(time.Unix(0, 0)) {
		s.DisableTime = time.Time{}
	}
	var err error
	s.Secret, err = o.openSecret(tenant, s.ID, secret)
	return s, err
}

// openSecret is subscription id's signing secret, stored sealed.
func (o *Outbound) openSecret(tenant, id string, sealed []byte) (string, error) {
	plain, err := o.cfg.Box.Open(sealed, o.secretAD(tenant, id))
	return string(plain), err
}

// Subscription is the tenant's subscription id; pgx.ErrNoRows when it has none.
func (o *Outbound) Subscription(ctx context.Context, tenant, id string) (Subscription, error) {
	return o.subscription(ctx, o.cfg.Pool, tenant, id, "")
}

// LockSubscription is Subscription read in tx with the row locked FOR SHARE until tx ends, for a
// change that depends on what it reads (a replay of an enabled subscription): a concurrent
// disable, enable or delete happens wholly before or wholly after it.
func (o *Outbound) LockSubscription(ctx context.Context, tx pgx.Tx, tenant, id string) (Subscription, error) {
	return o.subscription(ctx, tx, tenant, id, " FOR SHARE")
}

func (o *Outbound) subscription(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, tenant, id, lock string) (Subscription, error) {
	rows, err := q.Query(ctx, selectSubscription+` FROM `+o.cfg.Schema+`.subscriptions WHERE tenant_id = $1 AND id = $2`+lock, tenant, id)
	if err != nil {
		return Subscription{}, err
	}
	return pgx.CollectExactlyOneRow(rows, func(r pgx.CollectableRow) (Subscription, error) { return o.scanSubscription(tenant, r) })
}

// Subscriptions are the tenant's subscriptions by id, after the id given, at most limit.
func (o *Outbound) Subscriptions(ctx context.Context, tenant, after string, limit int) ([]Subscription, error) {
	rows, err := o.cfg.Pool.Query(ctx, selectSubscription+` FROM `+o.cfg.Schema+`.subscriptions
		WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`, tenant, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Subscription, error) { return o.scanSubscription(tenant, r) })
}

// DeleteSubscription removes the subscription; what is waiting for it is given up when its turn
// comes. It reports whether there was one. tx carries the caller's record of the change
// (its request_id).
func (o *Outbound) DeleteSubscription(ctx context.Context, tx pgx.Tx, tenant, id string) (bool, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM `+o.cfg.Schema+`.subscriptions WHERE tenant_id = $1 AND id = $2`, tenant, id)
	return tag.RowsAffected() == 1, err
}

// EnableSubscription enables a disabled subscription again (its receiver is fixed); events in
// between are sent again by Replay. It reports whether there was one. tx carries the caller's
// record of the change (its request_id).
func (o *Outbound) EnableSubscription(ctx context.Context, tx pgx.Tx, tenant, id string) (bool, error) {
	tag, err := tx.Exec(ctx, `UPDATE `+o.cfg.Schema+`.subscriptions SET disable_time = NULL, disable_reason = ''
		WHERE tenant_id = $1 AND id = $2`, tenant, id)
	return tag.RowsAffected() == 1, err
}

// disable disables the subscription a given-up delivery was for, with its answer.
func (o *Outbound) disable(ctx context.Context, tx pgx.Tx, tenant, id, answer string) error {
	_, err := tx.Exec(ctx, `UPDATE `+o.cfg.Schema+`.subscriptions SET disable_time = $3, disable_reason = $4
		WHERE tenant_id = $1 AND id = $2 AND disable_time IS NULL`, tenant, id, o.clock(), answer)
	return err
}

// InTx runs fn in a transaction on the outbound's pool (for Replay and the subscription changes).
func (o *Outbound) InTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgdb.InTx(ctx, o.cfg.Pool, fn)
}
