// Package mailaddr checks an e-mail address a request gives pipa to keep or to mail: one bare
// address (local@domain as net/mail parses it, RFC 5322), without a display name, angle brackets
// or surrounding spaces, and at most 254 bytes (RFC 5321's longest path less its brackets). The
// registry's officers and processors, a requester, a copy's recipient and a breach's subjects are
// checked alike.
package mailaddr

import (
	"net/mail"

	"github.com/pipa-kr/pipa/pkg/apierr"
)

// maxLen is the longest address a mail relay takes (RFC 5321 4.5.3.1.3: a 256-byte path, "<" and ">" included).
const maxLen = 254

// Valid reports whether a is one bare e-mail address.
func Valid(a string) bool {
	if len(a) > maxLen {
		return false
	}
	p, err := mail.ParseAddress(a)
	return err == nil && p.Name == "" && p.Address == a
}

// Check adds to vs a violation of rule "format" on field unless v is empty or one bare e-mail
// address (Valid): every address pipa keeps is optional.
func Check(vs *apierr.Violations, field, v string) {
	if v != "" && !Valid(v) {
		vs.Add(field, "format", Format)
	}
}

// Format is the description of Check's refusal, for a caller that checks with Valid.
const Format = "must be one e-mail address such as privacy@korea.kr, without a name or <>"
