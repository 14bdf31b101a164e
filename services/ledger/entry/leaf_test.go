package entry

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
)

const testLog = "tenants/jeongeup/units/library"

// fixedSalts returns salts 0x01…, 0x02…, … in turn.
func fixedSalts() func() []byte {
	var n byte
	return func() []byte { n++; return bytes.Repeat([]byte{n}, SaltSize) }
}

func kst(s string) *timestamppb.Timestamp {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, seoul.Location)
	if err != nil {
		panic(err)
	}
	return timestamppb.New(t)
}

// policeProvision is seed 001 별표3 row 2: footage given on USB to a police station investigating
// a juvenile crime, under PIPA 18(2)7.
func policeProvision() *ledgerv1.Entry {
	return &ledgerv1.Entry{
		Kind:                ledgerv1.EntryKind_ENTRY_KIND_PROVISION,
		OccurTime:           kst("2026-05-03 14:00"),
		FileName:            "중앙도서관 주차장 CH03 2026-05-02 14:00-15:00",
		FileFormat:          "mp4",
		Handler:             "시설관리과 주무관 송승학",
		Purpose:             "청소년 범죄수사",
		Counterparty:        "정읍경찰서 여성청소년계",
		CounterpartyOfficer: "경위 박길동",
		RequesterContact:    "063-123-4567",
		LegalBasis:          "개인정보 보호법 제18조 제2항 제7호",
		Form:                "USB 사본 제공",
		Period:              "2026-05-03 ~ 2026-06-02",
		DestructionDueDate:  "2026-06-02",
		Items:               []string{"영상(얼굴, 차량번호)", "촬영 일시"},
		SafetyRequests:      "수사 목적 외 이용 금지\n사건 종결 시 파기 후 회신 (C:\\evidence 사용 금지)",
		Request:             "tenants/jeongeup/units/library/requests/R-2026-000123",
	}
}

// The commitments below were computed independently:
// python3 -c 'import hashlib,base64;print(base64.b64encode(hashlib.sha256(bytes([1])*32+b"\0"+"경위 박길동".encode()).digest()))'
const goldenProvision = `pipa-ledger-entry/v1
log: tenants/jeongeup/units/library
index: 1
kind: PROVISION
occur-time: 2026-05-03T05:00:00Z
file-name: 중앙도서관 주차장 CH03 2026-05-02 14:00-15:00
file-format: mp4
handler: 시설관리과 주무관 송승학
purpose: 청소년 범죄수사
counterparty: 정읍경찰서 여성청소년계
counterparty-officer-commitment: GOLDEN_OFFICER
requester-contact-commitment: GOLDEN_CONTACT
legal-basis: 개인정보 보호법 제18조 제2항 제7호
form: USB 사본 제공
period: 2026-05-03 ~ 2026-06-02
destruction-due-date: 2026-06-02
items: 영상(얼굴, 차량번호)
items: 촬영 일시
safety-requests: 수사 목적 외 이용 금지\n사건 종결 시 파기 후 회신 (C:\\evidence 사용 금지)
request: tenants/jeongeup/units/library/requests/R-2026-000123
`

func golden() []byte {
	return []byte(strings.NewReplacer(
		"GOLDEN_OFFICER", "2dugEV9IZAicvgRGCs6VFf7u3ZxAdVKSrEt7y3dmWO4=",
		"GOLDEN_CONTACT", "5c5iMOb1f/l0YhidIsrThQ94NA1u69OKNIyXCiK6IVQ=",
	).Replace(goldenProvision))
}

func TestEncodeLeaf_Golden(t *testing.T) {
	e := policeProvision()
	// Output-only fields never reach the leaf.
	e.Name, e.Index, e.LeafHash, e.Redacted, e.TreeSize = "x", 99, []byte{1}, true, 7
	e.CommitTime = timestamppb.Now()

	leaf, sealed, err := EncodeLeaf(testLog, 1, e, fixedSalts())
	require.NoError(t, err)
	require.Equal(t, string(golden()), string(leaf))
	require.NotContains(t, string(leaf), "박길동", "personal values are never in the leaf in clear")
	require.NotContains(t, string(leaf), "123-4567")

	require.Equal(t, []SealedField{
		{Field: "counterparty_officer", Value: "경위 박길동", Salt: bytes.Repeat([]byte{1}, SaltSize)},
		{Field: "requester_contact", Value: "063-123-4567", Salt: bytes.Repeat([]byte{2}, SaltSize)},
	}, sealed.Fields)

	again, _, err := EncodeLeaf(testLog, 1, policeProvision(), fixedSalts())
	require.NoError(t, err)
	require.Equal(t, leaf, again, "deterministic for the same input and salts")
}

// The server's recorded_by is the last line (S-8-3), after the client's fields.
func TestEncodeLeaf_RecordedBy(t *testing.T) {
	e := policeProvision()
	e.RecordedBy = "song.sh"
	leaf, _, err := EncodeLeaf(testLog, 1, e, fixedSalts())
	require.NoError(t, err)
	require.Equal(t, string(golden())+"recorded-by: song.sh\n", string(leaf))
	d, err := DecodeLeaf(leaf)
	require.NoError(t, err)
	require.Equal(t, "song.sh", d.Entry.GetRecordedBy())
}

func TestEncodeLeaf_FreshSalts(t *testing.T) {
	a, sa, err := EncodeLeaf(testLog, 1, policeProvision(), nil)
	require.NoError(t, err)
	b, sb, err := EncodeLeaf(testLog, 1, policeProvision(), nil)
	require.NoError(t, err)
	require.NotEqual(t, a, b, "random salts: equal values do not give equal commitments")
	require.NotEqual(t, sa.Fields[0].Salt, sa.Fields[1].Salt)
	require.NotEqual(t, sa.Fields[0].Salt, sb.Fields[0].Salt)
}

func TestEncodeLeaf_Rejects(t *testing.T) {
	for name, tc := range map[string]struct {
		log   string
		index int64
		edit  func(*ledgerv1.Entry)
		salt  func() []byte
	}{
		"no kind":       {edit: func(e *ledgerv1.Entry) { e.Kind = 0 }},
		"unknown kind":  {edit: func(e *ledgerv1.Entry) { e.Kind = 99 }},
		"no occur_time": {edit: func(e *ledgerv1.Entry) { e.OccurTime = nil }},
		"bad time":      {edit: func(e *ledgerv1.Entry) { e.OccurTime = &timestamppb.Timestamp{Nanos: -1} }},
		"empty item":    {edit: func(e *ledgerv1.Entry) { e.Items = []string{"a", ""} }},
		"NUL":           {edit: func(e *ledgerv1.Entry) { e.Purpose = "a\x00b" }},
		"bad UTF-8":     {edit: func(e *ledgerv1.Entry) { e.CounterpartyOfficer = "\xff" }},
		"bad log":       {log: "tenants/x"},
		"negative":      {index: -1},
		"short salt":    {salt: func() []byte { return []byte{1} }},
	} {
		t.Run(name, func(t *testing.T) {
			e := policeProvision()
			if tc.edit != nil {
				tc.edit(e)
			}
			log := testLog
			if tc.log != "" {
				log = tc.log
			}
			salt := tc.salt
			if salt == nil {
				salt = fixedSalts()
			}
			_, _, err := EncodeLeaf(log, tc.index, e, salt)
			require.Error(t, err)
		})
	}
}

func TestLeaf_RoundTrip(t *testing.T) {
	entries := map[string]*ledgerv1.Entry{
		"provision": policeProvision(),
		"viewing":   validViewing(),
		"destruction": func() *ledgerv1.Entry {
			e := validAutoDestruction()
			e.OccurTime = timestamppb.New(time.Date(2026, 5, 1, 0, 0, 0, 123456000, time.UTC))
			return e
		}(),
		"access":    validAccess(),
		"amendment": validAmendment(),
		"follows 0": func() *ledgerv1.Entry { e := validAmendment(); e.Follows = proto.Int64(0); return e }(),
		"recorded by": func() *ledgerv1.Entry {
			e := validViewing()
			e.RecordedBy = "pipa-service"
			return e
		}(),
		"redaction": {Kind: ledgerv1.EntryKind_ENTRY_KIND_REDACTION, OccurTime: kst("2027-05-03 09:00"),
			Follows: proto.Int64(1), Note: "보유기간 경과"},
	}
	for name, e := range entries {
		t.Run(name, func(t *testing.T) {
			leaf, sealed, err := EncodeLeaf(testLog, 42, e, nil)
			require.NoError(t, err)
			d, err := DecodeLeaf(leaf)
			require.NoError(t, err)
			require.Equal(t, testLog, d.Log)
			require.Equal(t, int64(42), d.Index)
			require.Len(t, d.Commitments, len(sealed.Fields))
			for _, p := range Personal(e.GetKind()) {
				require.Empty(t, d.Entry.ProtoReflect().Get(d.Entry.ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(p))).String(),
					"%s is not in the leaf in clear", p)
			}

			got := proto.Clone(d.Entry).(*ledgerv1.Entry)
			sealed.Reveal(got)
			for _, f := range sealed.Fields {
				require.Equal(t, f.Salt, got.GetSalts()[f.Field], "Reveal gives the salts")
			}
			got.Salts = nil
			require.True(t, proto.Equal(e, got), "decoded %v\nwant %v", got, e)
			require.NoError(t, sealed.Check(leaf))
		})
	}
}

func TestDecodeLeaf_KeepsPersonalOut(t *testing.T) {
	d, err := DecodeLeaf(golden())
	require.NoError(t, err)
	require.Empty(t, d.Entry.GetCounterpartyOfficer())
	require.Empty(t, d.Entry.GetRequesterContact())
	require.Equal(t, []string{"counterparty_officer", "requester_contact"}, keys(d.Commitments))
	require.Equal(t, "수사 목적 외 이용 금지\n사건 종결 시 파기 후 회신 (C:\\evidence 사용 금지)", d.Entry.GetSafetyRequests())
}

func keys(m map[string][]byte) []string {
	var out []string
	for _, f := range Personal(ledgerv1.EntryKind_ENTRY_KIND_PROVISION) {
		if _, ok := m[f]; ok {
			out = append(out, f)
		}
	}
	return out
}

// Every single-byte change either fails DecodeLeaf or decodes to different content (and, being
// different bytes, hashes differently); none decodes to the same entry.
func TestDecodeLeaf_ChangedByte(t *testing.T) {
	leaf := golden()
	want, err := DecodeLeaf(leaf)
	require.NoError(t, err)
	for i := range leaf {
		for _, delta := range []byte{0x01, 0x20} {
			c := bytes.Clone(leaf)
			c[i] ^= delta
			require.NotEqual(t, sha256.Sum256(leaf), sha256.Sum256(c))
			d, err := DecodeLeaf(c)
			if err != nil {
				require.ErrorIs(t, err, ErrLeaf)
				continue
			}
			same := d.Log == want.Log && d.Index == want.Index && proto.Equal(d.Entry, want.Entry) &&
				bytes.Equal(d.Commitments["counterparty_officer"], want.Commitments["counterparty_officer"]) &&
				bytes.Equal(d.Commitments["requester_contact"], want.Commitments["requester_contact"])
			require.False(t, same, "byte %d ^ %#x decoded to the same entry", i, delta)
		}
	}
}

func TestDecodeLeaf_RejectsNonCanonical(t *testing.T) {
	g := string(golden())
	for name, leaf := range map[string]string{
		"empty":              "",
		"no final newline":   strings.TrimSuffix(g, "\n"),
		"extra final line":   g + "\n",
		"CRLF":               strings.ReplaceAll(g, "\n", "\r\n"),
		"wrong magic":        strings.Replace(g, "pipa-ledger-entry/v1", "pipa-ledger-entry/v2", 1),
		"index leading zero": strings.Replace(g, "index: 1\n", "index: 01\n", 1),
		"index plus":         strings.Replace(g, "index: 1\n", "index: +1\n", 1),
		"local time":         strings.Replace(g, "2026-05-03T05:00:00Z", "2026-05-03T14:00:00+09:00", 1),
		"zero fraction":      strings.Replace(g, "2026-05-03T05:00:00Z", "2026-05-03T05:00:00.000Z", 1),
		"swapped lines":      strings.Replace(g, "file-format: mp4\nhandler: 시설관리과 주무관 송승학\n", "handler: 시설관리과 주무관 송승학\nfile-format: mp4\n", 1),
		"duplicate line":     strings.Replace(g, "file-format: mp4\n", "file-format: mp4\nfile-format: mp4\n", 1),
		"unknown key":        strings.Replace(g, "file-format: mp4\n", "file-format: mp4\ncolour: red\n", 1),
		"personal in clear":  strings.Replace(g, "requester-contact-commitment: ", "requester-contact: ", 1),
		"empty value":        strings.Replace(g, "file-format: mp4\n", "file-format: \n", 1),
		"unknown escape":     strings.Replace(g, `\n사건`, `\t사건`, 1),
		"short commitment":   strings.Replace(g, "2dugEV9IZAicvgRGCs6VFf7u3ZxAdVKSrEt7y3dmWO4=", "7m4f", 1),
		"kind unspecified":   strings.Replace(g, "kind: PROVISION", "kind: UNSPECIFIED", 1),
		"kind lower case":    strings.Replace(g, "kind: PROVISION", "kind: provision", 1),
		"no occur-time":      strings.Replace(g, "occur-time: 2026-05-03T05:00:00Z\n", "", 1),
		"log not first":      strings.Replace(g, "log: tenants/jeongeup/units/library\nindex: 1\n", "index: 1\nlog: tenants/jeongeup/units/library\n", 1),
		"no space":           strings.Replace(g, "file-format: mp4", "file-format:mp4", 1),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeLeaf([]byte(leaf))
			require.ErrorIs(t, err, ErrLeaf)
		})
	}
}

func TestVerify(t *testing.T) {
	leaf, sealed, err := EncodeLeaf(testLog, 1, policeProvision(), fixedSalts())
	require.NoError(t, err)
	v, salt, ok := sealed.Get("counterparty_officer")
	require.True(t, ok)

	require.True(t, Verify(leaf, "counterparty_officer", v, salt))
	require.True(t, Verify(leaf, "counterparty-officer", v, salt), "the leaf spelling works too")
	require.False(t, Verify(leaf, "counterparty_officer", "경위 김길동", salt), "another name")
	require.False(t, Verify(leaf, "counterparty_officer", v, bytes.Repeat([]byte{9}, SaltSize)), "another salt")
	require.False(t, Verify(leaf, "requester_contact", v, salt), "another field")
	require.False(t, Verify(leaf, "requester_name", "", salt), "no commitment for an empty field")
	require.False(t, Verify(leaf, "purpose", "청소년 범죄수사", salt), "not a personal field")
	require.False(t, Verify(leaf[1:], "counterparty_officer", v, salt), "not a leaf")
}

func TestSealed_MarshalRoundTrip(t *testing.T) {
	leaf, sealed, err := EncodeLeaf(testLog, 1, policeProvision(), fixedSalts())
	require.NoError(t, err)
	got, err := UnmarshalSealed(sealed.Marshal())
	require.NoError(t, err)
	require.Equal(t, sealed, got)
	require.NoError(t, got.Check(leaf))

	none, err := UnmarshalSealed((&Sealed{}).Marshal())
	require.NoError(t, err)
	require.Empty(t, none.Fields)
	require.Error(t, none.Check(leaf), "a blob missing values does not match")

	wrong := &Sealed{Fields: []SealedField{sealed.Fields[0], {Field: "requester_contact", Value: "010-0000-0000", Salt: sealed.Fields[1].Salt}}}
	require.Error(t, wrong.Check(leaf))

	for name, b := range map[string]string{
		"not json":     "{",
		"version":      `{"v":2,"fields":[]}`,
		"not personal": `{"v":1,"fields":[{"field":"file_name","value":"x","salt":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="}]}`,
		"short salt":   `{"v":1,"fields":[{"field":"requester_name","value":"x","salt":"AQ=="}]}`,
		"twice": `{"v":1,"fields":[{"field":"requester_name","value":"x","salt":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="},` +
			`{"field":"requester_name","value":"y","salt":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="}]}`,
	} {
		_, err := UnmarshalSealed([]byte(b))
		require.Error(t, err, name)
	}
}

// The leaf table must decide on every Entry field: a new proto field fails here until it is
// either encoded (in field-number order) or listed as output-only.
func TestFieldsCoverEntry(t *testing.T) {
	outputOnly := map[protoreflect.Name]bool{"name": true, "index": true, "leaf_hash": true,
		"redacted": true, "commit_time": true, "tree_size": true, "salts": true}
	inTable := map[protoreflect.Name]int32{}
	last := int32(0)
	for _, f := range fields {
		require.Greater(t, f.num, last, "fields are in field-number order")
		last = f.num
		inTable[protoreflect.Name(f.name)] = f.num
	}
	fds := (&ledgerv1.Entry{}).ProtoReflect().Descriptor().Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		if outputOnly[fd.Name()] {
			require.NotContains(t, inTable, fd.Name())
			continue
		}
		require.Contains(t, inTable, fd.Name(), "Entry.%s is neither in the leaf nor output-only", fd.Name())
		require.Equal(t, int32(fd.Number()), inTable[fd.Name()])
	}
	require.Len(t, inTable, fds.Len()-len(outputOnly))
	require.Equal(t, []string{"counterparty_officer", "requester_name", "requester_contact"}, Personal(ledgerv1.EntryKind_ENTRY_KIND_PROVISION))
	require.Equal(t, []string{"purpose", "counterparty_officer", "requester_name", "requester_contact", "actor", "remote_addr", "subject", "action"},
		Personal(ledgerv1.EntryKind_ENTRY_KIND_ACCESS), "S-2-3: the access record's account, where from, whose data, what was done, a download's reason")
	for k := range ledgerv1.EntryKind_name {
		require.LessOrEqual(t, len(Personal(ledgerv1.EntryKind(k))), maxPersonal)
	}
}

// downloadRecord is an access record taken in from another system: a download with its reason.
func downloadRecord() *ledgerv1.Entry {
	return &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_ACCESS, OccurTime: kst("2026-05-03 14:59"),
		FileName: "새올행정시스템", Purpose: "정보공개청구 처리", Actor: "clerk007", RemoteAddr: "10.1.2.3",
		Subject: "민원 2026-000007", Action: "다운로드", RecordedBy: "saeol-system"}
}

// The commitments below were computed independently, salt n for the n-th field in leaf order:
// python3 -c 'import hashlib,base64;print(base64.b64encode(hashlib.sha256(bytes([2])*32+b"\0"+"clerk007".encode()).digest()))'
const goldenAccess = `pipa-ledger-entry/v1
log: tenants/jeongeup/units/library
index: 7
kind: ACCESS
occur-time: 2026-05-03T05:59:00Z
file-name: 새올행정시스템
purpose-commitment: Rcyde4VVneM6bZRGcpHTZfE+sTowZo6U3BIYPf2dqAY=
actor-commitment: fcQEUdFfo5U8vdWrjEmAzBpO8lAbpz64f+BXnWrSXd4=
remote-addr-commitment: /xuYaTcLMBUQ2IrhEWdqvDwpDz8g3H0CDy1PCPN9gn8=
subject-commitment: k2s3mTkAf1lviQ67KSc9KhsyU8St3E9K6jNBjJuA4Cg=
action-commitment: nK5sDuq8/kbSm7zMeaWJm4zhUqxFkSnDJHG79nTOQUk=
recorded-by: saeol-system
`

// The leaf of an ACCESS entry written before its record's fields were committed.
const earlierAccess = `pipa-ledger-entry/v1
log: tenants/jeongeup/units/library
index: 7
kind: ACCESS
occur-time: 2026-05-03T05:59:00Z
file-name: 새올행정시스템
purpose: 정보공개청구 처리
actor: clerk007
remote-addr: 10.1.2.3
subject: 민원 2026-000007
action: 다운로드
recorded-by: saeol-system
`

// S-8-1: an access record's leaf keeps in clear only what its period is computed from (its
// kind, time and system) and who recorded it; the account, where from, whose data, what was done
// and a download's reason are commitments, their values sealed beside the leaf, so that the
// record destroyed (the sealed values deleted) leaves nothing of them readable.
func TestEncodeLeaf_AccessCommitsItsRecord_S_8_1(t *testing.T) {
	leaf, sealed, err := EncodeLeaf(testLog, 7, downloadRecord(), fixedSalts())
	require.NoError(t, err)
	require.Equal(t, goldenAccess, string(leaf))
	for _, v := range []string{"clerk007", "10.1.2.3", "민원", "다운로드", "정보공개청구"} {
		require.NotContains(t, string(leaf), v)
	}
	require.Len(t, sealed.Fields, 5)
	for _, f := range sealed.Fields {
		require.True(t, Verify(leaf, f.Field, f.Value, f.Salt), f.Field)
	}
	d, err := DecodeLeaf(leaf)
	require.NoError(t, err)
	require.Equal(t, "새올행정시스템", d.Entry.GetFileName())
	require.Empty(t, d.Entry.GetActor())
	require.NoError(t, d.Check(sealed))
	require.Error(t, d.Check(nil), "destroyed: the leaf commits to values nobody holds")

}

// S-5: a ROLE_CHANGE leaf commits to the staff account (actor) and its holder's name (subject),
// erasable after the three years; the change and the roles stay in clear. A leaf written before,
// with both in clear, still decodes and commits to nothing; a mix of the forms does not decode.
func TestEncodeLeaf_RoleChangeCommitsItsPerson_S_5(t *testing.T) {
	grant := &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_ROLE_CHANGE, OccurTime: kst("2026-05-03 14:59"),
		Actor: "kim.minji@jeongeup.go.kr", Subject: "김민지", Purpose: "권한 부여", Items: []string{"handler"}, Form: "pipa token", Handler: "admin"}
	require.Subset(t, Personal(grant.GetKind()), []string{"actor", "subject"})
	rc, sealed, err := EncodeLeaf(testLog, 8, grant, fixedSalts())
	require.NoError(t, err)
	for _, v := range []string{"kim.minji", "김민지"} {
		require.NotContains(t, string(rc), v)
	}
	require.Contains(t, string(rc), "\npurpose: 권한 부여\n")
	require.Contains(t, string(rc), "\nitems: handler\n")
	require.Len(t, sealed.Fields, 2)
	d, err := DecodeLeaf(rc)
	require.NoError(t, err)
	require.NoError(t, d.Check(sealed))
	require.True(t, Verify(rc, "subject", "김민지", sealed.Fields[1].Salt))

	earlier := strings.Join([]string{Magic, "log: " + testLog, "index: 8", "kind: ROLE_CHANGE", "occur-time: 2026-05-03T05:59:00Z",
		"handler: admin", "purpose: 권한 부여", "form: 등록부 담당자", "items: handler",
		"actor: tenants/jeongeup/units/library/officers/kim (김민지)", ""}, "\n")
	d, err = DecodeLeaf([]byte(earlier))
	require.NoError(t, err)
	require.Equal(t, "tenants/jeongeup/units/library/officers/kim (김민지)", d.Entry.GetActor())
	require.Empty(t, d.Commitments)
	require.NoError(t, d.Check(nil))
	withSubject := earlier + "subject-commitment: " + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)) + "\n"
	_, err = DecodeLeaf([]byte(withSubject))
	require.ErrorIs(t, err, ErrLeaf, "a mix of the forms")
}

// Leaves written before stay valid: an ACCESS leaf with its record's fields in clear decodes to
// them and commits to nothing; a mix of the two forms, or a commitment where the kind writes the
// field in clear, is not a canonical leaf.
func TestDecodeLeaf_AccessEitherForm(t *testing.T) {
	d, err := DecodeLeaf([]byte(earlierAccess))
	require.NoError(t, err)
	want := downloadRecord()
	require.True(t, proto.Equal(want, d.Entry), "%v", d.Entry)
	require.Empty(t, d.Commitments)
	require.NoError(t, d.Check(nil))
	require.False(t, Verify([]byte(earlierAccess), "actor", "clerk007", bytes.Repeat([]byte{2}, SaltSize)), "nothing committed to")

	for name, leaf := range map[string]string{
		"mixed": strings.Replace(goldenAccess, "actor-commitment: fcQEUdFfo5U8vdWrjEmAzBpO8lAbpz64f+BXnWrSXd4=", "actor: clerk007", 1),
		"both":  strings.Replace(goldenAccess, "file-name: 새올행정시스템\n", "file-name: 새올행정시스템\npurpose: 정보공개청구 처리\n", 1),
		"clear and commitment": strings.Replace(earlierAccess, "actor: clerk007\n",
			"actor: clerk007\nactor-commitment: fcQEUdFfo5U8vdWrjEmAzBpO8lAbpz64f+BXnWrSXd4=\n", 1),
		"not an ACCESS": strings.Replace(goldenAccess, "kind: ACCESS", "kind: ROLE_CHANGE", 1),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeLeaf([]byte(leaf))
			require.ErrorIs(t, err, ErrLeaf)
		})
	}
}

// A redacted entry is served without its personal values, also an ACCESS entry whose leaf
// holds them in clear; other fields stay.
func TestErase(t *testing.T) {
	d, err := DecodeLeaf([]byte(earlierAccess))
	require.NoError(t, err)
	e := d.Entry
	e.Salts = map[string][]byte{"actor": bytes.Repeat([]byte{1}, SaltSize)}
	Erase(e)
	require.True(t, proto.Equal(&ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_ACCESS, OccurTime: kst("2026-05-03 14:59"),
		FileName: "새올행정시스템", RecordedBy: "saeol-system"}, e), "%v", e)

	p := policeProvision()
	Erase(p)
	require.Empty(t, p.GetCounterpartyOfficer())
	require.Equal(t, "청소년 범죄수사", p.GetPurpose(), "a provision's purpose is not personal")
}

// Marshal writes format 2, which reads back the same whatever the values; the JSON of format 1,
// which pipa wrote before, still reads; bytes of neither format do not.
func TestSealed_Formats(t *testing.T) {
	leaf, sealed, err := EncodeLeaf(testLog, 7, downloadRecord(), fixedSalts())
	require.NoError(t, err)
	b := sealed.Marshal()
	require.Equal(t, byte(2), b[0])
	got, err := UnmarshalSealed(b)
	require.NoError(t, err)
	require.Equal(t, sealed, got)
	require.NoError(t, got.Check(leaf))
	v1, err := json.Marshal(sealedJSON{V: 1, Fields: sealed.Fields})
	require.NoError(t, err)
	require.Less(t, len(b), len(v1)*2/3, "format 2 is smaller")
	got, err = UnmarshalSealed(v1)
	require.NoError(t, err)
	require.Equal(t, sealed, got)

	salt := bytes.Repeat([]byte{0xfb}, SaltSize)
	for _, v := range []string{"홍길동", `"quoted" \ back\slash`, "tab\tLF\nCR\r\x01\x7f", strings.Repeat("긴 값", 2000)} {
		s := &Sealed{Fields: []SealedField{{Field: "actor", Value: v, Salt: salt}, {Field: "requester_name", Value: "x", Salt: salt}}}
		got, err := UnmarshalSealed(s.Marshal())
		require.NoError(t, err)
		require.Equal(t, s, got)
	}
	none, err := UnmarshalSealed((*Sealed)(nil).Marshal())
	require.NoError(t, err)
	require.Empty(t, none.Fields)
	for name, bad := range map[string][]byte{
		"empty":        nil,
		"unknown":      []byte("x"),
		"truncated":    b[:len(b)-1],
		"long length":  {2, 0xff, 0xff, 0xff, 0xff, 0x0f, 'a'},
		"not personal": append([]byte{2, 9}, append([]byte("file_name\x20"), append(salt, 1, 'x')...)...),
		"not UTF-8":    append(append(append([]byte{2, 5}, "actor\x20"...), salt...), 1, 0xff),
		"half a field": append([]byte{2, 5}, "actor"...),
	} {
		_, err := UnmarshalSealed(bad)
		require.Error(t, err, name)
	}
}
