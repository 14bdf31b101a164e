package render

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
)

// Facts are what a version's bindings and links read: its frozen snapshot, its own dates, and the
// numbers of the policy's published versions, which "version:N" links may name.
type Facts struct {
	Snapshot *registryv1.UnitSnapshot
	Version  *registryv1.PolicyVersion
	Versions []int32
}

func (f Facts) tenantID() string { return names.Last(f.Snapshot.GetTenant().GetName()) }
func (f Facts) unitID() string   { return names.Last(f.Snapshot.GetUnit().GetName()) }

// A binding: {{ref.field…}} or {{ref.field…|separator}}.
//
//	ref  site, camera, officer[cpo,access_authorized], …   one row per element (the line repeats)
//	     site/main, officer/cpo, officer/city/cpo, attestation/children   one resource
//	     sites, cameras, officers, …                          distinct values over all of them
//	     unit, tenant, version                                the version's unit, tenant, itself
type binding struct {
	raw    string
	mode   int // one of the modes below
	coll   *collection
	filter []string
	ids    []string
	single string
	steps  []step
	sep    string
}

const (
	modeRow = iota
	modeOne
	modeAll
	modeSingle
)

type step struct {
	field string
	index int // -1 when the step has no [i]
}

// collection is a kind of registry fact a binding iterates over.
type collection struct {
	name, plural string
	// elems lists the elements, within the element of an enclosing row where that scopes them
	// (a site's cameras).
	elems func(f Facts, env rowEnv, filter []string) ([]protoreflect.Message, error)
	// byID finds one element by its id (the last segment of its name), nil when not addressable.
	byID func(f Facts, ids []string) (protoreflect.Message, error)
}

// rowEnv holds the elements of the rows being repeated, by collection name.
type rowEnv map[string]protoreflect.Message

func msgs[M interface{ ProtoReflect() protoreflect.Message }](ms []M) []protoreflect.Message {
	out := make([]protoreflect.Message, len(ms))
	for i, m := range ms {
		out[i] = m.ProtoReflect()
	}
	return out
}

// within lists the children of the enclosing parent element, or those of every element.
func within[P, C interface{ ProtoReflect() protoreflect.Message }](env rowEnv, parent string, all []P, children func(P) []C) []protoreflect.Message {
	var out []protoreflect.Message
	for _, p := range all {
		if e, ok := env[parent]; ok && e.Interface() != p.ProtoReflect().Interface() {
			continue
		}
		out = append(out, msgs(children(p))...)
	}
	return out
}

func named[M interface {
	ProtoReflect() protoreflect.Message
	GetName() string
}](what string, ms []M, ids []string) (protoreflect.Message, error) {
	var found []M
	for _, m := range ms {
		n := m.GetName()
		switch len(ids) {
		case 1:
			if names.Last(n) == ids[0] {
				found = append(found, m)
			}
		case 2:
			if strings.HasSuffix(n, "/units/"+ids[0]+"/"+what+"s/"+ids[1]) {
				found = append(found, m)
			}
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("no %s %q in the unit's data", what, strings.Join(ids, "/"))
	case 1:
		return found[0].ProtoReflect(), nil
	}
	return nil, fmt.Errorf("%d %ss are called %q; name the unit too: %s/<unit>/<id>", len(found), what, ids[0], what)
}

var roleNames = map[string]registryv1.OfficerRole{
	"cpo": registryv1.OfficerRole_OFFICER_ROLE_CPO, "cctv_manager": registryv1.OfficerRole_OFFICER_ROLE_CCTV_MANAGER,
	"access_authorized": registryv1.OfficerRole_OFFICER_ROLE_ACCESS_AUTHORIZED, "handler": registryv1.OfficerRole_OFFICER_ROLE_HANDLER,
	"privacy_staff": registryv1.OfficerRole_OFFICER_ROLE_PRIVACY_STAFF, "complaints": registryv1.OfficerRole_OFFICER_ROLE_COMPLAINTS,
}

// roleTerms are the statutory terms of the roles, which {{officer.role}} shows where an officer
// has no published label of its own.
var roleTerms = map[registryv1.OfficerRole]string{
	registryv1.OfficerRole_OFFICER_ROLE_CPO:               "개인정보 보호책임자",
	registryv1.OfficerRole_OFFICER_ROLE_CCTV_MANAGER:      "관리책임자",
	registryv1.OfficerRole_OFFICER_ROLE_ACCESS_AUTHORIZED: "접근권한자",
	registryv1.OfficerRole_OFFICER_ROLE_HANDLER:           "업무처리자",
	registryv1.OfficerRole_OFFICER_ROLE_PRIVACY_STAFF:     "개인정보 보호 담당자",
	registryv1.OfficerRole_OFFICER_ROLE_COMPLAINTS:        "고충처리 담당자",
}

var collections = []*collection{
	{name: "site", plural: "sites",
		elems: func(f Facts, _ rowEnv, _ []string) ([]protoreflect.Message, error) {
			return msgs(f.Snapshot.GetSites()), nil
		},
		byID: func(f Facts, ids []string) (protoreflect.Message, error) {
			return named("site", f.Snapshot.GetSites(), ids)
		}},
	{name: "camera", plural: "cameras",
		elems: func(f Facts, env rowEnv, _ []string) ([]protoreflect.Message, error) {
			return within(env, "site", f.Snapshot.GetSites(), (*registryv1.Site).GetCameras), nil
		}},
	{name: "zone", plural: "zones",
		elems: func(f Facts, env rowEnv, _ []string) ([]protoreflect.Message, error) {
			return within(env, "site", f.Snapshot.GetSites(), (*registryv1.Site).GetZoneRetentions), nil
		}},
	{name: "purpose", plural: "purposes",
		elems: func(f Facts, env rowEnv, _ []string) ([]protoreflect.Message, error) {
			// The same purpose of several sites is one purpose of the unit.
			var out []protoreflect.Message
			var seen []string
			for _, p := range within(env, "site", f.Snapshot.GetSites(), (*registryv1.Site).GetPurposes) {
				d := p.Interface().(*registryv1.SitePurpose).GetDescription()
				if !slices.Contains(seen, d) {
					seen = append(seen, d)
					out = append(out, p)
				}
			}
			return out, nil
		}},
	{name: "officer", plural: "officers",
		elems: func(f Facts, _ rowEnv, filter []string) ([]protoreflect.Message, error) {
			var roles []registryv1.OfficerRole
			for _, r := range filter {
				role, ok := roleNames[r]
				if !ok {
					return nil, fmt.Errorf("unknown role %q: want %s", r, strings.Join(sortedKeys(roleNames), ", "))
				}
				roles = append(roles, role)
			}
			var out []protoreflect.Message
			for _, o := range f.Snapshot.GetOfficers() {
				if len(roles) == 0 || slices.ContainsFunc(o.GetRoles(), func(r registryv1.OfficerRole) bool { return slices.Contains(roles, r) }) {
					out = append(out, o.ProtoReflect())
				}
			}
			return out, nil
		},
		byID: func(f Facts, ids []string) (protoreflect.Message, error) {
			return named("officer", f.Snapshot.GetOfficers(), ids)
		}},
	{name: "processor", plural: "processors",
		elems: func(f Facts, _ rowEnv, _ []string) ([]protoreflect.Message, error) {
			return msgs(f.Snapshot.GetProcessors()), nil
		},
		byID: func(f Facts, ids []string) (protoreflect.Message, error) {
			return named("processor", f.Snapshot.GetProcessors(), ids)
		}},
	// PIPA-26-2, PIPA-26-6: the sub-processors the contracts record with the body's consent;
	// within a processor's row, that processor's.
	{name: "subprocessor", plural: "subprocessors",
		elems: func(f Facts, env rowEnv, _ []string) ([]protoreflect.Message, error) {
			var out []protoreflect.Message
			for _, sp := range f.Snapshot.GetSubprocessors() {
				if p, ok := env["processor"]; ok && p.Interface().(*registryv1.Processor).GetName() != sp.GetProcessor() {
					continue
				}
				out = append(out, sp.ProtoReflect())
			}
			return out, nil
		}},
	{name: "file", plural: "files",
		elems: func(f Facts, _ rowEnv, _ []string) ([]protoreflect.Message, error) {
			return msgs(f.Snapshot.GetFiles()), nil
		},
		byID: func(f Facts, ids []string) (protoreflect.Message, error) {
			return named("file", f.Snapshot.GetFiles(), ids)
		}},
	// PIPA 33, PIPA-11의2: the assessments and evaluations the body publishes (the snapshot holds
	// no other); an evaluation's id is its year.
	{name: "assessment", plural: "assessments",
		elems: func(f Facts, _ rowEnv, _ []string) ([]protoreflect.Message, error) {
			return msgs(f.Snapshot.GetAssessments()), nil
		},
		byID: func(f Facts, ids []string) (protoreflect.Message, error) {
			return named("assessment", f.Snapshot.GetAssessments(), ids)
		}},
	{name: "evaluation", plural: "evaluations",
		elems: func(f Facts, _ rowEnv, _ []string) ([]protoreflect.Message, error) {
			return msgs(f.Snapshot.GetEvaluations()), nil
		},
		byID: func(f Facts, ids []string) (protoreflect.Message, error) {
			return named("evaluation", f.Snapshot.GetEvaluations(), ids)
		}},
	// PIPA-32-1: a file's PIPC registration as filed; its id is the file's.
	{name: "registration", plural: "registrations",
		elems: func(f Facts, _ rowEnv, _ []string) ([]protoreflect.Message, error) {
			return msgs(f.Snapshot.GetRegistrations()), nil
		},
		byID: func(f Facts, ids []string) (protoreflect.Message, error) {
			return named("file", f.Snapshot.GetRegistrations(), ids)
		}},
	{name: "recipient", plural: "recipients",
		elems: func(f Facts, env rowEnv, _ []string) ([]protoreflect.Message, error) {
			return within(env, "file", f.Snapshot.GetFiles(), (*registryv1.PersonalInformationFile).GetRecipients), nil
		}},
	{name: "attestation", plural: "attestations",
		elems: func(f Facts, _ rowEnv, _ []string) ([]protoreflect.Message, error) {
			return msgs(f.Snapshot.GetAttestations()), nil
		},
		byID: func(f Facts, ids []string) (protoreflect.Message, error) {
			for _, a := range f.Snapshot.GetAttestations() {
				if len(ids) == 1 && a.GetItem() == ids[0] {
					return a.ProtoReflect(), nil
				}
			}
			return nil, fmt.Errorf("no attestation of the unit about item %q", strings.Join(ids, "/"))
		}},
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

var bindingRE = regexp.MustCompile(`\{\{([^{}]*)\}\}`)

var refRE = regexp.MustCompile(`^([a-z]+)(?:\[([a-z_,]+)\])?((?:/[a-z0-9][a-z0-9_-]*){0,2})$`)

// parseBinding reads the inside of {{…}}.
func parseBinding(raw string) (*binding, error) {
	path, sep, hasSep := strings.Cut(raw, "|")
	path = strings.TrimSpace(path)
	b := &binding{raw: raw, sep: "\n"}
	if hasSep {
		b.sep = sep
	}
	parts := strings.Split(path, ".")
	m := refRE.FindStringSubmatch(parts[0])
	if m == nil {
		return nil, fmt.Errorf("{{%s}}: want {{collection.field}}, {{collection/id.field}}, {{collections.field}} or {{version.field}}", raw)
	}
	name, filter, ids := m[1], m[2], strings.TrimPrefix(m[3], "/")
	for _, st := range parts[1:] {
		s := step{field: st, index: -1}
		if f, idx, ok := strings.Cut(st, "["); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(idx, "]"))
			if err != nil || !strings.HasSuffix(idx, "]") || n < 0 {
				return nil, fmt.Errorf("{{%s}}: %q: an index is [0], [1], …", raw, st)
			}
			s = step{field: f, index: n}
		}
		if s.field == "" {
			return nil, fmt.Errorf("{{%s}}: empty field name", raw)
		}
		b.steps = append(b.steps, s)
	}
	if len(b.steps) == 0 && name != "attestation" {
		return nil, fmt.Errorf("{{%s}}: name a field, e.g. {{%s.displayName}}", raw, name)
	}
	if filter != "" {
		b.filter = strings.Split(filter, ",")
	}
	switch name {
	case "unit", "tenant", "version":
		if filter != "" || ids != "" {
			return nil, fmt.Errorf("{{%s}}: %s is the version's own; it takes no id or filter", raw, name)
		}
		b.mode, b.single = modeSingle, name
		return b, nil
	}
	for _, c := range collections {
		switch name {
		case c.name:
			b.coll = c
			if ids == "" {
				b.mode = modeRow
			} else {
				if c.byID == nil {
					return nil, fmt.Errorf("{{%s}}: a %s has no id of its own; reach it from its parent, e.g. site/<id>.%ss[0]", raw, c.name, c.name)
				}
				if filter != "" {
					return nil, fmt.Errorf("{{%s}}: a filter selects rows, not one %s", raw, c.name)
				}
				b.mode, b.ids = modeOne, strings.Split(ids, "/")
			}
		case c.plural:
			if ids != "" {
				return nil, fmt.Errorf("{{%s}}: %s are all of them; for one write %s/<id>", raw, c.plural, c.name)
			}
			b.coll, b.mode = c, modeAll
		default:
			continue
		}
		if filter != "" && c.name != "officer" {
			return nil, fmt.Errorf("{{%s}}: only officers are filtered (by role)", raw)
		}
		if b.mode == modeOne && len(b.steps) == 0 && c.name == "attestation" {
			b.steps = []step{{field: "statement", index: -1}}
		}
		if len(b.steps) == 0 {
			return nil, fmt.Errorf("{{%s}}: name a field", raw)
		}
		return b, nil
	}
	return nil, fmt.Errorf("{{%s}}: unknown %q: want one of %s, or unit, tenant, version", raw, name, collectionNames())
}

func collectionNames() string {
	var ns []string
	for _, c := range collections {
		ns = append(ns, c.name, c.plural)
	}
	return strings.Join(ns, ", ")
}

// key is the repetition a row binding asks for, e.g. "officer[cpo]".
func (b *binding) key() string {
	if len(b.filter) == 0 {
		return b.coll.name
	}
	return b.coll.name + "[" + strings.Join(b.filter, ",") + "]"
}

// values resolves the binding to its lines of text.
func (b *binding) values(f Facts, env rowEnv) ([]string, error) {
	switch b.mode {
	case modeSingle:
		var m protoreflect.Message
		switch b.single {
		case "unit":
			m = f.Snapshot.GetUnit().ProtoReflect()
		case "tenant":
			m = f.Snapshot.GetTenant().ProtoReflect()
		case "version":
			m = f.Version.ProtoReflect()
		}
		return fieldValues(m, b.steps)
	case modeOne:
		m, err := b.coll.byID(f, b.ids)
		if err != nil {
			return nil, err
		}
		return fieldValues(m, b.steps)
	case modeRow:
		m, ok := env[b.coll.name]
		if !ok {
			return nil, fmt.Errorf("{{%s}} is not in a repeating row", b.raw)
		}
		return fieldValues(m, b.steps)
	}
	// modeAll: the distinct values over every element.
	all, err := b.coll.elems(f, env, nil)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range all {
		vs, err := fieldValues(m, b.steps)
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			if v != "" && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out, nil
}

// fieldValues follows steps from m by the fields' JSON names, ending on a scalar or a list of them.
func fieldValues(m protoreflect.Message, steps []step) ([]string, error) {
	for i, st := range steps {
		if o, ok := m.Interface().(*registryv1.Officer); ok && st.field == "role" && i == len(steps)-1 {
			return []string{officerRole(o)}, nil
		}
		fd := m.Descriptor().Fields().ByJSONName(st.field)
		if fd == nil {
			return nil, fmt.Errorf("%s has no field %q", m.Descriptor().Name(), st.field)
		}
		last := i == len(steps)-1
		switch {
		case fd.IsList() && fd.Message() != nil:
			if st.index < 0 {
				return nil, fmt.Errorf("%s.%s is a list: pick one with [0], [1], …", m.Descriptor().Name(), st.field)
			}
			l := m.Get(fd).List()
			if st.index >= l.Len() {
				return nil, fmt.Errorf("%s.%s has %d entries, no [%d]", m.Descriptor().Name(), st.field, l.Len(), st.index)
			}
			m = l.Get(st.index).Message()
		case fd.Message() != nil:
			m = m.Get(fd).Message()
		case !last:
			return nil, fmt.Errorf("%s.%s is a value, not a message", m.Descriptor().Name(), st.field)
		case fd.IsList():
			l := m.Get(fd).List()
			var out []string
			for j := range l.Len() {
				s, err := scalar(fd, l.Get(j))
				if err != nil {
					return nil, err
				}
				out = append(out, s)
			}
			return out, nil
		default:
			if fd.HasPresence() && !m.Has(fd) {
				return []string{""}, nil
			}
			s, err := scalar(fd, m.Get(fd))
			return []string{s}, err
		}
		if last {
			return nil, fmt.Errorf("%s is a message: name one of its fields", st.field)
		}
	}
	return nil, fmt.Errorf("no field named")
}

var isoDate = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

func scalar(fd protoreflect.FieldDescriptor, v protoreflect.Value) (string, error) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		s := v.String()
		if strings.HasSuffix(fd.JSONName(), "Date") && isoDate.MatchString(s) {
			return Date(s), nil
		}
		return s, nil
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return strconv.FormatInt(v.Int(), 10), nil
	}
	return "", fmt.Errorf("%s is not text or a number", fd.JSONName())
}

func officerRole(o *registryv1.Officer) string {
	if l := o.GetRoleLabel(); l != "" {
		return l
	}
	for _, r := range o.GetRoles() {
		if t := roleTerms[r]; t != "" {
			return t
		}
	}
	return ""
}
