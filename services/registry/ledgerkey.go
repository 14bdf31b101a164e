package registry

import (
	"bytes"
	"context"
	"html/template"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
)

// LedgerKey is what a unit's published policy page shows of the unit's ledger, so that a
// substituted key is visible to anyone who reads the published policy: the log's origin, the note
// verifier key that signs its checkpoints, and where its tlog-tiles are.
type LedgerKey struct {
	Origin, VerifierKey, TilesPath string
}

// LedgerKeys looks up a unit's LedgerKey (ok false when the unit has no ledger).
type LedgerKeys func(ctx context.Context, tenant, unit string) (k LedgerKey, ok bool, err error)

// PageOption configures Pages.
type PageOption func(*pageOptions)

type pageOptions struct {
	ledgerKeys LedgerKeys
	postings   Postings
}

// WithLedgerKeys shows each unit's ledger key on its policy pages (ledgerKeyFragment).
func WithLedgerKeys(f LedgerKeys) PageOption { return func(o *pageOptions) { o.ledgerKeys = f } }

// ledgerKeyFragment is the section added at the end of a policy page: facts of the ledger pipa
// keeps for the unit, labelled as such, and nothing said for the institution.
var ledgerKeyFragment = template.Must(template.New("ledger-key").Parse(`<section aria-labelledby="ledger-key" class="ledger-key">
<h2 id="ledger-key">관리대장 검증 정보</h2>
<dl>
<dt>관리대장 식별자 (origin)</dt><dd><code>{{.Origin}}</code></dd>
<dt>서명 검증키 (note verifier key)</dt><dd><code>{{.VerifierKey}}</code></dd>
<dt>검증 자료 (C2SP tlog-tiles)</dt><dd><code>{{.TilesPath}}</code> (<a href="{{.TilesPath}}checkpoint">최신 체크포인트</a>)</dd>
</dl>
</section>
`))

// ledgerKeys looks a unit's LedgerKey up with the ledger's public GetVerifierKey.
func ledgerKeys(client ledgerv1.LedgerServiceClient) LedgerKeys {
	return func(ctx context.Context, t, u string) (LedgerKey, bool, error) {
		k, err := client.GetVerifierKey(ctx, &ledgerv1.GetVerifierKeyRequest{Tenant: t, Unit: u})
		if status.Code(err) == codes.NotFound {
			return LedgerKey{}, false, nil
		}
		if err != nil {
			return LedgerKey{}, false, err
		}
		return LedgerKey{Origin: k.GetOrigin(), VerifierKey: k.GetVerifierKey(), TilesPath: k.GetTilesPath()}, true, nil
	}
}

// withLedgerKey returns the page html with the unit's ledger key section before </main>, or html
// as it is when the unit has no ledger or it cannot be read now.
func (o pageOptions) withLedgerKey(ctx context.Context, cache *microcache[LedgerKey], t, u string, html []byte) []byte {
	if o.ledgerKeys == nil {
		return html
	}
	k, err := cache.get(t+"/"+u, func() (LedgerKey, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		k, ok, err := o.ledgerKeys(ctx, t, u)
		if err == nil && !ok {
			k = LedgerKey{}
		}
		return k, err
	})
	i := bytes.LastIndex(html, []byte("</main>"))
	if err != nil || k.VerifierKey == "" || i < 0 {
		return html
	}
	var b bytes.Buffer
	b.Grow(len(html) + 512)
	b.Write(html[:i])
	_ = ledgerKeyFragment.Execute(&b, k)
	b.Write(html[i:])
	return b.Bytes()
}
