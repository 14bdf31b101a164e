// Package ratelimit protects pipa's public endpoints (published policies, submitting a request,
// checking a request's status: ARCHITECTURE.md, "Identity and tenancy"), which anyone may call
// without a token, from being flooded by one client.
//
// A [Limiter] keeps one token bucket per client address (golang.org/x/time/rate: the standard,
// allocation-light bucket whose reservations tell us how long to wait, which becomes Retry-After).
// The same Limiter serves as HTTP middleware for the gateway and as a gRPC interceptor for the
// services, so a client is counted once however it arrives. IPv6 clients are counted per /64,
// the block a single subscriber is usually given, so that one host cannot evade its limit by
// rotating addresses.
//
// Buckets that have sat idle long enough to refill are forgotten, and the number of buckets has a
// hard cap, so memory stays bounded however many addresses appear.
//
// Behind a load balancer or the gateway, every request comes from the proxy. Name the proxies with
// [WithTrustedProxies]: for a request whose immediate peer is one of them, the first
// X-Forwarded-For hop is taken as the client. That hop is only as honest as the outermost trusted
// proxy, which must set X-Forwarded-For itself rather than append to what the client sent.
package ratelimit
