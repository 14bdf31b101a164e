// Package tenantfile reads the YAML file a public body writes to load a tenant into pipa: the tenant,
// its units (departments, facilities) with their officers, CCTV sites, personal-information files,
// processors, and the version history of their published policies, and loads it through the
// registry's API (Import). `pipa import FILE`, the demo tenants of `make run`, the tests and the
// render golden tests all load tenants through it.
//
// # Format
//
//	tenant:              # registryv1.Tenant in protojson form, without name
//	  id: jeongeup       # the tenant id (slug); ids are pipa's, not fields of the messages
//	  displayName: 정읍시
//	  kind: TENANT_KIND_LOCAL_GOVERNMENT
//	  publicInstitution: true
//	units:               # parents before children
//	  - id: library
//	    parent: ""       # parent unit id; empty for a top-level unit
//	    displayName: 정읍시립도서관   # the rest of the unit: registryv1.Unit in protojson form
//	    officers:   [ {id: song-hyunsook, displayName: 송현숙, title: 소장, roles: [OFFICER_ROLE_CCTV_MANAGER]} ]
//	    sites:      [ {id: central, displayName: 중앙도서관, cameraCount: 27, manager: officers/song-hyunsook} ]
//	    files:      [ {id: members, displayName: 회원 관리, processors: [processors/kolas]} ]
//	    processors: [ {id: kolas, company: ...} ]
//	    policies:
//	      - kind: cctv   # or privacy
//	        versions:    # oldest first
//	          - effectiveDate: "2021-12-06"   # a version older than pipa: its period only
//	            endDate: "2024-01-15"
//	          - announceDate: "2024-01-09"
//	            effectiveDate: "2024-01-16"
//	            source: policies/jeongeup-library-cctv.md   # the text as published (.md, .html, .txt)
//	            articleItems: {제7조: [review]}  # items of articles whose titles do not name them
//
// Every entry other than the pipa keys (id, parent, officers, sites, files, processors, policies,
// kind, versions, source, articleItems) is decoded with protojson and unknown fields rejected, so a
// misspelt field is an error naming the file, its line, the unit and the field. Field names are the
// proto's lowerCamelCase JSON names and enums are given by name.
//
// References inside the file are short relative names resolved while parsing: a site's
// `manager: officers/<id>` and `processor: processors/<id>`, and a file's
// `processors: [processors/<id>]`, name an entry of the same unit; `units/<u>/officers/<id>` names
// one of another unit of the file. Each becomes a full resource name
// (tenants/{t}/units/{u}/officers/{id}); a reference to a missing id is an error.
//
// A version's text is the file named by source, relative to the tenant file: the body's own
// document, read by services/registry/document (Markdown, HTML or plain text, by extension) and
// imported as it is — its title, preamble, articles and attachments, with the {{…}} bindings of
// services/registry/render where the registry's facts go. The file is read while parsing, so a text
// pipa cannot read article by article fails with its own file and line before anything is loaded.
// The text's fields (preamble, articles, attachments, the document) are pipa's to set and refused
// here. A version without source is known by its period only (a version older than pipa whose text
// the body does not publish); it needs at least its effectiveDate or endDate.
//
// Policy versions are numbered from 1 in file order. A version's endDate, unless given, is the day
// before the next version's effective date. A version with an announce or effective date is
// announced (and, with a text, frozen as published when loaded); one without is a draft.
package tenantfile
