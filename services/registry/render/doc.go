// Package render publishes a policy version as its body wrote it: the body's own title, preamble,
// articles and attachments, with the registry's facts filled in where the text binds them, frozen
// as HTML and plain text with their SHA-256 (Freeze); the before/after comparison table (신·구
// 대조표) of two versions' texts (Compare); the public pages around the frozen documents (a policy
// page, a body's index, a unit's page, the list of bodies, Korean error pages, with one stylesheet
// readable at 360 px and printable); and the sign (안내판) of a CCTV site. It writes no sentence of
// its own into a body's document: what a policy says comes from its text, the registry's facts, or
// an officer's attestation.
//
// # Bodies
//
// Preamble, article and attachment bodies are a small Markdown subset, as the importer
// (services/registry/document) writes them: paragraphs; "- " list items, two spaces of indent per
// level, with continuation lines; "| a | b |" tables, their header rows (one or more) above a
// "| --- |" row, a cell's lines separated by <br>; [text](address) links. A cell whose whole text is
// {{^}} is merged with the cell above it, one whose whole text is {{<}} with the cell to its left
// (HTML rowspan and colspan): the merged cell is written once, as one cell in HTML and with the
// cells it covers left empty in the plain text. Written as bindings, they cannot be mistaken for a
// body's words. Merges stay within the header rows or within the body rows, and each merged cell
// is a rectangle; anything else is refused naming the line. An address is http(s),
// a path of the site, unit:<id> (that unit's public page, /p/{t}/{u}) or version:<n> (that
// published version of the same policy). Every piece of text is escaped when rendered as HTML.
//
// # Bindings
//
// {{ref.field…}} puts registry facts into the text, read from the version's frozen snapshot (so a
// published version never changes when the registry does). Fields are the proto's JSON names,
// through messages and [i] list indexes ({{site.cameras[0].location}}); a list of values is one
// line each unless {{…|separator}} joins them. The ref says which facts:
//
//	{{site.displayName}}                a row binding: the line (list item, table row, paragraph
//	{{officer[cpo,handler].phone}}      line) repeats once per site, per officer of those roles, …
//	{{camera.location}}                 a site's cameras, zones, purposes, a file's recipients and a
//	                                    processor's sub-processors repeat within the enclosing site,
//	                                    file or processor row
//	{{subprocessor.company}}            the sub-processors the contracts record with the body's
//	                                    consent (PIPA-26-6), each with its processor
//	{{site/central.storagePlace}}       one: the site, officer, processor, file or attestation with
//	{{officer/city/cpo.displayName}}    that id (unit/id where ids repeat across the unit's tree)
//	{{attestation/children}}            an officer's attested sentence about an item (its statement)
//	{{sites.recordingHours}}            all: the distinct values over every element, one per line
//	{{unit.fullName}} {{tenant.displayName}} {{version.effectiveDate}}   the version's own
//
// {{officer.role}} is the officer's published role label, or the statutory term of the role.
// A binding that does not resolve (no such field, id, or collection; a row binding outside a
// repeating line) is a Problem naming the article and line; a version with problems is neither
// announced nor frozen, and Preview renders a draft for review with them left empty.
package render
