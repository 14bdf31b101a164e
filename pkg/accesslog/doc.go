// Package accesslog records every read of personal data, in any pipa service, as an ACCESS entry
// (접속기록) of the unit's ledger: who (the principal's subject), when, from where (the client's
// IP address), whose data (a resource name, never a person's name in clear) and what action (the
// gRPC method) — the fields of LAW.md S-2-3. Kept in the ledger, the log is append-only and
// tamper-evident (S-8-3).
//
// Each service declares its [Rules] next to its handlers: which methods read personal data, which
// unit's ledger a call belongs to, and which resource it read. [Recorder.Interceptor] runs after
// the handler succeeded, never changes its response, and skips calls without a principal (public
// methods) and calls by the service role on "*" (pipa's own calls, among them the recorder's
// appends, so recording never recurses; a service grant on one tenant is recorded like any other).
//
// Reads must not wait on the ledger, so the interceptor only queues the record in a bounded buffer
// and a background flusher appends it through the ledger's gRPC API (AppendEntry) with a service
// credential. Each record carries a request_id fixed when it is queued, so a retried append never
// writes it twice. When the buffer is full the record is dropped, not the read delayed: personal
// data stays available while the ledger is down or slow, at the cost of a gap in the log that is
// counted (metric pipa.accesslog.dropped, and an error log with the count) so that operators
// alert on it and can explain it to an inspector. The buffer holds minutes of normal load. Close
// flushes what is queued on shutdown.
//
// Retention (S-8-1) is a minimum: access logs are kept at least one year, or two years when the
// tenant's system holds data of 50,000 or more subjects, unique identifiers (고유식별정보) or
// sensitive data. ACCESS entries carry no personal values (the actor is an account id, the
// subject a resource name), so nothing in them is sealed or ever redacted: they are ordinary
// ledger entries, and the ledger deletes none. The retention service will hold, per tenant, which
// period applies and why (the subject count and data kinds it was told), and refuse any plan that
// would archive or destroy a unit's ledger before its newest ACCESS entry is that old.
package accesslog
