// Package render turns a policy version into the documents the public reads, in Korean and in the
// shape the seed documents publish: numbered articles (제1조, 제2조, …) generated from the unit's
// registry data and free-text sections, the whole document as Markdown and as a plain printable HTML
// page, the before/after comparison table (신·구 대조표) between two versions, and the sign (안내판)
// of a CCTV site.
//
// Articles follow the item catalogue of package policy (WG26-ITEMS for privacy policies, DEC-25-1
// for CCTV policies). For an item that registry data can state (sites, officers, files,
// processors, history) the text is generated from the version's snapshot and a section body, when
// given, is appended; an "only if applicable" item declared not_processed renders one sentence
// saying so; an item neither filled nor declared is left out (the completeness check refuses such
// versions before they are announced).
//
// Article bodies are a small Markdown subset: paragraphs, "- " list items (indented two spaces per
// level), "| a | b |" tables whose first row is the header, and [text](url) links. HTML renders the
// same text through html/template, so every piece of tenant text is escaped.
package render
