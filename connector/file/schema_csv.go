package file

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/idsync/idsync/model"
)

// csvDeclaredSchema returns the schema a CSV source declares through its
// header row: every attribute column is an attribute of the fixed object
// type, whether or not any row has a value in it. It returns nil when the
// schema cannot be declared this way (LDIF, a target file, or object types
// from a column). The header is read and checked exactly as an import does.
func (s *settings) csvDeclaredSchema() (*model.Schema, error) {
	if s.format != FormatCSV || s.target || s.fixedType == "" || s.typeCol != "" {
		return nil, nil
	}
	f, err := os.Open(s.path)
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	defer f.Close()
	co := newCSVObjects(f, s)
	if err := co.readHeader(); err != nil {
		if errors.Is(err, io.EOF) {
			return &model.Schema{ObjectTypes: []model.ObjectTypeSchema{}}, nil
		}
		return nil, co.wrap(err)
	}
	ot := model.ObjectTypeSchema{Name: s.fixedType, Attributes: []model.AttributeSchema{}}
	for _, c := range co.cols {
		if c.role == colAttr {
			ot.Attributes = append(ot.Attributes, model.AttributeSchema{Name: c.name, Type: c.typ, MultiValued: true})
		}
	}
	slices.SortFunc(ot.Attributes, func(a, b model.AttributeSchema) int { return strings.Compare(a.Name, b.Name) })
	return &model.Schema{ObjectTypes: []model.ObjectTypeSchema{ot}}, nil
}
