package names

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"

	"github.com/pipa-kr/pipa/pkg/apierr"
)

// Page tokens (AIP-158) are opaque to clients: the base64 of the position after a page's last
// row (the list's sort key) and a fingerprint of the query that listed it — the list, its parent
// and its filters. A token is accepted only by the query it came from, so that a client cannot
// carry a position into another parent or filter, where it would skip or repeat rows. A token
// is not secret: it holds nothing the caller could not list, and every query stays scoped by
// tenant in the store.

// Query names one list query: the list (e.g. "retention.items") and everything that selects its
// rows, in a fixed order.
type Query []string

// pageKey is a token's content.
type pageKey struct {
	Query string   `json:"q"`
	Key   []string `json:"k"`
}

// fingerprint is 12 bytes of SHA-256 over the query's parts, each length-prefixed.
func (q Query) fingerprint() string {
	h := sha256.New()
	for _, p := range q {
		h.Write([]byte(strconv.Itoa(len(p)) + ":" + p))
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12])
}

// Token is the page token that continues q after the row whose sort key is key; empty when key
// is, or is one empty string (no next page).
func (q Query) Token(key ...string) string {
	if len(key) == 0 || (len(key) == 1 && key[0] == "") {
		return ""
	}
	b, _ := json.Marshal(pageKey{Query: q.fingerprint(), Key: key})
	return base64.RawURLEncoding.EncodeToString(b)
}

// TokenN is Token for a numeric key; 0 is no next page.
func (q Query) TokenN(last int64) string {
	if last == 0 {
		return ""
	}
	return q.Token(strconv.FormatInt(last, 10))
}

// errToken is the refusal of a token that q did not issue.
var errToken = apierr.Invalid(apierr.Violation{Field: "page_token", Rule: "format",
	Description: "not a page token of this list with this parent and filters; pass the next_page_token of the previous call unchanged, with the same parent and filters"})

// Parse returns the sort key of token for q (nil for the first page), refusing with
// InvalidArgument on page_token a token of another list, parent or filter, or not a token at all.
// keyLen, when not 0, is how many parts the key must have.
func (q Query) Parse(token string, keyLen int) ([]string, error) {
	if token == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil, errToken
	}
	var k pageKey
	if err := json.Unmarshal(b, &k); err != nil || k.Query != q.fingerprint() || len(k.Key) == 0 ||
		(keyLen > 0 && len(k.Key) != keyLen) {
		return nil, errToken
	}
	return k.Key, nil
}

// ParseN is Parse for a numeric key (0 for the first page).
func (q Query) ParseN(token string) (int64, error) {
	key, err := q.Parse(token, 1)
	if err != nil || key == nil {
		return 0, err
	}
	n, err := strconv.ParseInt(key[0], 10, 64)
	if err != nil {
		return 0, errToken
	}
	return n, nil
}

// PageSize is a list's page size: 50 when the caller asks for none, at most 500; a negative size
// is added to vs.
func PageSize(vs *apierr.Violations, n int32) int {
	switch {
	case n < 0:
		vs.Add("page_size", "range", "must not be negative")
	case n == 0:
		return 50
	}
	return int(min(n, 500))
}
