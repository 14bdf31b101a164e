// Package requests is pipa's request-workflow service (pipa.requests.v1): data-subject requests
// (PIPA 35–37-2, STD-44) and third-party provision requests (PIPA-18-2), from intake through
// identity verification and a decision with a coded legal ground to the notice, on the statutory
// clock, with every step recorded in the unit's ledger.
package requests
