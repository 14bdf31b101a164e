// Package ledger is the ledger service's gRPC server: one append-only, tamper-evident log per
// unit holding the management ledger and the access log. README.md tells the life of an entry.
package ledger
