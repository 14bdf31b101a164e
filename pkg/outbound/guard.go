package outbound

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"syscall"

	"github.com/pipa-kr/pipa/pkg/apierr"
)

// Guard is where webhooks may go. By default a receiver is an https URL at a public address: not
// loopback, private (RFC 1918, fc00::/7), shared (100.64.0.0/10), link-local (cloud metadata
// included), multicast or unspecified, so that a subscription cannot make pipa post into its own
// network. The address is checked when a subscription is created and again on every dial of a
// delivery (net.Dialer.Control), so a name that later resolves elsewhere (DNS rebinding) is
// still refused.
type Guard struct {
	// AllowHTTP accepts plain http receivers (development, tests).
	AllowHTTP bool
	// AllowPrivate accepts receivers at non-public addresses (inter-agency networks are often
	// private; tests listen on loopback).
	AllowPrivate bool
}

// errNotPublic: a receiver's address is not public and the guard does not allow it.
var errNotPublic = errors.New("outbound: the receiver's address is not public")

var sharedSpace = netip.MustParsePrefix("100.64.0.0/10")

// public reports whether a is a public unicast address.
func public(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsGlobalUnicast() && !a.IsPrivate() && !sharedSpace.Contains(a)
}

// checkURL validates a receiver's URL into vs under field. A host name that does not resolve now
// is accepted: the receiver may not be up yet, and every dial is checked.
func (g Guard) checkURL(ctx context.Context, vs *apierr.Violations, field, raw string) {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		vs.Add(field, "required", "url is required: where the events are posted")
		return
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil:
		vs.Add(field, "format", "must be an absolute http or https URL without credentials")
		return
	case u.Scheme == "http" && !g.AllowHTTP:
		vs.Add(field, "https", "must be an https URL: events are sent only over TLS (PIPA_WEBHOOK_ALLOW_HTTP allows http)")
		return
	}
	if g.AllowPrivate {
		return
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", u.Hostname())
	if err != nil {
		return
	}
	for _, a := range addrs {
		if !public(a) {
			vs.Add(field, "public_address", "%s resolves to %s, not a public address (PIPA_WEBHOOK_ALLOW_PRIVATE allows private receivers)", u.Hostname(), a.Unmap())
			return
		}
	}
}

// checkScheme refuses a delivery to an http URL the guard no longer allows.
func (g Guard) checkScheme(raw string) error {
	if u, err := url.Parse(raw); err == nil && u.Scheme == "http" && !g.AllowHTTP {
		return fmt.Errorf("outbound: %s is not https", u.Redacted())
	}
	return nil
}

// control is the dialer's check of the address actually dialled.
func (g Guard) control(_, address string, _ syscall.RawConn) error {
	if g.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return err
	}
	if !public(ap.Addr()) {
		return fmt.Errorf("%w: %s", errNotPublic, ap.Addr().Unmap())
	}
	return nil
}
