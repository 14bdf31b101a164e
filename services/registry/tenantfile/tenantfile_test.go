package tenantfile_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/services/registry/tenantfile"
)

func TestLoadJeongeup(t *testing.T) {
	f, err := tenantfile.Load("../../../deploy/examples/jeongeup-library.yaml")
	require.NoError(t, err)
	require.Equal(t, "jeongeup", f.Tenant.ID)
	require.Equal(t, "tenants/jeongeup", f.Tenant.Tenant.GetName())
	require.Equal(t, registryv1.TenantKind_TENANT_KIND_LOCAL_GOVERNMENT, f.Tenant.Tenant.GetKind())

	u := f.Unit("library")
	require.NotNil(t, u)
	require.Equal(t, "tenants/jeongeup/units/library", u.Unit.GetName())
	require.Len(t, u.Officers, 4)
	require.Equal(t, "tenants/jeongeup/units/library/officers/song-hyunsook", u.Officers[0].Officer.GetName())
	require.Len(t, u.Sites, 5)
	central := u.Sites[0].Site
	require.EqualValues(t, 27, central.GetCameraCount())
	require.Equal(t, "tenants/jeongeup/units/library/officers/song-hyunsook", central.GetManager())
	require.Len(t, u.Sites[4].Site.GetPurposes(), 3, "a YAML alias is read like its anchor")

	p := u.Policy(registryv1.PolicyKind_POLICY_KIND_CCTV)
	require.NotNil(t, p)
	require.Len(t, p.Versions, 2)
	old, cur := p.Versions[0], p.Versions[1]
	require.Nil(t, old.Source, "the past version is known by its period only")
	require.Equal(t, "2024-01-15", old.Version.GetEndDate())
	require.Equal(t, registryv1.PolicyState_POLICY_STATE_ANNOUNCED, cur.Version.GetState())
	require.EqualValues(t, 2, cur.Version.GetNumber())
	require.Equal(t, "tenants/jeongeup/units/library/policies/cctv/versions/2", cur.Version.GetName())
	require.Equal(t, registryv1.PolicyKind_POLICY_KIND_CCTV, cur.Version.GetKind())
	require.Equal(t, registryv1.PolicySourceFormat_POLICY_SOURCE_FORMAT_MARKDOWN, cur.Source.GetFormat())
	require.Contains(t, cur.Source.GetContent(), "## 제1조(영상정보처리기기의 설치근거 및 설치목적)")
}

func TestLoadExamples(t *testing.T) {
	paths, err := filepath.Glob("../../../deploy/examples/*.yaml")
	require.NoError(t, err)
	require.Len(t, paths, 5)
	for _, path := range paths {
		f, err := tenantfile.Load(path)
		require.NoError(t, err, path)
		require.NotEmpty(t, f.Units, path)
		for _, u := range f.Units {
			require.NotNil(t, f.Snapshot(u.ID), path)
		}
	}
}

const tree = `
tenant: {id: city, displayName: 시}
units:
  - id: hall
    displayName: 시청
    officers: [{id: cpo, displayName: 김보호, roles: [OFFICER_ROLE_CPO]}]
  - id: library
    parent: hall
    displayName: 도서관사업소
    officers: [{id: chief, displayName: 이관리, roles: [OFFICER_ROLE_CCTV_MANAGER]}]
    processors: [{id: guard, company: 경비회사}]
    sites:
      - {id: main, displayName: 중앙도서관, cameraCount: 3, manager: officers/chief, processor: processors/guard}
      - {id: annex, displayName: 분관, cameraCount: 1, manager: units/hall/officers/cpo}
    files: [{id: members, displayName: 회원, processors: [processors/guard]}]
  - id: branch
    parent: library
    displayName: 분관
    sites: [{id: kiosk, displayName: 무인대출기, cameraCount: 1}]
  - id: parks
    parent: hall
    displayName: 공원과
    officers: [{id: park-chief, displayName: 박공원}]
`

func TestSnapshotSubtree(t *testing.T) {
	f, err := tenantfile.Parse([]byte(tree), "tree.yaml")
	require.NoError(t, err)

	lib := f.Unit("library").Sites
	require.Equal(t, "tenants/city/units/library/officers/chief", lib[0].Site.GetManager())
	require.Equal(t, "tenants/city/units/library/processors/guard", lib[0].Site.GetProcessor())
	require.Equal(t, "tenants/city/units/hall/officers/cpo", lib[1].Site.GetManager())
	require.Equal(t, []string{"tenants/city/units/library/processors/guard"}, f.Unit("library").Files[0].File.GetProcessors())
	require.Equal(t, "tenants/city/units/hall", f.Unit("library").Unit.GetParent())

	snap := f.Snapshot("hall")
	require.Equal(t, "tenants/city/units/hall", snap.GetUnit().GetName())
	var subunits, officers, sites []string
	for _, u := range snap.GetSubunits() {
		subunits = append(subunits, u.GetName())
	}
	for _, o := range snap.GetOfficers() {
		officers = append(officers, o.GetName())
	}
	for _, s := range snap.GetSites() {
		sites = append(sites, s.GetName())
	}
	require.Equal(t, []string{"tenants/city/units/library", "tenants/city/units/branch", "tenants/city/units/parks"}, subunits, "tree order")
	require.Equal(t, []string{"tenants/city/units/hall/officers/cpo", "tenants/city/units/library/officers/chief", "tenants/city/units/parks/officers/park-chief"}, officers)
	require.Equal(t, []string{"tenants/city/units/library/sites/main", "tenants/city/units/library/sites/annex", "tenants/city/units/branch/sites/kiosk"}, sites)
	require.Len(t, snap.GetProcessors(), 1)
	require.Len(t, snap.GetFiles(), 1)

	leaf := f.Snapshot("branch")
	require.Empty(t, leaf.GetSubunits())
	require.Len(t, leaf.GetSites(), 1)
	require.Empty(t, leaf.GetOfficers())
	require.Nil(t, f.Snapshot("nope"))

	// The snapshot holds copies: freezing it into a version must not alias the file.
	snap.Sites[0].CameraCount = 99
	require.EqualValues(t, 3, f.Unit("library").Sites[0].Site.GetCameraCount())
}

func TestParseErrors(t *testing.T) {
	const head = "tenant: {id: city}\nunits:\n  - id: lib\n"
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"misspelt site field", head + "    sites: [{id: a, camraCount: 3}]\n",
			[]string{"bad.yaml:4:", `unit "lib"`, `site "a"`, `unknown field "camraCount"`}},
		{"misspelt unit field", head + "    dispalyName: x\n",
			[]string{"bad.yaml:4:", `unit "lib"`, `"dispalyName"`}},
		{"misspelt tenant field", "tenant: {id: city, kindd: x}\n", []string{"bad.yaml:1:", "tenant", `"kindd"`}},
		{"bad enum", head + "    officers: [{id: o, roles: [OFFICER_ROLE_BOSS]}]\n", []string{`officer "o"`, "OFFICER_ROLE_BOSS"}},
		{"missing officer", head + "    sites: [{id: a, manager: officers/ghost}]\n",
			[]string{"bad.yaml:4:", `site "a": manager`, `"officers/ghost"`, "no such officer"}},
		{"missing processor", head + "    files: [{id: f, processors: [processors/ghost]}]\n", []string{`file "f": processors`, "no such processor"}},
		{"malformed reference", head + "    sites: [{id: a, manager: song}]\n", []string{"want officers/<id>"}},
		{"parent after child", "tenant: {id: city}\nunits:\n  - {id: a, parent: b}\n  - {id: b}\n", []string{`unit "a"`, `parent "b"`}},
		{"duplicate unit", "tenant: {id: city}\nunits:\n  - {id: a}\n  - {id: a}\n", []string{"duplicate unit id"}},
		{"duplicate officer", head + "    officers: [{id: o}, {id: o}]\n", []string{`officer "o"`, "duplicate id"}},
		{"bad id", "tenant: {id: City_1}\n", []string{"City_1"}},
		{"name given", head + "    sites: [{id: a, name: x}]\n", []string{"set by pipa"}},
		{"unknown top key", "tenant: {id: city}\nunit: []\n", []string{`unknown key "unit"`}},
		{"bad kind", head + "    policies: [{kind: video, versions: []}]\n", []string{"video"}},
		{"bad article item", head + "    policies: [{kind: cctv, versions: [{effectiveDate: '2024-01-16', articleItems: {제1조: [cookies]}}]}]\n",
			[]string{"cctv policy: version 1", `"cookies"`}},
		{"text given inline", head + "    policies: [{kind: cctv, versions: [{effectiveDate: '2024-01-16', articles: []}]}]\n",
			[]string{`"articles" is set by pipa`}},
		{"source missing", head + "    policies: [{kind: cctv, versions: [{effectiveDate: '2024-01-16', source: nowhere.md}]}]\n",
			[]string{"bad.yaml:4:", "source", "nowhere.md"}},
		{"source of another format", head + "    policies: [{kind: cctv, versions: [{effectiveDate: '2024-01-16', source: policy.pdf}]}]\n",
			[]string{".md, .html or .txt"}},
		{"neither text nor period", head + "    policies: [{kind: cctv, versions: [{title: x}]}]\n",
			[]string{"its text (source) or at least its period"}},
		{"bad date", head + "    policies: [{kind: cctv, versions: [{effectiveDate: 2024/01/16}]}]\n", []string{"effectiveDate", "YYYY-MM-DD"}},
		{"dates out of order", head + "    policies: [{kind: cctv, versions: [{effectiveDate: '2024-01-16'}, {effectiveDate: '2021-01-01'}]}]\n",
			[]string{"version 2 takes effect"}},
		{"not yaml", "tenant: [", []string{"bad.yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tenantfile.Parse([]byte(tc.yaml), "bad.yaml")
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestEndDates(t *testing.T) {
	f, err := tenantfile.Parse([]byte(`
tenant: {id: city}
units:
  - id: lib
    policies:
      - kind: privacy
        versions:
          - {endDate: "2011-09-29"}
          - {effectiveDate: "2011-09-30"}
          - {effectiveDate: 2024-03-01, announceDate: 2024-02-20}
`), "dates.yaml")
	require.NoError(t, err)
	vs := f.Unit("lib").Policy(registryv1.PolicyKind_POLICY_KIND_PRIVACY).Versions
	require.Equal(t, "2011-09-29", vs[0].Version.GetEndDate())
	require.Equal(t, "2024-02-29", vs[1].Version.GetEndDate(), "the day before the next takes effect")
	require.Equal(t, "2024-03-01", vs[2].Version.GetEffectiveDate(), "an unquoted date is read as a date")
	require.Empty(t, vs[2].Version.GetEndDate(), "the last version stays open")
	require.Equal(t, registryv1.PolicyState_POLICY_STATE_ANNOUNCED, vs[2].Version.GetState())
}

// A source is read as the registry will read it: a malformed one is refused naming its own file
// and line; a version with a source and no date is a draft.
func TestSources(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	write("ok.md", "# 방침\n\n## 제1조(목적)\n\n목적\n")
	write("twice.txt", "방침\n제1조(목적)\n목적\n제1조(정의)\n정의\n")
	write("t.yaml", "tenant: {id: city}\nunits:\n  - id: lib\n    policies: [{kind: cctv, versions: [{source: ok.md}]}]\n")
	f, err := tenantfile.Load(filepath.Join(dir, "t.yaml"))
	require.NoError(t, err)
	v := f.Unit("lib").Policies[0].Versions[0]
	require.Equal(t, registryv1.PolicyState_POLICY_STATE_DRAFT, v.Version.GetState())
	require.Equal(t, "# 방침\n\n## 제1조(목적)\n\n목적\n", v.Source.GetContent())

	write("bad.yaml", "tenant: {id: city}\nunits:\n  - id: lib\n    policies: [{kind: cctv, versions: [{effectiveDate: '2024-01-16', source: twice.txt}]}]\n")
	_, err = tenantfile.Load(filepath.Join(dir, "bad.yaml"))
	require.Error(t, err)
	require.Contains(t, err.Error(), "twice.txt:4:")
	require.Contains(t, err.Error(), "again")
}
