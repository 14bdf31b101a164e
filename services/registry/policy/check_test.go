package policy

import (
	"testing"

	"strings"

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

// removeArticle drops the article whose heading starts with number.
func removeArticle(v *registryv1.PolicyVersion, number string) {
	var kept []*registryv1.Article
	for _, a := range v.GetArticles() {
		if a.GetNumber() != number {
			kept = append(kept, a)
		}
	}
	v.Articles = kept
}

func article(v *registryv1.PolicyVersion, number string) *registryv1.Article {
	for _, a := range v.GetArticles() {
		if a.GetNumber() == number {
			return a
		}
	}
	panic("no article " + number)
}

func siteOf(v *registryv1.PolicyVersion, id string) *registryv1.Site {
	for _, s := range v.GetSnapshot().GetSites() {
		if s.GetName() == jeongeup+"/sites/"+id {
			return s
		}
	}
	panic("no site " + id)
}

// DEC-25-1: seed 000 as the library writes it states every item in its own articles; what
// remains are the recommended preamble and item 8, and PIPA-25-3's consultation, which the seed
// does not publish.
func TestCheck_DEC_25_1_Seed000IsReady(t *testing.T) {
	fs := Check(seed000())
	require.Equal(t, []f{
		w("DEC-25-1", "", "articles[preamble]"),
		w("DEC-25-1", "8", "articles[other]"),
		w("PIPA-25-3", "1", "snapshot.sites[central].consultation"),
		w("PIPA-25-3", "1", "snapshot.sites[sintaein].consultation"),
		w("PIPA-25-3", "1", "snapshot.sites[miracle].consultation"),
		w("PIPA-25-3", "1", "snapshot.sites[smart].consultation"),
		w("PIPA-25-3", "1", "snapshot.sites[park].consultation"),
	}, all(fs))
	require.True(t, Ready(fs))
}

// DEC-25-1: each item is looked for wherever the body placed it; without the article that states
// it, that item blocks the next version.
func TestCheck_DEC_25_1_EachItemWhereTheBodyPlacedIt(t *testing.T) {
	for _, c := range []struct{ number, item, key string }{
		{"제1조", "1", "purpose"}, {"제2조", "2", "installation"}, {"제3조", "3", "officers"},
		{"제4조", "4", "operation"}, {"제5조", "5", "review"}, {"제6조", "6", "requests"}, {"제7조", "7", "safety"},
	} {
		t.Run(c.number, func(t *testing.T) {
			v := seed000()
			removeArticle(v, c.number)
			fs := Check(v)
			require.Equal(t, []f{b("DEC-25-1", c.item, "articles["+c.key+"]")}, blocking(fs))
			require.Contains(t, findMessage(t, fs, "articles["+c.key+"]"), "no article states it")
		})
	}
	// Moved and renamed, an item is found by the items an article names: seed 001 states the
	// review of footage in its 제7조(CCTV의 관리․운영).
	v := seed000()
	article(v, "제5조").Heading, article(v, "제5조").Title = "제5조(주장치의 관리)", "주장치의 관리"
	require.Equal(t, []f{b("DEC-25-1", "5", "articles[review]")}, blocking(Check(v)))
	article(v, "제5조").Items = []string{"review"}
	require.Empty(t, blocking(Check(v)))
}

// The articles' own shape: a number given twice, an article without text, an unknown item.
func TestCheck_ArticlesShape(t *testing.T) {
	v := seed000()
	v.Articles = append(v.Articles, articles("제3조(접근권한자)", "")...)
	v.Articles[0].Items = []string{"cookies"}
	fs := Check(v)
	require.Equal(t, []f{
		b("DEC-25-1", "", "articles[0].items[0]"),
		b("DEC-25-1", "", "articles[8].heading"),
		b("DEC-25-1", "", "articles[8].body"),
		b("DEC-25-1", "1", "articles[purpose]"),
	}, blocking(fs))
	require.Contains(t, findMessage(t, fs, "articles[8].heading"), "제3조(관리책임자 및 접근권한자)")
}

// Each fact of seed 000 the Act conditions brings its blocking finding.
func TestCheck_DEC_25_1_SiteFacts(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(v *registryv1.PolicyVersion)
		want   []f
	}{
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
		// A site without its own place only warns while an article states the operation.
		{"DEC-25-1 item 4: no storage place and no article on it", func(v *registryv1.PolicyVersion) {
			for _, s := range v.Snapshot.Sites {
				s.StoragePlace = ""
			}
			removeArticle(v, "제4조")
		}, []f{
			b("DEC-25-1", "4", "articles[operation]"),
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
	require.Equal(t, []f{w("DEC-25-1", "", "articles[preamble]"), w("DEC-25-1", "8", "articles[other]")}, all(Check(v)))

	v = seed000()
	v.Snapshot.Tenant.PublicInstitution = false
	require.Equal(t, []f{w("DEC-25-1", "", "articles[preamble]"), w("DEC-25-1", "8", "articles[other]")}, all(Check(v)))
}

// PIPA-25-4 (4) / STD-39(1)4: an outsourced site's contractor is on record with a phone, and
// the policy states the outsourcing (DEC-25-1 item 8, seed 002's article 5).
func TestCheck_PIPA_25_4_OutsourcedSite(t *testing.T) {
	outsourced := func() *registryv1.PolicyVersion {
		v := seed000()
		v.Snapshot.Processors = []*registryv1.Processor{{Name: jeongeup + "/processors/secom", Company: "(주)에스원", Phone: "1588-3112"}}
		siteOf(v, "park").Processor = jeongeup + "/processors/secom"
		v.Articles = append(v.Articles, articles("제9조(영상정보처리기기 설치 및 관리 등의 위탁에 관한 사항)",
			"| 수탁업체 | 연락처 |\n| --- | --- |\n| {{processor.company}} | {{processor.phone}} |")...)
		return v
	}
	require.Empty(t, blocking(Check(outsourced())))

	v := outsourced()
	removeArticle(v, "제9조")
	fs := Check(v)
	require.Equal(t, []f{b("DEC-25-1", "8", "articles[outsourcing]")}, blocking(fs))
	require.Contains(t, findMessage(t, fs, "articles[outsourcing]"), "시민공원")

	v = outsourced()
	v.Snapshot.Processors[0].Phone = ""
	require.Equal(t, []f{b("PIPA-25-4", "8", "snapshot.processors[secom].phone")}, blocking(Check(v)))

	v = outsourced()
	v.Snapshot.Processors = nil
	require.Equal(t, []f{b("PIPA-25-4", "8", "snapshot.sites[park].processor")}, blocking(Check(v)))

	// WG26-ITEMS: an attestation that nothing is entrusted contradicts a contractor-run site.
	v = outsourced()
	v.Snapshot.Attestations = []*registryv1.Attestation{{Name: "tenants/jeongeup/attestations/no-outsourcing", Item: "outsourcing"}}
	fs = Check(v)
	require.Equal(t, []f{b("DEC-25-1", "8", "articles[outsourcing]")}, blocking(fs))
	require.Contains(t, findMessage(t, fs, "articles[outsourcing]"), "attested as not processed")

	// Processors of the unit's other systems do not make CCTV outsourcing apply, and seed 000
	// need not say anything about it.
	v = seed000()
	v.Snapshot.Processors = []*registryv1.Processor{{Name: jeongeup + "/processors/kolas", Company: "도서관시스템"}}
	require.Empty(t, blocking(Check(v)))
}

// WG26-ITEMS: seed 003's shape, with what it does not state attested and bound, is ready; each
// list it answers to maps its items to the articles.
func TestCheck_WG26_ITEMS_PrivacyVersionIsReady(t *testing.T) {
	fs := Check(privacyVersion())
	require.True(t, Ready(fs), "%v", fs)
	cov := map[string]*registryv1.ItemCoverage{}
	for _, c := range Coverage(privacyVersion()) {
		cov[c.GetRule()+" "+c.GetItem()] = c
	}
	require.Equal(t, []string{"제2조(개인정보의 처리 및 보유기간)"}, cov["WG26-ITEMS 5"].GetArticles())
	require.Equal(t, []string{"제2조(개인정보의 처리 및 보유기간)"}, cov["STD-19 3"].GetArticles())
	require.Equal(t, []string{"제2조(개인정보의 처리 및 보유기간)"}, cov["PIPA-30-1 2"].GetArticles())
	require.Equal(t, []string{"제5조(개인정보 영향평가의 수행 결과)", "제17조(개인정보 보호수준 평가 결과)"}, cov["WG26-ITEMS 23"].GetArticles())
	require.Equal(t, "tenants/seongnam/attestations/overseas", cov["WG26-ITEMS 10"].GetAttestation())
	require.Equal(t, []string{"제18조(개인정보 처리방침 변경)"}, cov["WG26-ITEMS 10"].GetArticles())
	require.Equal(t, []string{"전문"}, cov["WG26-ITEMS 1"].GetArticles())
}

// WG26-ITEMS: a mandatory item no article states blocks, naming the other lists that ask for it.
func TestCheck_WG26_ITEMS_MandatoryItemMissing(t *testing.T) {
	v := privacyVersion()
	removeArticle(v, "제6조")
	fs := Check(v)
	require.Equal(t, []f{b("WG26-ITEMS", "6", "articles[destruction]")}, blocking(fs))
	msg := findMessage(t, fs, "articles[destruction]")
	require.Contains(t, msg, "STD-19 7")
	require.Contains(t, msg, "PIPA-30-1 3의2")
}

// WG26-ITEMS: an "only if applicable" item is stated by an article or by an officer's attestation
// bound where the policy says so; nothing else stands for it (no sentence of pipa's).
func TestCheck_WG26_ITEMS_ApplicableNeedsArticleOrAttestation(t *testing.T) {
	v := privacyVersion()
	v.Snapshot.Attestations = v.Snapshot.Attestations[1:] // overseas no longer attested
	fs := Check(v)
	require.Equal(t, []f{b("WG26-ITEMS", "10", "articles[overseas]")}, blocking(fs))
	require.Contains(t, findMessage(t, fs, "articles[overseas]"), "have an officer attest")

	// Attested, but bound nowhere: the policy would not say it.
	v = privacyVersion()
	last := v.Articles[len(v.Articles)-1]
	last.Body = strings.Replace(last.GetBody(), "{{attestation/overseas.statement}}", "", 1)
	fs = Check(v)
	require.Equal(t, []f{b("WG26-ITEMS", "10", "articles[overseas]")}, blocking(fs))
	require.Contains(t, findMessage(t, fs, "articles[overseas]"), "bind {{attestation/overseas}}")
}

// WG26-ITEMS: "not processed" is a statement of fact; the registry may not say otherwise.
func TestCheck_WG26_ITEMS_AttestationContradictsData(t *testing.T) {
	v := privacyVersion()
	removeArticle(v, "제8조")
	v.Snapshot.Attestations = append(v.Snapshot.Attestations, &registryv1.Attestation{Item: "outsourcing"})
	fs := Check(v)
	require.Equal(t, []f{b("WG26-ITEMS", "9", "articles[outsourcing]")}, blocking(fs))
	require.Contains(t, findMessage(t, fs, "articles[outsourcing]"), "(주)도서관시스템")

	// With no article on recipients while the file has them, item 7 applies.
	v = privacyVersion()
	removeArticle(v, "제7조")
	fs = Check(v)
	require.Equal(t, []f{b("WG26-ITEMS", "7", "articles[third_party]")}, blocking(fs))
	require.Contains(t, findMessage(t, fs, "articles[third_party]"), "도서관 회원 관리")
}

// WG26-ITEMS 18: the CPO's contact is published.
func TestCheck_WG26_ITEMS_Item18Officers(t *testing.T) {
	v := privacyVersion()
	v.Snapshot.Officers[0].Phone = ""
	require.Equal(t, []f{b("WG26-ITEMS", "18", "snapshot.officers[cpo].phone")}, blocking(Check(v)))
	v.Snapshot.Officers[0].Email = "privacy@seongnam.go.kr"
	require.Empty(t, blocking(Check(v)))
}

// Recommended items only warn.
func TestCheck_WG26_ITEMS_RecommendedOnlyWarns(t *testing.T) {
	v := privacyVersion()
	removeArticle(v, "제15조")
	fs := Check(v)
	require.Equal(t, []f{w("WG26-ITEMS", "20", "articles[remedies]")}, all(fs))
	require.True(t, Ready(fs))
}

func TestCheck_UnknownKind(t *testing.T) {
	fs := Check(&registryv1.PolicyVersion{})
	require.Equal(t, []f{b("required", "", "kind")}, all(fs))
	require.False(t, Ready(fs))
}

// A version without a snapshot is checked on its articles alone.
func TestCheck_NoSnapshot(t *testing.T) {
	v := seed000()
	v.Snapshot = nil
	require.True(t, Ready(Check(v)))
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
