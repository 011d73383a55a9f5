package file

import (
	"bufio"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"

	"github.com/idsync/idsync/model"
)

// csvObjects reads objects from a CSV file: a header row of column names,
// then one object per row.
type csvObjects struct {
	r      *csv.Reader
	s      *settings
	header []string
	cols   []csvCol
	names  map[string]int // lower-case attribute name → column
	done   bool
}

// csvCol is one column of a CSV file.
type csvCol struct {
	name string
	role int // colAttr, colDN or colType
	typ  model.Type
}

const (
	colAttr = iota
	colDN
	colType
)

func newCSVObjects(r io.Reader, s *settings) *csvObjects {
	cr := csv.NewReader(bufio.NewReaderSize(r, 64<<10))
	cr.Comma = s.delim
	cr.ReuseRecord = true
	return &csvObjects{r: cr, s: s, names: map[string]int{}}
}

func (co *csvObjects) errorf(line int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", co.s.name, line, fmt.Sprintf(format, args...))
}

// wrap gives csv package errors the file:line form.
func (co *csvObjects) wrap(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return co.errorf(pe.Line, "%v (the header has %d columns)", pe.Err, len(co.cols))
		}
		return co.errorf(pe.Line, "%v", pe.Err)
	}
	return fmt.Errorf("%s: %w", co.s.name, err)
}

// readHeader reads the header row and maps its columns. An empty file has
// no header and no objects.
func (co *csvObjects) readHeader() error {
	rec, err := co.r.Read()
	if err != nil {
		return err
	}
	co.header = slices.Clone(rec)
	co.header[0] = strings.TrimPrefix(co.header[0], "\uFEFF") // Excel's byte order mark
	role := map[string]int{}
	if co.s.dnCol != "" {
		role[strings.ToLower(co.s.dnCol)] = colDN
	}
	if co.s.typeCol != "" {
		role[strings.ToLower(co.s.typeCol)] = colType
	}
	seen := map[string]bool{}
	for i, name := range co.header {
		if name == "" {
			return co.errorf(1, "column %d has no name", i+1)
		}
		k := strings.ToLower(name)
		if seen[k] {
			return co.errorf(1, "column %q appears twice", name)
		}
		seen[k] = true
		c := csvCol{name: name, role: role[k], typ: co.s.typeOf(name)}
		if c.role == colAttr {
			co.names[k] = i
		}
		co.cols = append(co.cols, c)
	}
	for _, c := range []struct{ key, col string }{{"anchor", co.s.anchor}, {"dnColumn", co.s.dnCol}, {"objectTypeColumn", co.s.typeCol}} {
		if c.col != "" && !seen[strings.ToLower(c.col)] {
			return co.errorf(1, "the header has no column %q (the configured %s)", c.col, c.key)
		}
	}
	return nil
}

// next returns the next object and its line, or io.EOF.
func (co *csvObjects) next() (*model.Object, int, error) {
	if co.done {
		return nil, 0, io.EOF
	}
	if co.cols == nil {
		if err := co.readHeader(); err != nil {
			co.done = true
			if errors.Is(err, io.EOF) {
				return nil, 0, io.EOF
			}
			return nil, 0, co.wrap(err)
		}
	}
	rec, err := co.r.Read()
	if errors.Is(err, io.EOF) {
		co.done = true
		return nil, 0, io.EOF
	}
	if err != nil {
		return nil, 0, co.wrap(err)
	}
	line, _ := co.r.FieldPos(0)
	o := &model.Object{Type: co.s.fixedType, Attrs: model.Attrs{}}
	for i, cell := range rec {
		if cell == "" {
			continue
		}
		c := co.cols[i]
		switch c.role {
		case colDN:
			o.DN = cell
		case colType:
			o.Type = cell
		default:
			vals, err := co.values(c, cell)
			if err != nil {
				anchor, dn := co.rawAnchor(rec)
				return nil, line, asRecordError(anchor, dn, co.errorf(line, "column %q: %v", c.name, err))
			}
			if len(vals) > 0 {
				o.Attrs[c.name] = model.Values{Type: c.typ, Values: vals}
			}
		}
	}
	o.Anchor, err = co.s.anchorOf(o, co.names, func(i int) string { return co.cols[i].name })
	if err != nil {
		return nil, line, co.errorf(line, "%v", err)
	}
	return o, line, nil
}

// values splits a cell into its values and converts them to the column type.
func (co *csvObjects) values(c csvCol, cell string) ([]string, error) {
	vals := strings.Split(cell, co.s.sep)
	out := vals[:0]
	for _, v := range vals {
		if v == "" {
			continue
		}
		if c.typ == model.Binary {
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return nil, fmt.Errorf("invalid base64 value: %w", err)
			}
			v = string(b)
		}
		v, err := normalize(c.typ, v)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return dedupe(out), nil
}

// csvColumns returns the columns to write: those of header (the file's
// current header, nil for a new file) in their order, then the anchor, DN
// and object type columns if missing, then the other attributes of objs
// sorted by name. Attribute names match columns case-insensitively.
func (s *settings) csvColumns(header []string, objs iter.Seq[*model.Object]) []string {
	cols := slices.Clone(header)
	have := map[string]bool{}
	for _, c := range cols {
		have[strings.ToLower(c)] = true
	}
	add := func(name string) {
		if name != "" && !have[strings.ToLower(name)] {
			have[strings.ToLower(name)] = true
			cols = append(cols, name)
		}
	}
	add(s.dnCol)
	add(s.typeCol)
	add(s.anchor)
	var extra []string
	for o := range objs {
		for name := range o.Attrs {
			if k := strings.ToLower(name); !have[k] {
				have[k] = true
				extra = append(extra, name)
			}
		}
	}
	slices.Sort(extra)
	return append(cols, extra...)
}

// writeCSV writes objs, in the given order, with the header cols.
func (s *settings) writeCSV(w io.Writer, cols []string, objs iter.Seq[*model.Object]) error {
	cw := csv.NewWriter(w)
	cw.Comma = s.delim
	if err := cw.Write(cols); err != nil {
		return err
	}
	index := make(map[string]int, len(cols))
	for i, c := range cols {
		index[strings.ToLower(c)] = i
	}
	dnCol, typeCol := -1, -1
	if s.dnCol != "" {
		dnCol = index[strings.ToLower(s.dnCol)]
	}
	if s.typeCol != "" {
		typeCol = index[strings.ToLower(s.typeCol)]
	}
	row := make([]string, len(cols))
	for o := range objs {
		clear(row)
		if dnCol >= 0 {
			row[dnCol] = o.DN
		}
		if typeCol >= 0 {
			row[typeCol] = o.Type
		}
		for name, v := range o.Attrs {
			i, ok := index[strings.ToLower(name)]
			if !ok || i == dnCol || i == typeCol {
				return fmt.Errorf("%q: attribute %q has no column", o.Anchor, name)
			}
			cell, err := s.csvCell(name, v.Values)
			if err != nil {
				return fmt.Errorf("%q: %w", o.Anchor, err)
			}
			if row[i] != "" && cell != "" {
				row[i] += s.sep
			}
			row[i] += cell
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvCell joins values with the separator, base64-encoding binary ones.
func (s *settings) csvCell(name string, vals []string) (string, error) {
	binary := s.typeOf(name) == model.Binary
	var b strings.Builder
	for _, v := range vals {
		if v == "" {
			continue
		}
		if binary {
			v = base64.StdEncoding.EncodeToString([]byte(v))
		} else if strings.Contains(v, s.sep) {
			return "", fmt.Errorf("attribute %q: value %q contains the multi-value separator %q", name, clip(v), s.sep)
		}
		if b.Len() > 0 {
			b.WriteString(s.sep)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}
