// Package entry is a ledger entry as data: what the law requires of each kind, the canonical leaf
// bytes that go into the Merkle tree, and the 별지 제3호 export.
//
//   - Validate checks a client's entry against the fields LAW.md requires for its kind (STD-42-1,
//     DEC-15, STD-44-5, STD-42-2, S-2-3) and names the rule each violation breaks; ValidateFollows
//     checks an amendment against the kind of the entry it follows (C-9).
//   - EncodeLeaf renders an entry as the text format documented on the Leaf message of
//     ledger.proto: the bytes are stored and hashed as they are and never re-serialized, so a
//     verifier needs only sha256 and that grammar. DecodeLeaf reads them back and accepts only
//     canonical bytes. The store can rebuild an entry from DecodeLeaf(leaf).Entry and the
//     revealed Sealed values, so the leaf is the one source of the entry's content.
//   - Personal values (Personal) appear in a leaf only as salted sha256 commitments; the values and
//     salts come back as a Sealed, which the store encrypts (pkg/seal) beside the leaf and erases
//     on redaction, and which is checked against the leaf (Decoded.Check) before it is served.
//     Without the salt a commitment cannot be tested against guessed names; with it, Verify
//     checks a disclosed value against the tamper-evident leaf. Which fields are personal depends
//     on the kind: an ACCESS entry commits to its whole access record (S-2-3: account, where from,
//     whose data, action, a download's reason), so that once destroyed (S-8-1) it leaves only its
//     kind, time and system; ACCESS leaves written before hold them in clear and still decode.
//     Commit makes the salts and hashes before the entry's index is known, Committed.Leaf renders
//     it once the log gives one.
//   - Columns, Row, WriteCSV and WriteXLSX export the ledger with the Korean headers of 별지
//     제3호 (STD-45) plus every other required field, since STD-45 asks for the union.
package entry
