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
// its text (mail.TextOf), read from requests.notices. A step thus writes a reference of about a
// hundred bytes instead of a second sealed copy of the notice (issue 17).
type NoticeMail struct{ Store *Store }

// Compose: a notice erased since (PIPA-21-1: its rendering names the requester) is a permanent
// failure, and the message is given up.
func (c *NoticeMail) Compose(ctx context.Context, tenant string, ref []byte) ([]byte, error) {
	var r noticeRef
	if err := json.Unmarshal(ref, &r); err != nil {
		return nil, outbound.Permanent(err)
	}
	var doc []byte
	err := c.Store.pool.QueryRow(ctx, `SELECT doc FROM requests.notices WHERE tenant_id = $1 AND receipt = $2 AND seq = $3`,
		tenant, r.Receipt, r.Seq).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, outbound.Permanent(errors.New("the notice is gone"))
	}
	if err != nil {
		return nil, err
	}
	n, err := c.Store.openNotice(tenant, r.Receipt, r.Seq, doc)
	if err != nil {
		return nil, outbound.Permanent(err)
	}
	if n.GetHtml() == "" {
		return nil, outbound.Permanent(errors.New("the notice's text was erased"))
	}
	return mail.Message{To: r.To, Subject: r.Subject, Text: mail.TextOf(n.GetHtml()), HTML: n.GetHtml()}.Payload()
}
