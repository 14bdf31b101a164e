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
//	          - archived: true
//	            effectiveDate: "2021-12-06"
//	            endDate: "2024-01-15"
//	            originalUrl: https://...
//	          - effectiveDate: "2024-01-16"
//	            sections: [ {item: review, body: "..."} ]
//
// Every entry other than the pipa keys (id, parent, officers, sites, files, processors, policies,
// kind, versions, archived) is decoded with protojson and unknown fields rejected, so a misspelt
// field is an error naming the file, its line, the unit and the field. Field names are the proto's
// lowerCamelCase JSON names and enums are given by name.
//
// References inside the file are short relative names resolved while parsing: a site's
// `manager: officers/<id>` and `processor: processors/<id>`, and a file's
// `processors: [processors/<id>]`, name an entry of the same unit; `units/<u>/officers/<id>` names
// one of another unit of the file. Each becomes a full resource name
// (tenants/{t}/units/{u}/officers/{id}); a reference to a missing id is an error.
//
// Policy versions are numbered from 1 in file order. Archived versions (older than pipa, kept with
// their period and link) carry their own endDate; other versions get theirs from the next version's
// effective date. A version with an announce or effective date is announced; one without is a draft.
package tenantfile
