package pg

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/pkg/outbound/mail"
)

// ComposeNotice is the outbound Composer (NoticeMail) of a notice's mail to its requester.
const ComposeNotice = "requests.notice"

// noticeRef is what a step writes in the outbound for a notice's mail: the address, the subject
// and which notice; the notice itself is in requests.notices already, written by the same step.
type noticeRef struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Receipt string `json:"receipt"`
	Seq     int    `json:"seq"`
}

// NoticeMail composes a notice's mail when it is sent (outbound.Composer): the notice's HTML and
// its text (mail.TextOf), read from requests.notices, a claimed batch's notices in one query. A
// step thus writes a reference of about a hundred bytes instead of a second sealed copy of the
// notice (issue 17).
type NoticeMail struct{ Store *Store }

// Compose: a notice erased since (PIPA-21-1: its rendering names the requester) is a permanent
// failure, and the message is given up.
func (c *NoticeMail) Compose(ctx context.Context, refs []outbound.Ref) []outbound.Composed {
	out := make([]outbound.Composed, len(refs))
	parsed := make([]noticeRef, len(refs))
	var idx []int32
	var tenants, receipts []string
	var seqs []int32
	for i, r := range refs {
		if err := json.Unmarshal(r.Ref, &parsed[i]); err != nil {
			out[i].Err = outbound.Permanent(err)
			continue
		}
		idx, tenants = append(idx, int32(i)), append(tenants, r.Tenant)
		receipts, seqs = append(receipts, parsed[i].Receipt), append(seqs, int32(parsed[i].Seq))
	}
	if len(idx) == 0 {
		return out
	}
	found := make([]bool, len(refs))
	rows, err := c.Store.pool.Query(ctx, `SELECT t.i, n.doc FROM unnest($1::int[], $2::text[], $3::text[], $4::int[]) t(i, tenant, receipt, seq)
		JOIN requests.notices n ON n.tenant_id = t.tenant AND n.receipt = t.receipt AND n.seq = t.seq`, idx, tenants, receipts, seqs)
	if err == nil {
		var i int32
		var doc []byte
		_, err = pgx.ForEachRow(rows, []any{&i, &doc}, func() error {
			r := parsed[i]
			found[i], out[i] = true, c.mail(refs[i].Tenant, r, doc)
			return nil
		})
	}
	for _, i := range idx {
		switch {
		case err != nil && !found[i]:
			out[i].Err = err
		case !found[i]:
			out[i].Err = outbound.Permanent(errors.New("the notice is gone"))
		}
	}
	return out
}

// mail is the mail of the notice r refers to, from its stored doc.
func (c *NoticeMail) mail(tenant string, r noticeRef, doc []byte) outbound.Composed {
	n, err := c.Store.openNotice(tenant, r.Receipt, r.Seq, doc)
	if err != nil {
		return outbound.Composed{Err: outbound.Permanent(err)}
	}
	if n.GetHtml() == "" {
		return outbound.Composed{Err: outbound.Permanent(errors.New("the notice's text was erased"))}
	}
	return outbound.Composed{Content: mail.Message{To: r.To, Subject: r.Subject, Text: mail.TextOf(n.GetHtml()), HTML: n.GetHtml()}}
}
