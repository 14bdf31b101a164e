// Package cors lets the configured pipa frontends (the officers' console, a city's own site) call
// the REST gateway from a browser, and no other origin.
//
// It wraps github.com/rs/cors, which implements the preflight and Vary rules of the Fetch standard
// so that we do not, and pins the policy down: origins match exactly as configured, never by
// pattern; "*" must be written out to allow every origin, and then credentials are not allowed,
// so a browser never sends cookies or client certificates to a wildcard policy. Tokens travel in
// the Authorization header, which is listed here and needs no credentials mode.
package cors
