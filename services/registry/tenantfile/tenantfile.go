package tenantfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"gopkg.in/yaml.v3"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/registry/document"
	"github.com/pipa-kr/pipa/services/registry/policy"
)

// File is a parsed tenant file. Every message has its full resource name set.
type File struct {
	Tenant TenantEntry
	// Units in file order, which puts parents before children.
	Units []UnitEntry
}

// TenantEntry is the tenant of a file.
type TenantEntry struct {
	ID     string
	Tenant *registryv1.Tenant
}

// UnitEntry is one unit and everything it owns.
type UnitEntry struct {
	ID string
	// Parent is the parent unit's id, empty for a top-level unit.
	Parent     string
	Unit       *registryv1.Unit
	Officers   []Officer
	Sites      []Site
	Files      []InfoFile
	Processors []Processor
	Policies   []PolicyEntry
	// The registers (LAW.md 9c): impact assessments and 보호수준 평가 kept by this unit.
	Assessments []Assessment
	Evaluations []*registryv1.ProtectionEvaluation
}

// Assessment is an impact assessment of a unit with its id; its files are resolved names.
type Assessment struct {
	ID         string
	Assessment *registryv1.ImpactAssessment
}

// Officer is an officer of a unit with its id.
type Officer struct {
	ID      string
	Officer *registryv1.Officer
}

// Site is a CCTV site of a unit with its id.
type Site struct {
	ID   string
	Site *registryv1.Site
}

// InfoFile is a personal-information file (개인정보파일) of a unit with its id.
type InfoFile struct {
	ID   string
	File *registryv1.PersonalInformationFile
	// Registrations are the file's registration events with PIPC (PIPA 32), oldest first.
	Registrations []*registryv1.Registration
}

// Processor is a processor (수탁업체) of a unit with its id.
type Processor struct {
	ID        string
	Processor *registryv1.Processor
}

// PolicyEntry is the version history of one of a unit's policies.
type PolicyEntry struct {
	Kind registryv1.PolicyKind
	// Versions oldest first, numbered from 1.
	Versions []VersionEntry
}

// VersionEntry is one policy version: its dates, and its text as published when the file gives it.
type VersionEntry struct {
	Version *registryv1.PolicyVersion
	// Source is the version's text (the file named by "source"), nil for a version known by its
	// period only.
	Source *registryv1.PolicySource
	// ArticleItems name the statutory items of articles whose titles do not.
	ArticleItems []*registryv1.ArticleItems
}

// Load reads and parses a tenant file.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, path)
}

// Unit returns the unit with the given id, or nil.
func (f *File) Unit(id string) *UnitEntry {
	for i := range f.Units {
		if f.Units[i].ID == id {
			return &f.Units[i]
		}
	}
	return nil
}

// Policy returns the unit's policy of a kind, or nil.
func (u *UnitEntry) Policy(kind registryv1.PolicyKind) *PolicyEntry {
	for i := range u.Policies {
		if u.Policies[i].Kind == kind {
			return &u.Policies[i]
		}
	}
	return nil
}

// Snapshot builds the snapshot of a unit and its whole subtree, as the registry freezes it into a
// policy version: sub-units in tree order, and the officers, sites, files and processors of the unit
// and of every descendant. The messages are copies. It returns nil for an unknown unit.
func (f *File) Snapshot(unitID string) *registryv1.UnitSnapshot {
	root := f.Unit(unitID)
	if root == nil {
		return nil
	}
	snap := &registryv1.UnitSnapshot{
		Tenant: proto.CloneOf(f.Tenant.Tenant),
		Unit:   proto.CloneOf(root.Unit),
	}
	var walk func(u *UnitEntry)
	walk = func(u *UnitEntry) {
		for _, o := range u.Officers {
			snap.Officers = append(snap.Officers, proto.CloneOf(o.Officer))
		}
		for _, s := range u.Sites {
			snap.Sites = append(snap.Sites, proto.CloneOf(s.Site))
		}
		for _, fi := range u.Files {
			snap.Files = append(snap.Files, proto.CloneOf(fi.File))
		}
		for _, p := range u.Processors {
			snap.Processors = append(snap.Processors, proto.CloneOf(p.Processor))
		}
		for i := range f.Units {
			if c := &f.Units[i]; c.Parent == u.ID {
				snap.Subunits = append(snap.Subunits, proto.CloneOf(c.Unit))
				walk(c)
			}
		}
	}
	walk(root)
	return snap
}

// slugRE is the id syntax of resource names (AIP-122 style).
var slugRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Parse parses a tenant file; filename is used in error messages only.
func Parse(data []byte, filename string) (*File, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", filename, err)
	}
	p := &parser{filename: filename, ids: map[string]bool{}}
	f, err := p.file(&doc)
	if err != nil {
		return nil, err
	}
	if err := p.resolve(); err != nil {
		return nil, err
	}
	return f, nil
}

type parser struct {
	filename string
	tenant   string
	// ids holds the full resource names defined so far, for reference checks.
	ids  map[string]bool
	refs []ref
}

// ref is a relative reference waiting for every unit to be read.
type ref struct {
	line    int
	where   string
	unit    string           // id of the unit the reference is written in
	kind    names.Collection // Officers or Processors
	value   string
	resolve func(name string)
}

func (p *parser) errorf(n *yaml.Node, where, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	msg := fmt.Sprintf(format, args...)
	if where != "" {
		msg = where + ": " + msg
	}
	return fmt.Errorf("%s:%d: %s", p.filename, line, msg)
}

func (p *parser) file(doc *yaml.Node) (*File, error) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, p.errorf(doc, "", "empty tenant file")
	}
	top, err := p.object(doc.Content[0], "")
	if err != nil {
		return nil, err
	}
	tn := top.take("tenant")
	un := top.take("units")
	if err := p.empty(top, "file", "tenant, units"); err != nil {
		return nil, err
	}
	if tn == nil {
		return nil, p.errorf(doc.Content[0], "", "missing tenant")
	}
	f := &File{}
	if f.Tenant, err = p.tenantEntry(tn); err != nil {
		return nil, err
	}
	units, err := p.list(un, "units")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, n := range units {
		u, err := p.unit(n, seen)
		if err != nil {
			return nil, err
		}
		seen[u.ID] = true
		f.Units = append(f.Units, u)
	}
	return f, nil
}

func (p *parser) tenantEntry(n *yaml.Node) (TenantEntry, error) {
	o, err := p.object(n, "tenant")
	if err != nil {
		return TenantEntry{}, err
	}
	id, err := p.id(o, "tenant")
	if err != nil {
		return TenantEntry{}, err
	}
	p.tenant = id
	t := &registryv1.Tenant{}
	if err := p.unmarshal(o, "tenant", t); err != nil {
		return TenantEntry{}, err
	}
	t.Name = names.Tenant(id)
	return TenantEntry{ID: id, Tenant: t}, nil
}

func (p *parser) unit(n *yaml.Node, seen map[string]bool) (UnitEntry, error) {
	o, err := p.object(n, "unit")
	if err != nil {
		return UnitEntry{}, err
	}
	uid, err := p.id(o, "unit")
	if err != nil {
		return UnitEntry{}, err
	}
	where := fmt.Sprintf("unit %q", uid)
	if seen[uid] {
		return UnitEntry{}, p.errorf(n, where, "duplicate unit id")
	}
	parentNode := o.take("parent")
	parent, err := p.scalar(parentNode, where, "parent")
	if err != nil {
		return UnitEntry{}, err
	}
	if parent != "" && !seen[parent] {
		return UnitEntry{}, p.errorf(parentNode, where, "parent %q is not a unit defined above it", parent)
	}
	officers, sites := o.take("officers"), o.take("sites")
	files, processors, policies := o.take("files"), o.take("processors"), o.take("policies")
	assessments, evaluations := o.take("assessments"), o.take("evaluations")

	name := names.Unit(p.tenant, uid)
	u := UnitEntry{ID: uid, Parent: parent, Unit: &registryv1.Unit{}}
	if err := p.unmarshal(o, where, u.Unit); err != nil {
		return UnitEntry{}, err
	}
	u.Unit.Name = name
	if parent != "" {
		u.Unit.Parent = names.Unit(p.tenant, parent)
	}

	// Each collection: read the id, resolve references, decode the rest.
	err = p.each(officers, where, "officers", func(o *object, id, w string) error {
		m := &registryv1.Officer{}
		if err := p.unmarshal(o, w, m); err != nil {
			return err
		}
		m.Name = p.define(names.Officers.Name(p.tenant, uid, id))
		u.Officers = append(u.Officers, Officer{ID: id, Officer: m})
		return nil
	})
	if err != nil {
		return UnitEntry{}, err
	}
	err = p.each(sites, where, "sites", func(o *object, id, w string) error {
		m := &registryv1.Site{}
		mgr, proc := o.take("manager"), o.take("processor")
		if err := p.unmarshal(o, w, m); err != nil {
			return err
		}
		if err := p.reference(mgr, w, "manager", uid, names.Officers, func(s string) { m.Manager = s }); err != nil {
			return err
		}
		if err := p.reference(proc, w, "processor", uid, names.Processors, func(s string) { m.Processor = s }); err != nil {
			return err
		}
		m.Name = p.define(names.Sites.Name(p.tenant, uid, id))
		u.Sites = append(u.Sites, Site{ID: id, Site: m})
		return nil
	})
	if err != nil {
		return UnitEntry{}, err
	}
	err = p.each(files, where, "files", func(o *object, id, w string) error {
		m := &registryv1.PersonalInformationFile{}
		procs, regs := o.take("processors"), o.take("registrations")
		if err := p.unmarshal(o, w, m); err != nil {
			return err
		}
		var rs []*registryv1.Registration
		if err := p.messages(regs, w+": registrations", func() proto.Message {
			r := &registryv1.Registration{}
			rs = append(rs, r)
			return r
		}); err != nil {
			return err
		}
		items, err := p.list(procs, w+": processors")
		if err != nil {
			return err
		}
		m.Processors = make([]string, len(items))
		for i, it := range items {
			if err := p.reference(it, w, "processors", uid, names.Processors, func(s string) { m.Processors[i] = s }); err != nil {
				return err
			}
		}
		m.Name = p.define(names.Files.Name(p.tenant, uid, id))
		u.Files = append(u.Files, InfoFile{ID: id, File: m, Registrations: rs})
		return nil
	})
	if err != nil {
		return UnitEntry{}, err
	}
	err = p.each(processors, where, "processors", func(o *object, id, w string) error {
		m := &registryv1.Processor{}
		if err := p.unmarshal(o, w, m); err != nil {
			return err
		}
		m.Name = p.define(names.Processors.Name(p.tenant, uid, id))
		u.Processors = append(u.Processors, Processor{ID: id, Processor: m})
		return nil
	})
	if err != nil {
		return UnitEntry{}, err
	}
	err = p.each(assessments, where, "assessments", func(o *object, id, w string) error {
		m := &registryv1.ImpactAssessment{}
		fs := o.take("files")
		if err := p.unmarshal(o, w, m); err != nil {
			return err
		}
		items, err := p.list(fs, w+": files")
		if err != nil {
			return err
		}
		m.Files = make([]string, len(items))
		for i, it := range items {
			if err := p.reference(it, w, "files", uid, names.Files, func(s string) { m.Files[i] = s }); err != nil {
				return err
			}
		}
		m.Name = names.Assessments.Name(p.tenant, uid, id)
		u.Assessments = append(u.Assessments, Assessment{ID: id, Assessment: m})
		return nil
	})
	if err != nil {
		return UnitEntry{}, err
	}
	if err := p.messages(evaluations, where+": evaluations", func() proto.Message {
		e := &registryv1.ProtectionEvaluation{}
		u.Evaluations = append(u.Evaluations, e)
		return e
	}); err != nil {
		return UnitEntry{}, err
	}
	pols, err := p.list(policies, where+": policies")
	if err != nil {
		return UnitEntry{}, err
	}
	for _, pn := range pols {
		pe, err := p.policy(pn, where, uid)
		if err != nil {
			return UnitEntry{}, err
		}
		if u.Policy(pe.Kind) != nil {
			return UnitEntry{}, p.errorf(pn, where, "two %s policies", policy.Segment(pe.Kind))
		}
		u.Policies = append(u.Policies, pe)
	}
	return u, nil
}

func (p *parser) policy(n *yaml.Node, where, unitID string) (PolicyEntry, error) {
	o, err := p.object(n, where+": policy")
	if err != nil {
		return PolicyEntry{}, err
	}
	kn := o.take("kind")
	seg, err := p.scalar(kn, where, "kind")
	if err != nil {
		return PolicyEntry{}, err
	}
	kind, ok := policy.KindFromSegment(seg)
	if !ok {
		return PolicyEntry{}, p.errorf(n, where, "policy kind %q: want cctv or privacy", seg)
	}
	where = fmt.Sprintf("%s: %s policy", where, seg)
	vs := o.take("versions")
	if err := p.empty(o, where, "kind, versions"); err != nil {
		return PolicyEntry{}, err
	}
	nodes, err := p.list(vs, where+": versions")
	if err != nil {
		return PolicyEntry{}, err
	}
	pe := PolicyEntry{Kind: kind}
	for i, vn := range nodes {
		w := fmt.Sprintf("%s: version %d", where, i+1)
		vo, err := p.object(vn, w)
		if err != nil {
			return PolicyEntry{}, err
		}
		src, err := p.source(vo.take("source"), w)
		if err != nil {
			return PolicyEntry{}, err
		}
		var items []*registryv1.ArticleItems
		if in := vo.take("articleItems"); in != nil {
			var m map[string][]string
			if err := in.Decode(&m); err != nil {
				return PolicyEntry{}, p.errorf(in, w, "articleItems: want a map of article numbers to item keys: %v", err)
			}
			for _, number := range sortedKeys(m) {
				for _, k := range m[number] {
					if !policy.ValidItem(kind, k) {
						return PolicyEntry{}, p.errorf(in, w, "articleItems: %q is not an item of a %s policy", k, seg)
					}
				}
				items = append(items, &registryv1.ArticleItems{Number: number, Items: m[number]})
			}
		}
		for _, k := range []string{"name", "kind", "number", "state", "standing", "snapshot", "comparison", "document",
			"preamble", "articles", "attachments"} {
			if vn := vo.vals[k]; vn != nil {
				return PolicyEntry{}, p.errorf(vn, w, "field %q is set by pipa (the text comes from \"source\")", k)
			}
		}
		v := &registryv1.PolicyVersion{}
		if err := p.unmarshal(vo, w, v); err != nil {
			return PolicyEntry{}, err
		}
		v.Kind = kind
		v.Number = int32(i + 1)
		v.Name = names.Version(p.tenant, unitID, seg, int32(i+1))
		switch {
		case src == nil && v.EffectiveDate == "" && v.EndDate == "":
			return PolicyEntry{}, p.errorf(vn, w, "a version needs its text (source) or at least its period (effectiveDate, endDate)")
		case v.AnnounceDate != "" || v.EffectiveDate != "" || v.EndDate != "":
			v.State = registryv1.PolicyState_POLICY_STATE_ANNOUNCED
		default:
			v.State = registryv1.PolicyState_POLICY_STATE_DRAFT
		}
		for field, d := range map[string]string{"announceDate": v.AnnounceDate, "effectiveDate": v.EffectiveDate, "endDate": v.EndDate} {
			if _, err := parseDate(d); err != nil {
				return PolicyEntry{}, p.errorf(vo.vals[field], w, "%s: %v", field, err)
			}
		}
		pe.Versions = append(pe.Versions, VersionEntry{Version: v, Source: src, ArticleItems: items})
	}
	// A version ends the day before the next takes effect; dates must increase.
	for i := 0; i+1 < len(pe.Versions); i++ {
		cur, next := pe.Versions[i].Version, pe.Versions[i+1].Version
		if next.EffectiveDate == "" {
			continue
		}
		if cur.EffectiveDate != "" && cur.EffectiveDate >= next.EffectiveDate {
			return PolicyEntry{}, p.errorf(nodes[i+1], where, "version %d takes effect on %s, not after version %d (%s)", i+2, next.EffectiveDate, i+1, cur.EffectiveDate)
		}
		if cur.EndDate == "" && cur.State != registryv1.PolicyState_POLICY_STATE_DRAFT {
			cur.EndDate = dayBefore(next.EffectiveDate)
		}
	}
	return pe, nil
}

// source reads a version's "source": a file beside the tenant file (.md, .html or .txt), checked
// as the registry will read it, so that a malformed text is refused with its own line.
func (p *parser) source(n *yaml.Node, where string) (*registryv1.PolicySource, error) {
	name, err := p.scalar(n, where, "source")
	if err != nil || name == "" {
		return nil, err
	}
	format, ok := map[string]registryv1.PolicySourceFormat{
		".md": registryv1.PolicySourceFormat_POLICY_SOURCE_FORMAT_MARKDOWN, ".html": registryv1.PolicySourceFormat_POLICY_SOURCE_FORMAT_HTML,
		".htm": registryv1.PolicySourceFormat_POLICY_SOURCE_FORMAT_HTML, ".txt": registryv1.PolicySourceFormat_POLICY_SOURCE_FORMAT_TEXT,
	}[strings.ToLower(filepath.Ext(name))]
	if !ok {
		return nil, p.errorf(n, where, "source %q: want a .md, .html or .txt file", name)
	}
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(p.filename), name)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, p.errorf(n, where, "source: %v", err)
	}
	if _, errs := document.Read(format, string(b)); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = fmt.Sprintf("%s:%d: %s", path, e.Line, e.Msg)
		}
		return nil, p.errorf(n, where, "source is not a policy as pipa reads it:\n%s", strings.Join(msgs, "\n"))
	}
	return &registryv1.PolicySource{Format: format, Content: string(b)}, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// each walks a list of entries that have an id, checking ids are unique within the collection.
func (p *parser) each(n *yaml.Node, where, collection string, fn func(o *object, id, where string) error) error {
	items, err := p.list(n, where+": "+collection)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, it := range items {
		o, err := p.object(it, where+": "+collection)
		if err != nil {
			return err
		}
		id, err := p.id(o, where+": "+collection)
		if err != nil {
			return err
		}
		w := fmt.Sprintf("%s: %s %q", where, strings.TrimSuffix(collection, "s"), id)
		if seen[id] {
			return p.errorf(it, w, "duplicate id")
		}
		seen[id] = true
		if err := fn(o, id, w); err != nil {
			return err
		}
	}
	return nil
}

// messages decodes each mapping of the list n into a message from add.
func (p *parser) messages(n *yaml.Node, where string, add func() proto.Message) error {
	items, err := p.list(n, where)
	if err != nil {
		return err
	}
	for _, it := range items {
		o, err := p.object(it, where)
		if err != nil {
			return err
		}
		if err := p.unmarshal(o, where, add()); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) define(name string) string {
	p.ids[name] = true
	return name
}

// reference records a relative reference to resolve once every unit is read.
func (p *parser) reference(n *yaml.Node, where, field, unit string, kind names.Collection, set func(string)) error {
	if n == nil {
		return nil
	}
	v, err := p.scalar(n, where, field)
	if err != nil || v == "" {
		return err
	}
	p.refs = append(p.refs, ref{line: n.Line, where: where + ": " + field, unit: unit, kind: kind, value: v, resolve: set})
	return nil
}

func (p *parser) resolve() error {
	for _, r := range p.refs {
		var name string
		parts, kind := strings.Split(r.value, "/"), r.kind.Path()
		switch {
		case len(parts) == 2 && parts[0] == kind:
			name = r.kind.Name(p.tenant, r.unit, parts[1])
		case len(parts) == 4 && parts[0] == "units" && parts[2] == kind:
			name = r.kind.Name(p.tenant, parts[1], parts[3])
		default:
			if t, _, _, err := r.kind.Parse("", r.value); err == nil && t == p.tenant {
				name = r.value
			} else {
				return fmt.Errorf("%s:%d: %s: %q: want %s/<id> or units/<unit>/%s/<id>", p.filename, r.line, r.where, r.value, kind, kind)
			}
		}
		if !p.ids[name] {
			return fmt.Errorf("%s:%d: %s: %q: no such %s in the file", p.filename, r.line, r.where, r.value, strings.TrimSuffix(r.kind.Path(), "s"))
		}
		r.resolve(name)
	}
	return nil
}

// object is a YAML mapping whose keys are consumed as they are read.
type object struct {
	node *yaml.Node
	keys []string
	vals map[string]*yaml.Node
	keyN map[string]*yaml.Node
}

func (p *parser) object(n *yaml.Node, where string) (*object, error) {
	if n.Kind != yaml.MappingNode {
		return nil, p.errorf(n, where, "want a mapping")
	}
	o := &object{node: n, vals: map[string]*yaml.Node{}, keyN: map[string]*yaml.Node{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if _, dup := o.vals[k.Value]; dup {
			return nil, p.errorf(k, where, "key %q given twice", k.Value)
		}
		o.keys = append(o.keys, k.Value)
		o.vals[k.Value] = n.Content[i+1]
		o.keyN[k.Value] = k
	}
	return o, nil
}

// take removes a key and returns its value, or nil when absent.
func (o *object) take(key string) *yaml.Node {
	v := o.vals[key]
	delete(o.vals, key)
	return v
}

func (p *parser) empty(o *object, where, allowed string) error {
	for _, k := range o.keys {
		if _, ok := o.vals[k]; ok {
			return p.errorf(o.keyN[k], where, "unknown key %q (want %s)", k, allowed)
		}
	}
	return nil
}

func (p *parser) id(o *object, where string) (string, error) {
	n := o.take("id")
	if n == nil {
		return "", p.errorf(o.node, where, "missing id")
	}
	id, err := p.scalar(n, where, "id")
	if err != nil {
		return "", err
	}
	if !slugRE.MatchString(id) {
		return "", p.errorf(n, where, "id %q: want lowercase letters, digits and hyphens", id)
	}
	if _, ok := o.vals["name"]; ok {
		return "", p.errorf(o.keyN["name"], where, "field \"name\" is set by pipa from the ids")
	}
	return id, nil
}

func (p *parser) scalar(n *yaml.Node, where, field string) (string, error) {
	if n == nil {
		return "", nil
	}
	if n.Kind != yaml.ScalarNode {
		return "", p.errorf(n, where, "%s: want a string", field)
	}
	return n.Value, nil
}

func (p *parser) list(n *yaml.Node, where string) ([]*yaml.Node, error) {
	if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, p.errorf(n, where, "want a list")
	}
	return n.Content, nil
}

var (
	unknownFieldRE = regexp.MustCompile(`unknown field "([^"]+)"`)
	// protojson positions refer to the JSON made from the YAML, which the user never sees.
	jsonPosRE = regexp.MustCompile(`^proto:[\s\x{00a0}]*(\(line \d+:\d+\):[\s\x{00a0}]*)?`)
)

// unmarshal decodes the keys left in o into m with protojson, rejecting unknown fields.
func (p *parser) unmarshal(o *object, where string, m proto.Message) error {
	rest := map[string]any{}
	for _, k := range o.keys {
		n, ok := o.vals[k]
		if !ok {
			continue
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return p.errorf(n, where, "%s: %v", k, err)
		}
		rest[k] = plain(v)
	}
	data, err := json.Marshal(rest)
	if err != nil {
		return p.errorf(o.node, where, "%v", err)
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(data, m); err != nil {
		// Point at the offending key when protojson names it.
		n := o.node
		msg := err.Error()
		if mm := unknownFieldRE.FindStringSubmatch(msg); mm != nil {
			if kn := o.keyN[mm[1]]; kn != nil {
				n = kn
			}
			return p.errorf(n, where, "unknown field %q of %s", mm[1], m.ProtoReflect().Descriptor().Name())
		}
		return p.errorf(n, where, "%s", jsonPosRE.ReplaceAllString(msg, ""))
	}
	return nil
}

// plain turns YAML-decoded values into values encoding/json accepts as protojson expects them.
func plain(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = plain(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = plain(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = plain(e)
		}
		return x
	case time.Time:
		// An unquoted date; pipa's dates are YYYY-MM-DD strings.
		if x.Equal(x.Truncate(24 * time.Hour)) {
			return x.Format(time.DateOnly)
		}
		return x.Format(time.RFC3339)
	}
	return v
}

// parseDate accepts "" or a YYYY-MM-DD date.
func parseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, errors.New("want a date as YYYY-MM-DD")
	}
	return t, nil
}

func dayBefore(date string) string {
	t, err := parseDate(date)
	if err != nil || t.IsZero() {
		return ""
	}
	return t.AddDate(0, 0, -1).Format(time.DateOnly)
}
