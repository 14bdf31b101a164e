// Package auth answers two questions for every pipa service: who is calling, and may they.
//
// Callers present "authorization: Bearer <JWT>" as gRPC metadata (the REST gateway forwards the
// HTTP header as that metadata). A [Verifier] turns the token into a [Principal]: a subject and the
// [Grant]s it holds, each a [Role] on a scope (see ARCHITECTURE.md, "Identity and tenancy"):
//
//	"*"                      every tenant (the platform operator)
//	"tenants/{t}"            a whole tenant
//	"tenants/{t}/units/{u}"  a unit and its whole subtree of sub-units
//
// [UnaryServerInterceptor] and [StreamServerInterceptor] put the principal in the context;
// handlers then ask [Principal.Allows] for a resource's tenant and unit chain, and filter lists
// with [Principal.TenantScope]. Authorization is decided in the handlers and the store, not here,
// because only they know which tenant and unit a request touches.
//
// Two verifiers exist. Production uses an OIDC issuer (github.com/coreos/go-oidc/v3: discovery,
// a cached and rotated JWKS, issuer and audience checks, so we write none of that ourselves).
// Development ("pipa dev", "pipa token", tests) uses Ed25519 (EdDSA) tokens signed with a local key,
// made and checked with github.com/golang-jwt/jwt/v5, which needs no issuer to be running.
// Both map the roles claim through the same strict parser: a token naming an unknown role or a
// malformed scope is rejected outright rather than silently granting less, so that a mistake in an
// identity provider's claim mapping shows up at once.
//
// Calls between pipa services carry a token with the service role on scope "*": see
// [PerRPCToken] and [DevServiceToken].
package auth
