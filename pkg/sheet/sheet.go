// Package sheet writes a table for an officer to open in a spreadsheet or upload to a government
// portal: CSV (UTF-8 with a BOM so that Excel reads Korean, CRLF as RFC 4180 has it, cells a
// spreadsheet would run as formulas defused) or one XLSX sheet through github.com/xuri/excelize/v2
// (the maintained pure-Go XLSX library: bold frozen header, column widths, text cells). The
// ledger's 별지 제3호 export and the registry's PIPC registration form share it.
package sheet

import (
	"encoding/csv"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
)

// Column is a column of a table.
type Column struct {
	Header string
	// Width is the XLSX column width, in characters.
	Width float64
	// Number: the cells are integers, written as numbers in XLSX so that the sheet sorts by them.
	Number bool
}

// MaxCellChars is Excel's limit on the text of one cell.
const MaxCellChars = 32767

// WriteCSV writes the header and rows as CSV. An error of rows ends the writing with it.
func WriteCSV(w io.Writer, cols []Column, rows iter.Seq2[[]string, error]) error {
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true // RFC 4180
	header := make([]string, len(cols))
	for i, c := range cols {
		header[i] = c.Header
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	for row, err := range rows {
		if err != nil {
			return err
		}
		for i, c := range row {
			row[i] = defuse(c)
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// defuse keeps a cell from being read as a formula (CSV injection).
func defuse(s string) string {
	// A lone "-" is the forms' usual "해당없음" mark (seed 001 별표3) and no formula.
	if s != "" && s != "-" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// WriteXLSX writes the header and rows as one XLSX sheet named name. Rows go through excelize's
// StreamWriter, which keeps them in a temporary file beyond 16 MiB, so a long table does not sit
// in memory as cells; the file is written to w once the last row is in, so an error of rows
// returns before anything is written. Cells are text (never formulas), except Number columns.
func WriteXLSX(w io.Writer, name string, cols []Column, rows iter.Seq2[[]string, error]) (err error) {
	f := excelize.NewFile()
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	if err := f.SetSheetName(f.GetSheetName(0), name); err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	sw, err := f.NewStreamWriter(name)
	if err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	for i, c := range cols {
		if err := sw.SetColWidth(i+1, i+1, c.Width); err != nil {
			return fmt.Errorf("xlsx: %w", err)
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	header := make([]any, len(cols))
	for i, c := range cols {
		header[i] = excelize.Cell{StyleID: bold, Value: c.Header}
	}
	if err := sw.SetRow("A1", header); err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	n := 1 // the header's
	for row, err := range rows {
		if err != nil {
			return err
		}
		cells := make([]any, len(row))
		for i, v := range row {
			cells[i] = clip(v)
			if i < len(cols) && cols[i].Number {
				if num, err := strconv.ParseInt(v, 10, 64); err == nil {
					cells[i] = num
				}
			}
		}
		n++
		cell, err := excelize.CoordinatesToCellName(1, n)
		if err != nil {
			return fmt.Errorf("xlsx: %w", err)
		}
		if err := sw.SetRow(cell, cells); err != nil {
			return fmt.Errorf("xlsx: row %d: %w", n, err)
		}
	}
	if err := sw.Flush(); err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	return f.Write(w)
}

// clip keeps a cell within Excel's limit; the CSV keeps all.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= MaxCellChars {
		return s
	}
	r := []rune(s)
	return string(r[:MaxCellChars-1]) + "…"
}
