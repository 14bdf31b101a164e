package entry

import (
	"bytes"
	"encoding/csv"
	"errors"
	"iter"
	"strings"
	"testing"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"
)

// values yields es, as the export's listing does.
func values(es ...*ledgerv1.Entry) iter.Seq2[*ledgerv1.Entry, error] {
	return func(yield func(*ledgerv1.Entry, error) bool) {
		for _, e := range es {
			if !yield(e, nil) {
				return
			}
		}
	}
}

func exportEntries() []*ledgerv1.Entry {
	d := validAutoDestruction()
	d.Index = 0
	p := policeProvision()
	p.Index = 1
	a := validAmendment()
	a.Index = 2
	v := validViewing()
	v.Index = 3
	v.RequesterName = "=HYPERLINK(\"http://evil\")"
	return []*ledgerv1.Entry{d, p, a, v}
}

func TestColumns_STD_45_FormFirst(t *testing.T) {
	require.Equal(t, []string{"번호", "구분", "일시", "파일명/형태", "담당자", "목적/사유",
		"이용·제공받는 제3자/열람등 요구자", "이용·제공 근거", "이용·제공 형태", "기간"}, Columns()[:10])
	require.Len(t, Row(policeProvision()), len(Columns()))
}

func TestRow_Provision(t *testing.T) {
	e := policeProvision()
	e.Index = 1
	r := row(t, e)
	require.Equal(t, "1", r["번호"])
	require.Equal(t, "제공", r["구분"])
	require.Equal(t, "2026-05-03 14:00", r["일시"], "Asia/Seoul")
	require.Equal(t, "중앙도서관 주차장 CH03 2026-05-02 14:00-15:00 / mp4", r["파일명/형태"])
	require.Equal(t, "정읍경찰서 여성청소년계 경위 박길동", r["이용·제공받는 제3자/열람등 요구자"])
	require.Equal(t, "063-123-4567", r["연락처"])
	require.Equal(t, "2026-06-02", r["파기 예정일"])
	require.Equal(t, "영상(얼굴, 차량번호), 촬영 일시", r["항목"])

	a := row(t, validAmendment())
	require.Equal(t, "변경", a["구분"])
	require.Equal(t, "1", a["연결 번호"])
	require.Equal(t, "파기 결과 회신: 통보받음(수사종결 파기, 2026.5.3, 파기자 김길동)", a["비고"])

	d := row(t, validAutoDestruction())
	require.Equal(t, "30일 주기", d["기간"], "as seed 001 별표3 row 1")
	require.Equal(t, "2026-05-01 09:00", d["자동 삭제 확인 일시"])

	e.Redacted, e.CounterpartyOfficer, e.RequesterContact = true, "", ""
	require.Contains(t, row(t, e)["비고"], "개인정보 삭제됨")

	// S-8-1: a destroyed access record says so; its system and time are all that is left.
	acc := downloadRecord()
	Erase(acc)
	acc.Redacted = true
	r = row(t, acc)
	require.Equal(t, "(보유기간 경과로 파기됨)", r["비고"])
	require.Equal(t, "새올행정시스템", r["파일명/형태"])
	require.Empty(t, r["접속 계정"]+r["처리한 정보주체"]+r["목적/사유"])
}

func row(t *testing.T, e *ledgerv1.Entry) map[string]string {
	t.Helper()
	out := map[string]string{}
	cols := Columns()
	for i, v := range Row(e) {
		out[cols[i]] = v
	}
	return out
}

func TestWriteCSV_RoundTrip(t *testing.T) {
	var buf bytes.Buffer
	entries := exportEntries()
	require.NoError(t, WriteCSV(&buf, values(entries...), nil))
	require.True(t, bytes.HasPrefix(buf.Bytes(), []byte("\xEF\xBB\xBF")), "UTF-8 BOM for Excel")

	records, err := csv.NewReader(bytes.NewReader(buf.Bytes()[3:])).ReadAll()
	require.NoError(t, err)
	require.Len(t, records, 1+len(entries))
	require.Equal(t, Columns(), records[0])
	for i, e := range entries[:3] {
		require.Equal(t, Row(e), records[i+1], "row %d survives CSV as it is", i)
	}
	require.Contains(t, records[2], "수사 목적 외 이용 금지\n사건 종결 시 파기 후 회신 (C:\\evidence 사용 금지)", "multi-line cells are quoted")
	require.Contains(t, records[4], "'=HYPERLINK(\"http://evil\")", "no formula from a requester's name")
}

func TestWriteXLSX(t *testing.T) {
	var buf bytes.Buffer
	entries := exportEntries()
	require.NoError(t, WriteXLSX(&buf, values(entries...), nil))

	f, err := excelize.OpenReader(&buf)
	require.NoError(t, err)
	defer f.Close()
	require.Equal(t, []string{SheetName}, f.GetSheetList())

	h, err := f.GetCellValue(SheetName, "G1")
	require.NoError(t, err)
	require.Equal(t, "이용·제공받는 제3자/열람등 요구자", h)
	style, err := f.GetCellStyle(SheetName, "A1")
	require.NoError(t, err)
	st, err := f.GetStyle(style)
	require.NoError(t, err)
	require.True(t, st.Font != nil && st.Font.Bold, "bold header")
	w, err := f.GetColWidth(SheetName, "D")
	require.NoError(t, err)
	require.Equal(t, 32.0, w)

	got, err := f.GetCellValue(SheetName, "H3")
	require.NoError(t, err)
	require.Equal(t, "개인정보 보호법 제18조 제2항 제7호", got)
	typ, err := f.GetCellType(SheetName, "G5")
	require.NoError(t, err)
	require.NotEqual(t, excelize.CellTypeFormula, typ)
	formula, err := f.GetCellFormula(SheetName, "G5")
	require.NoError(t, err)
	require.Empty(t, formula, "text stays text")

	rows, err := f.GetRows(SheetName)
	require.NoError(t, err)
	require.Len(t, rows, 1+len(entries))
	require.Equal(t, "1", rows[2][0])
	require.Equal(t, "제공", rows[2][1])
}

func TestWriteXLSX_ClipsHugeCells(t *testing.T) {
	e := policeProvision()
	for range MaxItems {
		e.Items = append(e.Items, strings.Repeat("가", 1000))
	}
	var buf bytes.Buffer
	require.NoError(t, WriteXLSX(&buf, values(e), nil))
}

// countingWriter counts the bytes that reached it.
type countingWriter struct{ n int }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	return len(p), nil
}

// Rows reach the writer while the entries still come: an export never holds the whole ledger.
func TestWriteCSV_Streams(t *testing.T) {
	var w countingWriter
	const rows = 1000
	entries := func(yield func(*ledgerv1.Entry, error) bool) {
		for i := range int64(rows) {
			e := policeProvision()
			e.Index = i
			if i == rows-1 {
				require.Greater(t, w.n, rows/2*200, "the rows before the last were written")
			}
			if !yield(e, nil) {
				return
			}
		}
	}
	require.NoError(t, WriteCSV(&w, entries, nil))
}

// An export stops at its source's error; an XLSX file, written whole at the end, is then not
// written at all.
func TestWrite_StopsAtTheSourcesError(t *testing.T) {
	failed := errors.New("page 2 failed")
	entries := func(yield func(*ledgerv1.Entry, error) bool) {
		if yield(policeProvision(), nil) {
			yield(nil, failed)
		}
	}
	var buf bytes.Buffer
	require.ErrorIs(t, WriteCSV(&buf, entries, nil), failed)
	buf.Reset()
	require.ErrorIs(t, WriteXLSX(&buf, entries, nil), failed)
	require.Zero(t, buf.Len())
}

func TestFormKinds_STD_45_NotTheAccessLog(t *testing.T) {
	require.NotContains(t, FormKinds, ledgerv1.EntryKind_ENTRY_KIND_ACCESS)
	for _, k := range []ledgerv1.EntryKind{ledgerv1.EntryKind_ENTRY_KIND_USE, ledgerv1.EntryKind_ENTRY_KIND_PROVISION,
		ledgerv1.EntryKind_ENTRY_KIND_VIEWING, ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION} {
		require.Contains(t, FormKinds, k, "이용·제공·열람·파기")
	}
}

// Every kind has its 구분 in Korean, the server's LEDGER_KEY and REDACTION included.
func TestKindLabels(t *testing.T) {
	for k := range ledgerv1.EntryKind_name {
		if k != 0 {
			require.NotEmpty(t, kindLabel(ledgerv1.EntryKind(k)), ledgerv1.EntryKind(k).String())
		}
	}
}
