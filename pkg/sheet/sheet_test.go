package sheet

import (
	"bytes"
	"errors"
	"iter"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"
)

var cols = []Column{{Header: "번호", Width: 6, Number: true}, {Header: "명칭", Width: 20}}

func rowsOf(rs ...[]string) iter.Seq2[[]string, error] {
	return func(yield func([]string, error) bool) {
		for _, r := range rs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// A CSV opens in Excel as UTF-8 and never runs a cell as a formula.
func TestCSV(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteCSV(&b, cols, rowsOf([]string{"1", "=HYPERLINK(\"x\")"}, []string{"2", "-"})))
	require.Equal(t, "\uFEFF번호,명칭\r\n1,\"'=HYPERLINK(\"\"x\"\")\"\r\n2,-\r\n", b.String())
}

// An XLSX has the header and text cells, never formulas, clipped to Excel's limit; an error of the
// rows writes nothing.
func TestXLSX(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteXLSX(&b, "등록", cols, rowsOf([]string{"7", "=1+1"}, []string{"8", strings.Repeat("가", MaxCellChars+5)})))
	f, err := excelize.OpenReader(&b)
	require.NoError(t, err)
	defer f.Close()
	rows, err := f.GetRows("등록")
	require.NoError(t, err)
	require.Equal(t, []string{"번호", "명칭"}, rows[0])
	require.Equal(t, []string{"7", "=1+1"}, rows[1])
	formula, err := f.GetCellFormula("등록", "B2")
	require.NoError(t, err)
	require.Empty(t, formula, "text, not a formula")
	require.Len(t, []rune(rows[2][1]), MaxCellChars, "clipped to Excel's limit")

	b.Reset()
	boom := errors.New("boom")
	err = WriteXLSX(&b, "등록", cols, func(yield func([]string, error) bool) { yield(nil, boom) })
	require.ErrorIs(t, err, boom)
	require.Zero(t, b.Len())
}
