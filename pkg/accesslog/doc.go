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
// No read is answered unrecorded. The interceptor stores the read's records in the process's
// database (the spool, accesslog.spool) and answers only once they are committed; reads arriving
// together share one commit (group commit), so the wait is one short transaction, not one each.
// When the spool cannot keep up the reads wait for room in a bounded buffer, and when a record
// cannot be stored at all the read fails with Unavailable (counted, pipa.accesslog.refused)
// instead of leaving a gap. A background flusher appends the spool to the ledger (AppendEntry,
// with a service credential, under a request_id fixed when the record was made, so a record sent
// twice — by a retry, a second replica or a process restarted after a crash — is one entry) and
// deletes what the ledger holds. The ledger being slow or down therefore delays the log, never the
// reads and never at the cost of a record; a process killed mid-stream leaves its stored records
// in the spool for the next one. Close stores what is queued and flushes on shutdown.
//
// Retention (S-8-1) is computed per system (period.go): access records are kept at least one
// year, or two years when the system holds data of 50,000 or more subjects, unique identifiers
// (고유식별정보) or sensitive data, as the personal-information files that list the system state
// (registry, PersonalInformationFile.systems); a system no file classifies is kept two years. The
// retention service's sweep redacts the records past their period through the ledger, which lets
// the service role alone redact an ACCESS entry, and never within a year of the access (S-8-3).
// An ACCESS entry's leaf commits to its account, address, subject, action (and an ingested
// download's reason) without showing them; the values are sealed beside it, and the redaction
// deletes them, records when and why, and leaves the leaf, which every proof needs, as it was:
// a destroyed record keeps only its time and system readable (services/ledger/entry). Records
// written before the leaf committed to them keep those fields in their leaf: they are served and
// exported as destroyed, but the raw leaf, which no one may rewrite, still holds them.
package accesslog
