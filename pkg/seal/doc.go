// Package seal encrypts personal values at rest (ARCHITECTURE.md "Identity and tenancy": names,
// contacts and the like never sit in the database, logs or ledger leaves in clear).
//
// A Box holds AES-256-GCM keys by id. Seal always uses the current key and writes that key's id in
// front of the ciphertext, so Open knows which key to use. This is the envelope: rotating the key
// means adding a new key as current and keeping the old ones for reading, with no flag day and no
// bulk re-encryption needed before the switch (re-sealing old values can happen lazily, see KeyID).
//
// Sealed bytes are self-describing:
//
//	key id (1-64 bytes of [A-Za-z0-9._-]) || 0x00 || 12-byte nonce || GCM ciphertext and tag
//
// The key id and separator are also authenticated, together with the caller's associated data,
// which should name where the value belongs (e.g. the entry's resource name and field) so that a
// sealed value copied to another row does not open there.
//
// Keys come from PIPA_DATA_KEY ("id:base64key[,id:base64key...]", the first is current) or from
// the file named by PIPA_DATA_KEY_FILE (same format); LoadOrCreateDevKey makes one for
// development. No error of this package contains key material or plaintext.
package seal
