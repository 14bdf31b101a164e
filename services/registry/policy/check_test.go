package policy

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
)

// f is the part of a Finding a test pins down exactly; messages are checked separately.
type f struct {
	Rule, Item, Field string
	Blocking          bool
}

func all(fs []*registryv1.Finding) []f {
	out := []f{}
	for _, x := range fs {
		out = append(out, f{x.GetRule(), x.GetItem(), x.GetField(), x.GetBlocking()})
	}
	return out
}

func blocking(fs []*registryv1.Finding) []f {
	out := []f{}
	for _, x := range all(fs) {
		if x.Blocking {
			out = append(out, x)
		}
	}
	return out
}

func b(rule, item, field string) f { return f{rule, item, field, true} }
func w(rule, item, field string) f { return f{rule, item, field, false} }

func findMessage(t *testing.T, fs []*registryv1.Finding, field string) string {
	t.Helper()
	for _, x := range fs {
		if x.GetField() == field {
			return x.GetMessage()
		}
	}
	t.Fatalf("no finding on %s in %v", field, all(fs))
	return ""
}

func section(v *registryv1.PolicyVersion, item string) *registryv1.Section {
	for _, s := range v.GetSections() {
		if s.GetItem() == item {
			return s
		}
	}
	s := &registryv1.Section{Item: item}
	v.Sections = append(v.Sections, s)
	return s
}

func removeSection(v *registryv1.PolicyVersion, item string) {
	var kept []*registryv1.Section
	for _, s := range v.GetSections() {
		if s.GetItem() != item {
			kept = append(kept, s)
		}
	}
	v.Sections = kept
}

func siteOf(v *registryv1.PolicyVersion, id string) *registryv1.Site {
	for _, s := range v.GetSnapshot().GetSites() {
		if s.GetName() == jeongeup+"/sites/"+id {
			return s
		}
	}
	panic("no site " + id)
}

// DEC-25-1: seed 000 held as registry data plus the three free-text articles is complete; what
// remains are the recommended preamble and item 8, and PIPA-25-3's consultation, which the seed
// does not publish.
func TestCheck_DEC_25_1_Seed000IsReady(t *testing.T) {
	fs := Check(seed000())
	require.Equal(t, []f{
		w("DEC-25-1", "", "sections[preamble]"),
		w("DEC-25-1", "8", "sections[other]"),
		w("PIPA-25-3", "1", "snapshot.sites[central].consultation"),
		w("PIPA-25-3", "1", "snapshot.sites[sintaein].consultation"),
		w("PIPA-25-3", "1", "snapshot.sites[miracle].consultation"),
		w("PIPA-25-3", "1", "snapshot.sites[smart].consultation"),
		w("PIPA-25-3", "1", "snapshot.sites[park].consultation"),
	}, all(fs))
	require.True(t, Ready(fs))
}

// Each fact of seed 000 removed in turn brings exactly its blocking finding.
func TestCheck_DEC_25_1_RemovingAFactBlocks(t *testing.T) {
	noRole := func(v *registryv1.PolicyVersion, role registryv1.OfficerRole) {
		for _, o := range v.Snapshot.Officers {
			var kept []registryv1.OfficerRole
			for _, r := range o.Roles {
				if r != role {
					kept = append(kept, r)
				}
			}
			o.Roles = kept
		}
	}
	tests := []struct {
		name   string
		mutate func(v *registryv1.PolicyVersion)
		want   []f
	}{
		{"DEC-25-1 items 1, 2, 4: no sites", func(v *registryv1.PolicyVersion) { v.Snapshot.Sites = nil }, []f{
			b("DEC-25-1", "1", "sections[purpose]"),
			b("DEC-25-1", "2", "sections[installation]"),
			b("DEC-25-1", "4", "sections[operation]"),
		}},
		{"DEC-25-1 item 3: no officers", func(v *registryv1.PolicyVersion) {
			v.Snapshot.Officers = nil
			for _, s := range v.Snapshot.Sites {
				s.Manager = ""
			}
		}, []f{
			b("DEC-25-1", "3", "sections[officers]"),
		}},
		{"DEC-25-1 item 3: no access holder", func(v *registryv1.PolicyVersion) {
			noRole(v, registryv1.OfficerRole_OFFICER_ROLE_ACCESS_AUTHORIZED)
		}, []f{b("DEC-25-1", "3", "sections[officers]")}},
		{"DEC-25-1 item 3: no manager", func(v *registryv1.PolicyVersion) {
			noRole(v, registryv1.OfficerRole_OFFICER_ROLE_CCTV_MANAGER)
		}, []f{b("DEC-25-1", "3", "sections[officers]")}},
		{"DEC-25-1 item 5: no review section", func(v *registryv1.PolicyVersion) { removeSection(v, "review") }, []f{
			b("DEC-25-1", "5", "sections[review]"),
		}},
		{"DEC-25-1 item 6: blank requests section", func(v *registryv1.PolicyVersion) { section(v, "requests").Body = " \n" }, []f{
			b("DEC-25-1", "6", "sections[requests]"),
		}},
		{"DEC-25-1 item 7: no safety section", func(v *registryv1.PolicyVersion) { removeSection(v, "safety") }, []f{
			b("DEC-25-1", "7", "sections[safety]"),
		}},
		{"PIPA-25-1: no purposes", func(v *registryv1.PolicyVersion) { siteOf(v, "park").Purposes = nil }, []f{
			b("PIPA-25-1", "1", "snapshot.sites[park].purposes"),
		}},
		{"PIPA-25-1: purpose without ground", func(v *registryv1.PolicyVersion) {
			siteOf(v, "park").Purposes = []*registryv1.SitePurpose{
				{Description: "시설 안전", Ground: registryv1.CctvGround_CCTV_GROUND_FACILITY_SAFETY},
				{Description: "이용 통계"},
			}
		}, []f{b("PIPA-25-1", "1", "snapshot.sites[park].purposes[1].ground")}},
		{"DEC-25-1 item 2: no cameras", func(v *registryv1.PolicyVersion) { siteOf(v, "smart").CameraCount = 0 }, []f{
			b("DEC-25-1", "2", "snapshot.sites[smart].camera_count"),
		}},
		{"DEC-25-1 item 4: no recording hours", func(v *registryv1.PolicyVersion) { siteOf(v, "miracle").RecordingHours = "" }, []f{
			b("DEC-25-1", "4", "snapshot.sites[miracle].recording_hours"),
		}},
		{"DEC-25-1 item 4: no retention", func(v *registryv1.PolicyVersion) { siteOf(v, "miracle").RetentionDays = 0 }, []f{
			b("DEC-25-1", "4", "snapshot.sites[miracle].retention_days"),
		}},
		// A site without its own place only warns while the policy states some place (seed 000).
		{"DEC-25-1 item 4: no storage place anywhere", func(v *registryv1.PolicyVersion) {
			for _, s := range v.Snapshot.Sites {
				s.StoragePlace = ""
			}
		}, []f{
			b("DEC-25-1", "4", "snapshot.sites[central].storage_place"),
			b("DEC-25-1", "4", "snapshot.sites[sintaein].storage_place"),
			b("DEC-25-1", "4", "snapshot.sites[miracle].storage_place"),
			b("DEC-25-1", "4", "snapshot.sites[smart].storage_place"),
			b("DEC-25-1", "4", "snapshot.sites[park].storage_place"),
		}},
		{"PIPA-25-4 (3): manager without phone", func(v *registryv1.PolicyVersion) { v.Snapshot.Officers[0].Phone = "" }, []f{
			b("PIPA-25-4", "3", "snapshot.officers[song-hyeonsuk].phone"),
		}},
		{"PIPA-25-4 (3): sign names an unknown manager", func(v *registryv1.PolicyVersion) {
			siteOf(v, "central").Manager = jeongeup + "/officers/nobody"
		}, []f{b("PIPA-25-4", "3", "snapshot.sites[central].manager")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := seed000()
			tt.mutate(v)
			fs := Check(v)
			require.Equal(t, tt.want, blocking(fs))
			require.False(t, Ready(fs))
		})
	}
}

func TestCheck_DEC_25_1_MessagesNameWhatIsMissing(t *testing.T) {
	v := seed000()
	for _, o := range v.Snapshot.Officers[1:] {
		o.Roles = nil
	}
	removeSection(v, "review")
	fs := Check(v)
	require.Contains(t, findMessage(t, fs, "sections[officers]"), "접근권한자")
	require.NotContains(t, findMessage(t, fs, "sections[officers]"), "a CCTV manager")
	require.Contains(t, findMessage(t, fs, "sections[review]"), `write section "review"`)
	require.Contains(t, findMessage(t, fs, "sections[review]"), "개인영상정보의 확인 방법 및 장소에 관한 사항")
}

// DEC-25-1 item 3 may be stated as free text instead of registry officers.
func TestCheck_DEC_25_1_OfficersAsText(t *testing.T) {
	v := seed000()
	v.Snapshot.Officers = nil
	for _, s := range v.Snapshot.Sites {
		s.Manager = ""
	}
	section(v, "officers").Body = "| 관리책임자 | 송현숙 | 소장 | 063-539-5049 |"
	require.Empty(t, blocking(Check(v)))
}

// STD-37: the CPO may act as CCTV manager; then the CPO's phone is published.
func TestCheck_STD_37_CPOActsAsManager(t *testing.T) {
	v := seed000()
	v.Snapshot.Officers[0].Roles = []registryv1.OfficerRole{registryv1.OfficerRole_OFFICER_ROLE_CPO}
	require.Empty(t, blocking(Check(v)))

	v.Snapshot.Officers[0].Phone = ""
	fs := Check(v)
	require.Equal(t, []f{b("PIPA-25-4", "3", "snapshot.officers[song-hyeonsuk].phone")}, blocking(fs))
	require.Contains(t, findMessage(t, fs, "snapshot.officers[song-hyeonsuk].phone"), "송현숙")

	// A CPO who is not acting as manager (a manager exists) is not published by the CCTV policy.
	v.Snapshot.Officers[1].Roles = append(v.Snapshot.Officers[1].Roles, registryv1.OfficerRole_OFFICER_ROLE_CCTV_MANAGER)
	for _, s := range v.Snapshot.Sites {
		s.Manager = v.Snapshot.Officers[1].Name
	}
	require.Empty(t, blocking(Check(v)))
}

func TestCheck_STD_41_2_RetentionOver30NeedsReason(t *testing.T) {
	v := seed000()
	siteOf(v, "central").RetentionDays = 31
	fs := Check(v)
	require.Equal(t, []f{b("STD-41-2", "4", "snapshot.sites[central].retention_reason")}, blocking(fs))
	require.Contains(t, findMessage(t, fs, "snapshot.sites[central].retention_reason"), "31 days")

	siteOf(v, "central").RetentionReason = "도난 사건 확인에 통상 45일이 소요됨"
	require.Empty(t, blocking(Check(v)))

	// Exactly 30 days needs no reason (the seed's own period).
	require.Empty(t, blocking(Check(seed000())))
}

// STD-41-2 applies per zone too (seed 002: 보호실 kept 30 days, the rest 14).
func TestCheck_STD_41_2_ZoneRetention(t *testing.T) {
	v := seed000()
	siteOf(v, "central").ZoneRetentions = []*registryv1.ZoneRetention{
		{Zone: "보호실", RetentionDays: 30},
		{Zone: "서고", RetentionDays: 60},
		{Zone: "주차장", RetentionDays: 0},
	}
	require.Equal(t, []f{
		b("STD-41-2", "4", "snapshot.sites[central].zone_retentions[1].reason"),
		b("DEC-25-1", "4", "snapshot.sites[central].zone_retentions[2].retention_days"),
	}, blocking(Check(v)))
}

func TestCheck_PIPA_25_5_NoAudioRecording(t *testing.T) {
	v := seed000()
	siteOf(v, "park").RecordsAudio = true
	fs := Check(v)
	require.Equal(t, []f{b("PIPA-25-5", "2", "snapshot.sites[park].records_audio")}, blocking(fs))
	require.Contains(t, findMessage(t, fs, "snapshot.sites[park].records_audio"), "시민공원")
}

func TestCheck_PIPA_25_2_RestrictedAreaNeedsException(t *testing.T) {
	v := seed000()
	siteOf(v, "park").RestrictedArea = true
	require.Equal(t, []f{b("PIPA-25-2", "2", "snapshot.sites[park].restricted_area_exception")}, blocking(Check(v)))

	siteOf(v, "park").RestrictedAreaException = "정신건강증진시설 (시행령 제22조제2항)"
	require.Empty(t, blocking(Check(v)))
}

// The public/non-public split of seed 002 must add up to the site's cameras.
func TestCheck_DEC_25_1_CameraSplitAddsUp(t *testing.T) {
	tests := []struct {
		name      string
		pub, non  *int32
		wantBlock bool
	}{
		{"no split", nil, nil, false},
		{"20 + 7 = 27", proto.Int32(20), proto.Int32(7), false},
		{"all public", proto.Int32(27), nil, false},
		{"20 + 6 != 27", proto.Int32(20), proto.Int32(6), true},
		{"public only, short", proto.Int32(20), nil, true},
		{"negative", proto.Int32(28), proto.Int32(-1), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := seed000()
			siteOf(v, "central").PublicCameraCount, siteOf(v, "central").NonpublicCameraCount = tt.pub, tt.non
			var want []f
			if tt.wantBlock {
				want = []f{b("DEC-25-1", "2", "snapshot.sites[central].public_camera_count")}
			}
			require.Equal(t, append([]f{}, want...), blocking(Check(v)))
		})
	}
}

// PIPA-25-3: a public institution records its consultation; a private operator need not.
func TestCheck_PIPA_25_3_ConsultationIsPublicOnlyAndNonBlocking(t *testing.T) {
	v := seed000()
	for _, s := range v.Snapshot.Sites {
		s.Consultation = "2021. 11. 행정예고 (정읍시 공고 제2021-1234호)"
	}
	require.Equal(t, []f{w("DEC-25-1", "", "sections[preamble]"), w("DEC-25-1", "8", "sections[other]")}, all(Check(v)))

	v = seed000()
	v.Snapshot.Tenant.PublicInstitution = false
	require.Equal(t, []f{w("DEC-25-1", "", "sections[preamble]"), w("DEC-25-1", "8", "sections[other]")}, all(Check(v)))
}

// PIPA-25-4 (4) / STD-39(1)4: an outsourced site's contractor is on record with a phone, which
// also states DEC-25-1 item 8's outsourcing.
func TestCheck_PIPA_25_4_OutsourcedSite(t *testing.T) {
	outsourced := func() *registryv1.PolicyVersion {
		v := seed000()
		v.Snapshot.Processors = []*registryv1.Processor{{Name: jeongeup + "/processors/secom", Company: "(주)에스원", Phone: "1588-3112"}}
		siteOf(v, "park").Processor = jeongeup + "/processors/secom"
		return v
	}
	require.Empty(t, blocking(Check(outsourced())))

	v := outsourced()
	v.Snapshot.Processors[0].Phone = ""
	require.Equal(t, []f{b("PIPA-25-4", "8", "snapshot.processors[secom].phone")}, blocking(Check(v)))

	v = outsourced()
	v.Snapshot.Processors = nil
	require.Equal(t, []f{b("PIPA-25-4", "8", "snapshot.sites[park].processor")}, blocking(Check(v)))

	// WG26-ITEMS: declaring outsourcing not processed contradicts a contractor-run site.
	v = outsourced()
	section(v, "outsourcing").NotProcessed = true
	fs := Check(v)
	require.Equal(t, []f{b("DEC-25-1", "8", "sections[outsourcing].not_processed")}, blocking(fs))
	require.Contains(t, findMessage(t, fs, "sections[outsourcing].not_processed"), "시민공원")

	// Processors of the unit's other systems do not make CCTV outsourcing apply.
	v = seed000()
	v.Snapshot.Processors = []*registryv1.Processor{{Name: jeongeup + "/processors/kolas", Company: "도서관시스템"}}
	section(v, "outsourcing").NotProcessed = true
	require.Empty(t, blocking(Check(v)))
}

func TestCheck_WG26_ITEMS_UnknownAndRepeatedSections(t *testing.T) {
	v := seed000()
	v.Sections = append(v.Sections,
		&registryv1.Section{Item: "cookies", Body: "쿠키"},
		&registryv1.Section{Item: "review", Body: "다시"},
		&registryv1.Section{Item: "", Body: "?"},
	)
	fs := Check(v)
	require.Equal(t, []f{
		b("DEC-25-1", "", "sections[3].item"),
		b("DEC-25-1", "", "sections[4].item"),
		b("DEC-25-1", "", "sections[5].item"),
	}, blocking(fs))
	require.Contains(t, findMessage(t, fs, "sections[3].item"), `"cookies"`)
	require.Contains(t, findMessage(t, fs, "sections[4].item"), "section 0")
	require.Contains(t, findMessage(t, fs, "sections[4].item"), "STD-18", "each item once, in its own section")

	// A privacy-only key in a CCTV policy is unknown too, and vice versa.
	p := privacyVersion()
	p.Sections = append(p.Sections, &registryv1.Section{Item: "review", Body: "x"})
	require.Equal(t, []f{b("WG26-ITEMS", "", "sections[16].item")}, blocking(Check(p)))
}

// WG26-ITEMS / DEC-25-1: "not processed" is for A items only.
func TestCheck_WG26_ITEMS_MandatoryCannotBeNotProcessed(t *testing.T) {
	v := seed000()
	section(v, "safety").NotProcessed = true
	require.Equal(t, []f{b("DEC-25-1", "7", "sections[safety].not_processed")}, blocking(Check(v)))

	p := privacyVersion()
	section(p, "retention").NotProcessed = true
	fs := Check(p)
	require.Equal(t, []f{b("WG26-ITEMS", "5", "sections[retention].not_processed")}, blocking(fs))
	require.Contains(t, findMessage(t, fs, "sections[retention].not_processed"), "mandatory")
}

func TestCheck_WG26_ITEMS_PrivacyVersionIsReady(t *testing.T) {
	fs := Check(privacyVersion())
	require.Equal(t, []f{w("WG26-ITEMS", "23", "sections[voluntary_measures]")}, all(fs))
	require.True(t, Ready(fs))
}

func TestCheck_WG26_ITEMS_PrivacyMandatoryFromFiles(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(file *registryv1.PersonalInformationFile)
		want   f
	}{
		{"item 2 purpose", func(x *registryv1.PersonalInformationFile) { x.Purpose = "" }, b("WG26-ITEMS", "2", "sections[purpose]")},
		{"item 3 items", func(x *registryv1.PersonalInformationFile) { x.RequiredItems = nil }, b("WG26-ITEMS", "3", "sections[items]")},
		{"item 5 retention", func(x *registryv1.PersonalInformationFile) { x.Retention = "" }, b("WG26-ITEMS", "5", "sections[retention]")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := privacyVersion()
			tt.mutate(p.Snapshot.Files[0])
			require.Equal(t, []f{tt.want}, blocking(Check(p)))

			// The section's text satisfies the item instead.
			section(p, tt.want.Field[len("sections["):len(tt.want.Field)-1]).Body = "본문"
			require.Empty(t, blocking(Check(p)))
		})
	}
}

func TestCheck_WG26_ITEMS_ApplicableMustBeFilledOrNotProcessed(t *testing.T) {
	p := privacyVersion()
	removeSection(p, "overseas")
	fs := Check(p)
	require.Equal(t, []f{b("WG26-ITEMS", "10", "sections[overseas]")}, blocking(fs))
	msg := findMessage(t, fs, "sections[overseas]")
	require.Contains(t, msg, "개인정보의 국외 수집 및 이전에 관한 사항")
	require.Contains(t, msg, "declare it not processed")

	section(p, "overseas").Body = "해당 없음을 알리는 대신 내용을 적음"
	require.Empty(t, blocking(Check(p)))
}

// WG26-ITEMS A items 7 and 9 are satisfied by registry data; declaring them not processed then
// contradicts the data.
func TestCheck_WG26_ITEMS_NotProcessedContradictsData(t *testing.T) {
	p := privacyVersion()
	section(p, "outsourcing").NotProcessed = true
	section(p, "third_party").NotProcessed = true
	fs := Check(p)
	require.Equal(t, []f{
		b("WG26-ITEMS", "7", "sections[third_party].not_processed"),
		b("WG26-ITEMS", "9", "sections[outsourcing].not_processed"),
	}, blocking(fs))
	require.Contains(t, findMessage(t, fs, "sections[outsourcing].not_processed"), "(주)도서관시스템")

	// Without the data, the declaration is what states the items.
	p.Snapshot.Processors = nil
	p.Snapshot.Files[0].Processors = nil
	p.Snapshot.Files[0].Recipients = nil
	require.Empty(t, blocking(Check(p)))

	// And without either, the items are missing.
	removeSection(p, "outsourcing")
	removeSection(p, "third_party")
	require.Equal(t, []f{
		b("WG26-ITEMS", "7", "sections[third_party]"),
		b("WG26-ITEMS", "9", "sections[outsourcing]"),
	}, blocking(Check(p)))
}

// WG26-ITEMS item 21: a unit with CCTV sites states fixed CCTV in its privacy policy; the sites
// state it, and "not processed" contradicts them.
func TestCheck_WG26_ITEMS_Item21FollowsSites(t *testing.T) {
	p := privacyVersion() // declares cctv not processed
	p.Snapshot.Sites = seed000().Snapshot.Sites
	fs := Check(p)
	require.Equal(t, []f{b("WG26-ITEMS", "21", "sections[cctv].not_processed")}, blocking(fs))
	require.Contains(t, findMessage(t, fs, "sections[cctv].not_processed"), "중앙도서관")

	removeSection(p, "cctv")
	require.Empty(t, blocking(Check(p)))

	p.Snapshot.Sites = nil
	require.Equal(t, []f{b("WG26-ITEMS", "21", "sections[cctv]")}, blocking(Check(p)))
}

// WG26-ITEMS item 18 / PIPA-30-1 (6): the CPO, or the handling department with its phone.
func TestCheck_WG26_ITEMS_Item18Officers(t *testing.T) {
	p := privacyVersion()
	p.Snapshot.Officers = nil
	require.Equal(t, []f{b("WG26-ITEMS", "18", "sections[officers]")}, blocking(Check(p)))

	section(p, "officers").Body = "개인정보 고충처리 부서: 도서관정책과"
	fs := Check(p)
	require.Equal(t, []f{b("WG26-ITEMS", "18", "sections[officers]")}, blocking(fs))
	require.Contains(t, findMessage(t, fs, "sections[officers]"), "phone")

	section(p, "officers").Body = "개인정보 고충처리 부서: 도서관정책과 (031-729-4600)"
	require.Empty(t, blocking(Check(p)))

	p = privacyVersion()
	p.Snapshot.Officers[0].Phone = ""
	require.Equal(t, []f{b("WG26-ITEMS", "18", "snapshot.officers[cpo].phone")}, blocking(Check(p)))
	p.Snapshot.Officers[0].Email = "privacy@seongnam.go.kr"
	require.Empty(t, blocking(Check(p)))
}

func TestCheck_WG26_ITEMS_RecommendedOnlyWarns(t *testing.T) {
	p := privacyVersion()
	removeSection(p, "remedies")
	fs := Check(p)
	require.Equal(t, []f{
		w("WG26-ITEMS", "20", "sections[remedies]"),
		w("WG26-ITEMS", "23", "sections[voluntary_measures]"),
	}, all(fs))
	require.True(t, Ready(fs))
}

func TestCheck_UnknownKind(t *testing.T) {
	fs := Check(&registryv1.PolicyVersion{})
	require.Equal(t, []f{b("required", "", "kind")}, all(fs))
	require.False(t, Ready(fs))
}

func TestCheck_NoSnapshot(t *testing.T) {
	v := seed000()
	v.Snapshot = nil
	require.Equal(t, []f{
		b("DEC-25-1", "1", "sections[purpose]"),
		b("DEC-25-1", "2", "sections[installation]"),
		b("DEC-25-1", "3", "sections[officers]"),
		b("DEC-25-1", "4", "sections[operation]"),
	}, blocking(Check(v)))
}

func TestReady(t *testing.T) {
	require.True(t, Ready(nil))
	require.True(t, Ready([]*registryv1.Finding{{Rule: "WG26-ITEMS", Blocking: false}}))
	require.False(t, Ready([]*registryv1.Finding{{Rule: "WG26-ITEMS"}, {Rule: "STD-41-2", Blocking: true}}))
}

// PIPA-25-4 (3): only the manager's contact is on the sign. An access holder without a phone
// warns, and a manager without one is served by the unit's phone (seed 001).
func TestCheck_PIPA_25_4_ContactWarnsWhereTheSignHasOne(t *testing.T) {
	v := seed000()
	v.Snapshot.Officers[2].Phone = ""
	f := Check(v)
	require.True(t, Ready(f))
	require.Contains(t, f, &registryv1.Finding{Rule: "PIPA-25-4", Item: "3", Field: "snapshot.officers[so-yeonghyu].phone",
		Message: f[len(f)-1].GetMessage(), Blocking: false})

	v = seed000()
	v.Snapshot.Officers[0].Phone = ""
	require.False(t, Ready(Check(v)), "a manager with no phone and no unit phone blocks")
	v.Snapshot.Unit = &registryv1.Unit{Phone: "063-539-5000"}
	require.True(t, Ready(Check(v)))
}
