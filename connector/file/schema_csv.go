package file

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/idsync/idsync/model"
)

// csvDeclaredSchema returns the schema a CSV source declares through its
// header row: every column is an attribute of the fixed object type, whether
// or not any row has a value in it. It returns nil when the schema cannot be
// declared this way (LDIF, a target file, or object types from a column).
func (s *settings) csvDeclaredSchema() (*model.Schema, error) {
	if s.format != FormatCSV || s.target || s.fixedType == "" || s.typeCol != "" {
		return nil, nil
	}
	f, err := os.Open(s.path)
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = s.delim
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return &model.Schema{ObjectTypes: []model.ObjectTypeSchema{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s:1: read header: %w", s.name, err)
	}
	ot := model.ObjectTypeSchema{Name: s.fixedType, Attributes: []model.AttributeSchema{}}
	for i, col := range header {
		if i == 0 {
			col = strings.TrimPrefix(col, "\uFEFF")
		}
		if col == "" || col == s.dnCol {
			continue
		}
		t := s.typeOf(col)
		ot.Attributes = append(ot.Attributes, model.AttributeSchema{Name: col, Type: t, MultiValued: true})
	}
	slices.SortFunc(ot.Attributes, func(a, b model.AttributeSchema) int { return strings.Compare(a.Name, b.Name) })
	return &model.Schema{ObjectTypes: []model.ObjectTypeSchema{ot}}, nil
}
