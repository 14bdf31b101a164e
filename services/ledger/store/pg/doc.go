// Package pg is the ledger's PostgreSQL store: one append-only RFC 6962 Merkle tree per unit
// (golang.org/x/mod/sumdb/tlog), its entries, its stored hashes and its latest C2SP
// tlog-checkpoint, signed with the tenant's Ed25519 note key. README.md describes the tables, the
// group commit and why a crash cannot leave a log half-written.
//
// The store does not know the leaf format: Append takes a Build function that the store calls
// once the entry's index is known, inside the transaction that commits it. Every method takes the
// tenant and the unit and every query is scoped by both, so two tenants' logs of the same unit id
// are unrelated.
//
// Errors are apierr values (NotFound with the entry's resource name, Invalid with the field:
// "tree_size", "from", "to", "entry.follows", "request_id") or plain errors, which the server's one
// translation point (apierr.ToStatus) turns into a generic Internal.
package pg
