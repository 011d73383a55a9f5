package tenant

import (
	"encoding/csv"
	"fmt"
	"io"

	"github.com/xuri/excelize/v2"
)

// WriteXLSX writes a spreadsheet of one sheet: the headers in bold, then
// the rows, every cell text (a password such as "=1+2" stays text, never a
// formula).
func WriteXLSX(w io.Writer, sheet string, cols []Column, rows [][]string) error {
	f := excelize.NewFile()
	defer func() { _ = f.Close() }()
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return err
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	text, err := f.NewStyle(&excelize.Style{NumFmt: 49}) // "@": text
	if err != nil {
		return err
	}
	for i, c := range cols {
		cell, err := excelize.CoordinatesToCellName(i+1, 1)
		if err != nil {
			return err
		}
		if err := f.SetCellStr(sheet, cell, c.Header); err != nil {
			return err
		}
		if err := f.SetCellStyle(sheet, cell, cell, bold); err != nil {
			return err
		}
		name, _ := excelize.ColumnNumberToName(i + 1)
		if err := f.SetColWidth(sheet, name, name, 22); err != nil {
			return err
		}
	}
	for r, row := range rows {
		if len(row) != len(cols) {
			return fmt.Errorf("spreadsheet row %d has %d cells, not %d", r+1, len(row), len(cols))
		}
		for i, v := range row {
			cell, err := excelize.CoordinatesToCellName(i+1, r+2)
			if err != nil {
				return err
			}
			if err := f.SetCellStr(sheet, cell, v); err != nil {
				return err
			}
			if err := f.SetCellStyle(sheet, cell, cell, text); err != nil {
				return err
			}
		}
	}
	return f.Write(w)
}

// WriteSpreadsheetCSV writes the rows as CSV with a header line. Values are
// written as they are: a spreadsheet program may read a value starting
// with = + - @ as a formula, so open the CSV as text, or use the XLSX.
func WriteSpreadsheetCSV(w io.Writer, cols []Column, rows [][]string) error {
	cw := csv.NewWriter(w)
	head := make([]string, len(cols))
	for i, c := range cols {
		head[i] = c.Header
	}
	if err := cw.Write(head); err != nil {
		return err
	}
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	return cw.Error()
}

// ReadXLSX reads back the first sheet of a spreadsheet (tests, and a
// check after writing).
func ReadXLSX(r io.Reader) ([][]string, error) {
	f, err := excelize.OpenReader(r)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	return f.GetRows(f.GetSheetName(0))
}
