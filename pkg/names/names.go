// Package names is the one place that knows the shape of pipa's resource names (AIP-122), for
// every service: it parses a name a client sent, naming the field and the shape it breaks, and
// formats the names servers answer with, so that no service builds or splits a path by hand.
//
//	tenants/{tenant}
//	tenants/{tenant}/units/{unit}
//	tenants/{tenant}/units/{unit}/{officers|sites|files|processors|rules}/{slug}
//	tenants/{tenant}/units/{unit}/policies/{privacy|cctv}[/versions/{number}]
//	tenants/{tenant}/units/{unit}/requests/{receipt}[/notices/{number}]
//	tenants/{tenant}/units/{unit}/ledger[/checkpoint]
//	tenants/{tenant}/units/{unit}/ledger/entries/{index}
//	tenants/{tenant}/units/-/ledger[/…]    (the tenant's own log, TenantLog)
//	tenants/{tenant}/units/{unit}/{holds|items|plans|copies|sweeps}/{number}
//
// Ids clients choose are lower-case slugs; receipt numbers are R- (a data subject's request) or
// P- (another body's) with the year and a serial; ledger indexes count from 0, other numbers
// from 1. Page tokens (token.go) live here too: they are names of a position in a list.
package names

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/pipa-kr/pipa/pkg/apierr"
)

// slugPattern is every id a client chooses: a letter, then letters, digits or '-', not ending in
// '-', at most 63 characters (AIP-122), so that names are stable URL paths.
var slugPattern = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

// receiptPattern is a request's receipt number: R for a data subject's request, P for another
// body's provision request, then the year and a serial.
var receiptPattern = regexp.MustCompile(`^[RP]-\d{4}-\d{6,}$`)

// ValidID reports whether id is a slug a client may choose (a tenant, unit, site, rule, ...).
func ValidID(id string) bool { return slugPattern.MatchString(id) }

// ValidReceipt reports whether s is a receipt number, e.g. R-2026-000123.
func ValidReceipt(s string) bool { return receiptPattern.MatchString(s) }

// CheckID adds a violation of field unless id is a slug a client may choose.
func CheckID(vs *apierr.Violations, field, id string) {
	if !ValidID(id) {
		vs.Add(field, "format", "must be a lowercase slug (AIP-122): a letter, then letters, digits or '-', not ending in '-', at most 63 characters (got %q)", id)
	}
}

// Invalid is the error for name in field that is not of the form shape.
func Invalid(field, name, shape string) error {
	return apierr.Invalid(apierr.Violation{Field: field, Rule: "format",
		Description: "must be a resource name of the form " + shape + " (got \"" + name + "\")"})
}

// Tenant is a tenant's name.
func Tenant(tenant string) string { return "tenants/" + tenant }

// Unit is a unit's name, which is also its ledger's (log's) parent.
func Unit(tenant, unit string) string { return "tenants/" + tenant + "/units/" + unit }

// Ledger is the name of a unit's ledger (its log): the parent of its entries and checkpoint.
func Ledger(tenant, unit string) string { return Unit(tenant, unit) + "/ledger" }

// Checkpoint is the name of a unit's ledger's latest signed checkpoint (GetCheckpoint).
func Checkpoint(tenant, unit string) string { return Ledger(tenant, unit) + "/checkpoint" }

// TenantLog is the unit id of a tenant's own log: the records of the tenant that belong to no
// one unit, such as the roles its staff's tokens present (S-5). "-" is no unit's id (ids are
// slugs, UnitOf and ParseUnit reject it); it names one separate log, not AIP-159's wildcard:
// tenants/{t}/units/-/ledger/entries are that log's entries, not the union of the units'.
// Tenant "-" has one too: the log of the operators' grants on "*".
const TenantLog = "-"

// OperatorTenant is the tenant id under which what touches no one tenant is kept, such as the
// operators' grants on "*": its own log is tenants/-/units/-.
const OperatorTenant = "-"

// ParseLog parses the name of a log (a ledger's parent) in field: a unit's,
// tenants/{tenant}/units/{unit}, or a tenant's own, tenants/{tenant}/units/- (tenants/-/units/-
// for the operators').
func ParseLog(field, name string) (tenant, unit string, err error) {
	if t, u, err := ParseUnit(field, name); err == nil {
		return t, u, nil
	}
	if t, ok := strings.CutSuffix(strings.TrimPrefix(name, "tenants/"), "/units/"+TenantLog); ok &&
		strings.HasPrefix(name, "tenants/") && (ValidID(t) || t == TenantLog) {
		return t, TenantLog, nil
	}
	return "", "", Invalid(field, name, "tenants/{tenant}/units/{unit}, or tenants/{tenant}/units/- for the tenant's own log")
}

// ParseLogEntry parses the name of an entry of a log (see ParseLog) in field.
func ParseLogEntry(field, name string) (tenant, unit string, index int64, err error) {
	if t, u, i, err := Entries.ParseN(field, name); err == nil {
		return t, u, i, nil
	}
	log, n, ok := strings.Cut(name, "/"+Entries.path+"/")
	if t, u, err := ParseLog(field, log); ok && err == nil && u == TenantLog && validNumber(n, true) {
		index, _ = strconv.ParseInt(n, 10, 64)
		return t, u, index, nil
	}
	return "", "", 0, Invalid(field, name, Entries.Shape()+" (unit \"-\": the tenant's own log)")
}

// ParseTenant parses tenants/{tenant} in field.
func ParseTenant(field, name string) (string, error) {
	t, ok := strings.CutPrefix(name, "tenants/")
	if !ok || !ValidID(t) {
		return "", Invalid(field, name, "tenants/{tenant}")
	}
	return t, nil
}

// TenantResource is the name of a tenant's singleton resource, e.g. "ledgerSettings".
func TenantResource(tenant, resource string) string { return Tenant(tenant) + "/" + resource }

// ParseTenantResource parses tenants/{tenant}/{resource} in field, e.g. a tenant's ledgerSettings.
func ParseTenantResource(field, name, resource string) (string, error) {
	t, ok := strings.CutSuffix(strings.TrimPrefix(name, "tenants/"), "/"+resource)
	if !ok || !strings.HasPrefix(name, "tenants/") || !ValidID(t) {
		return "", Invalid(field, name, "tenants/{tenant}/"+resource)
	}
	return t, nil
}

// ParseUnit parses tenants/{tenant}/units/{unit} in field.
func ParseUnit(field, name string) (tenant, unit string, err error) {
	p := strings.Split(name, "/")
	if !unitPrefix(p) || len(p) != 4 {
		return "", "", Invalid(field, name, "tenants/{tenant}/units/{unit}")
	}
	return p[1], p[3], nil
}

// ParseScope reads a name that is a tenant (unit "") or one of its units: the parent of the
// lists that cover either, such as the obligations.
func ParseScope(field, name string) (tenant, unit string, err error) {
	if t, u, err := ParseUnit(field, name); err == nil {
		return t, u, nil
	}
	if t, err := ParseTenant(field, name); err == nil {
		return t, "", nil
	}
	return "", "", Invalid(field, name, "tenants/{tenant} or tenants/{tenant}/units/{unit}")
}

// UnitOf is the tenant and unit of any name in a unit, tenants/{tenant}/units/{unit}[/…].
func UnitOf(name string) (tenant, unit string, ok bool) {
	p := strings.SplitN(name, "/", 5)
	if !unitPrefix(p) {
		return "", "", false
	}
	return p[1], p[3], true
}

// unitPrefix reports whether p starts with tenants/{tenant}/units/{unit}.
func unitPrefix(p []string) bool {
	return len(p) >= 4 && p[0] == "tenants" && ValidID(p[1]) && p[2] == "units" && ValidID(p[3])
}

// idKind is how the ids of a collection look.
type idKind int

const (
	slugs    idKind = iota // chosen by clients
	serials                // 1, 2, 3, ... given by the service
	indexes                // 0, 1, 2, ... a ledger's entries
	receipts               // R-2026-000123
)

// Collection is a kind of resource that lives in a unit.
type Collection struct {
	path, id string // e.g. "ledger/entries", "{index}"
	kind     idKind
}

// The collections of a unit.
var (
	Officers   = Collection{"officers", "{officer}", slugs}
	Sites      = Collection{"sites", "{site}", slugs}
	Files      = Collection{"files", "{file}", slugs}
	Processors = Collection{"processors", "{processor}", slugs}
	Requests   = Collection{"requests", "{receipt}", receipts}
	Entries    = Collection{"ledger/entries", "{index}", indexes}
	Rules      = Collection{"rules", "{rule}", slugs}
	Holds      = Collection{"holds", "{hold}", serials}
	Items      = Collection{"items", "{item}", serials}
	Plans      = Collection{"plans", "{plan}", serials}
	Copies     = Collection{"copies", "{copy}", serials}
	Sweeps     = Collection{"sweeps", "{sweep}", serials}
	Breaches   = Collection{"breaches", "{breach}", serials}
	// The registry's registers (impact assessments; 보호수준 평가 by year).
	Assessments = Collection{"assessments", "{assessment}", slugs}
	Evaluations = Collection{"evaluations", "{year}", serials}
	// Outsourcing contracts, one per processor: the processor's id.
	Contracts = Collection{"contracts", "{processor}", slugs}
	// Internal management plans (S-4).
	InternalPlans = Collection{"internalPlans", "{plan}", slugs}
)

// Numbered is a collection numbered 1, 2, 3, ... under a member of a unit's collection: a file's
// registration events, a contract's notices.
type Numbered struct {
	parent Collection
	path   string
}

// The numbered collections.
var (
	// A file's registration events (PIPA 32).
	Registrations = Numbered{Files, "registrations"}
	// The notices to subjects of a contract's marketing task (PIPA-26-3).
	Notices = Numbered{Contracts, "notices"}
)

// ParentPath is the parent collection's segment, e.g. "files".
func (c Numbered) ParentPath() string { return c.parent.path }

// Name is the name of the nth member under parent (a name of c's parent collection).
func (c Numbered) Name(parent string, n int64) string {
	return parent + "/" + c.path + "/" + strconv.FormatInt(n, 10)
}

// Parse parses a member's name in field: its tenant, unit, parent's id and number.
func (c Numbered) Parse(field, name string) (tenant, unit, parent string, n int64, err error) {
	p, num, ok := strings.Cut(name, "/"+c.path+"/")
	if t, u, id, ok2 := c.parent.split(p); ok && ok2 && validNumber(num, false) {
		n, _ = strconv.ParseInt(num, 10, 64)
		return t, u, id, n, nil
	}
	return "", "", "", 0, Invalid(field, name, c.parent.Shape()+"/"+c.path+"/{n}")
}

// Path is the collection's segment(s) in a name, e.g. "sites" or "ledger/entries".
func (c Collection) Path() string { return c.path }

// Shape is the form of the collection's names, for messages.
func (c Collection) Shape() string { return "tenants/{tenant}/units/{unit}/" + c.path + "/" + c.id }

// Name is the name of id in the unit's collection.
func (c Collection) Name(tenant, unit, id string) string {
	return Unit(tenant, unit) + "/" + c.path + "/" + id
}

// NameN is Name for a numbered collection.
func (c Collection) NameN(tenant, unit string, n int64) string {
	return c.Name(tenant, unit, strconv.FormatInt(n, 10))
}

// Parse parses a member's name in field.
func (c Collection) Parse(field, name string) (tenant, unit, id string, err error) {
	tenant, unit, id, ok := c.split(name)
	if !ok {
		return "", "", "", Invalid(field, name, c.Shape())
	}
	return tenant, unit, id, nil
}

// ParseN parses a member's name in field, for a numbered collection.
func (c Collection) ParseN(field, name string) (tenant, unit string, n int64, err error) {
	tenant, unit, id, err := c.Parse(field, name)
	if err != nil {
		return "", "", 0, err
	}
	n, _ = strconv.ParseInt(id, 10, 64) // split checked it
	return tenant, unit, n, nil
}

// Of returns the id of name when it is a member of the tenant's unit's collection.
func (c Collection) Of(tenant, unit, name string) (string, bool) {
	t, u, id, ok := c.split(name)
	return id, ok && t == tenant && u == unit
}

// In reports whether name is a member of the tenant's unit's collection.
func (c Collection) In(tenant, unit, name string) bool {
	_, ok := c.Of(tenant, unit, name)
	return ok
}

func (c Collection) split(name string) (tenant, unit, id string, ok bool) {
	p := strings.Split(name, "/")
	if !unitPrefix(p) {
		return "", "", "", false
	}
	rest, found := strings.CutPrefix(strings.Join(p[4:], "/"), c.path+"/")
	if !found || !c.valid(rest) {
		return "", "", "", false
	}
	return p[1], p[3], rest, true
}

func (c Collection) valid(id string) bool {
	switch c.kind {
	case slugs:
		return ValidID(id)
	case receipts:
		return ValidReceipt(id)
	}
	return validNumber(id, c.kind == indexes)
}

// validNumber: a decimal int64 without sign or leading zeros, 0 only when zero is allowed.
func validNumber(s string, zero bool) bool {
	n, err := strconv.ParseInt(s, 10, 64)
	return err == nil && strconv.FormatInt(n, 10) == s && (n > 0 || (zero && n == 0))
}

// TenantCollection is a kind of resource that lives in a tenant, outside its units.
type TenantCollection struct {
	path, id string // e.g. "attestations", "{attestation}"
	kind     idKind
}

// The collections of a tenant.
var (
	Attestations  = TenantCollection{"attestations", "{attestation}", slugs}
	Subscriptions = TenantCollection{"subscriptions", "{subscription}", slugs}
)

// Shape is the form of the collection's names, for messages.
func (c TenantCollection) Shape() string { return "tenants/{tenant}/" + c.path + "/" + c.id }

// Name is the name of id in the tenant's collection.
func (c TenantCollection) Name(tenant, id string) string {
	return Tenant(tenant) + "/" + c.path + "/" + id
}

// Parse parses a member's name in field.
func (c TenantCollection) Parse(field, name string) (tenant, id string, err error) {
	p := strings.Split(name, "/")
	if len(p) != 4 || p[0] != "tenants" || !ValidID(p[1]) || p[2] != c.path ||
		!(Collection{kind: c.kind}).valid(p[3]) {
		return "", "", Invalid(field, name, c.Shape())
	}
	return p[1], p[3], nil
}

// PolicyKinds are the policies a unit publishes, as their names spell them.
var PolicyKinds = []string{"privacy", "cctv"}

const (
	policyShape  = "tenants/{tenant}/units/{unit}/policies/{privacy|cctv}"
	versionShape = policyShape + "/versions/{number}"
	noticeShape  = "tenants/{tenant}/units/{unit}/requests/{receipt}/notices/{number}"
)

// Policy is the name of a unit's policy of kind ("privacy" or "cctv").
func Policy(tenant, unit, kind string) string { return Unit(tenant, unit) + "/policies/" + kind }

// Version is the name of version n of a unit's policy of kind.
func Version(tenant, unit, kind string, n int32) string {
	return Policy(tenant, unit, kind) + "/versions/" + strconv.Itoa(int(n))
}

// ParsePolicy parses tenants/{tenant}/units/{unit}/policies/{kind} in field.
func ParsePolicy(field, name string) (tenant, unit, kind string, err error) {
	p := strings.Split(name, "/")
	if !unitPrefix(p) || len(p) != 6 || p[4] != "policies" || !validKind(p[5]) {
		return "", "", "", Invalid(field, name, policyShape)
	}
	return p[1], p[3], p[5], nil
}

// ParseVersion parses tenants/{tenant}/units/{unit}/policies/{kind}/versions/{number} in field.
func ParseVersion(field, name string) (tenant, unit, kind string, n int32, err error) {
	p := strings.Split(name, "/")
	if !unitPrefix(p) || len(p) != 8 || p[4] != "policies" || !validKind(p[5]) || p[6] != "versions" ||
		!validNumber(p[7], false) {
		return "", "", "", 0, Invalid(field, name, versionShape)
	}
	v, err := strconv.ParseInt(p[7], 10, 32)
	if err != nil {
		return "", "", "", 0, Invalid(field, name, versionShape)
	}
	return p[1], p[3], p[5], int32(v), nil
}

func validKind(k string) bool {
	for _, kind := range PolicyKinds {
		if k == kind {
			return true
		}
	}
	return false
}

// Notice is the name of notice n of a request.
func Notice(request string, n int) string { return NoticeOf(request, strconv.Itoa(n)) }

// NoticeOf is the name a route's path values spell for a request's notice, number as the path
// gives it: not yet checked, so parse it with ParseNotice before use.
func NoticeOf(request, number string) string { return request + "/notices/" + number }

// ParseNotice parses tenants/{tenant}/units/{unit}/requests/{receipt}/notices/{number} in field and
// returns its request's name and parts.
func ParseNotice(field, name string) (request, tenant, unit, receipt string, n int, err error) {
	i := strings.LastIndex(name, "/notices/")
	if i < 0 || !validNumber(name[i+len("/notices/"):], false) {
		return "", "", "", "", 0, Invalid(field, name, noticeShape)
	}
	request = name[:i]
	if tenant, unit, receipt, err = Requests.Parse(field, request); err != nil {
		return "", "", "", "", 0, Invalid(field, name, noticeShape)
	}
	n, _ = strconv.Atoi(name[i+len("/notices/"):])
	return request, tenant, unit, receipt, n, nil
}

// Last is the last segment of a name: the id of what it names.
func Last(name string) string { return name[strings.LastIndex(name, "/")+1:] }
