package file

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/idsync/idsync/model"
)

// Config is the configuration block of a file connector. See the package
// documentation for the meaning of each key.
type Config struct {
	Path                string            `yaml:"path" json:"path"`
	Format              string            `yaml:"format,omitempty" json:"format,omitempty"`
	Target              bool              `yaml:"target,omitempty" json:"target,omitempty"`
	Anchor              string            `yaml:"anchor,omitempty" json:"anchor,omitempty"`
	ObjectType          string            `yaml:"objectType,omitempty" json:"objectType,omitempty"`
	ObjectTypes         map[string]string `yaml:"objectTypes,omitempty" json:"objectTypes,omitempty"`
	Types               map[string]string `yaml:"types,omitempty" json:"types,omitempty"`
	DNColumn            string            `yaml:"dnColumn,omitempty" json:"dnColumn,omitempty"`
	ObjectTypeColumn    string            `yaml:"objectTypeColumn,omitempty" json:"objectTypeColumn,omitempty"`
	MultiValueSeparator string            `yaml:"multiValueSeparator,omitempty" json:"multiValueSeparator,omitempty"`
	Delimiter           string            `yaml:"delimiter,omitempty" json:"delimiter,omitempty"`
}

// File formats.
const (
	FormatLDIF = "ldif"
	FormatCSV  = "csv"
)

// DefaultObjectTypes maps LDAP object classes to idsync object types; it is
// used for LDIF files when neither objectType nor objectTypes is configured.
// Treat it as read-only.
var DefaultObjectTypes = map[string]string{
	"user":               "user",
	"inetOrgPerson":      "person",
	"group":              "group",
	"groupOfNames":       "group",
	"groupOfUniqueNames": "group",
	"contact":            "contact",
}

// DefaultTypes are the attribute types used unless the types key overrides
// them; every other attribute is a string. Treat it as read-only.
var DefaultTypes = map[string]string{
	"member":     "reference",
	"manager":    "reference",
	"memberOf":   "reference",
	"objectGUID": "binary",
	"objectSid":  "binary",
}

// settings is a validated Config.
type settings struct {
	path      string
	name      string // file name used in error messages
	format    string
	target    bool
	anchor    string            // anchor attribute; "" = the DN
	fixedType string            // object type of every object, when set
	classes   map[string]string // lower-case object class → object type
	types     map[string]model.Type
	dnCol     string
	typeCol   string
	sep       string
	delim     rune
}

// newSettings validates cfg and fills in the defaults.
func newSettings(cfg Config) (*settings, error) {
	if cfg.Path == "" {
		return nil, errors.New("path is required")
	}
	s := &settings{path: cfg.Path, name: cfg.Path, target: cfg.Target, anchor: cfg.Anchor, fixedType: cfg.ObjectType}
	s.format = strings.ToLower(cfg.Format)
	if s.format == "" {
		switch strings.ToLower(filepath.Ext(cfg.Path)) {
		case ".ldif", ".ldf":
			s.format = FormatLDIF
		case ".csv":
			s.format = FormatCSV
		default:
			return nil, fmt.Errorf("cannot tell the format of %q from its extension: set format to %q or %q", cfg.Path, FormatLDIF, FormatCSV)
		}
	}
	if s.format != FormatLDIF && s.format != FormatCSV {
		return nil, fmt.Errorf("unknown format %q (want %q or %q)", cfg.Format, FormatLDIF, FormatCSV)
	}

	s.types = map[string]model.Type{}
	for _, m := range []map[string]string{DefaultTypes, cfg.Types} {
		for attr, name := range m {
			t, err := model.ParseType(name)
			if err != nil {
				return nil, fmt.Errorf("types: %s: %w", attr, err)
			}
			s.types[strings.ToLower(attr)] = t
		}
	}

	classes := DefaultObjectTypes
	if cfg.ObjectTypes != nil {
		classes = cfg.ObjectTypes
	}
	s.classes = make(map[string]string, len(classes))
	for k, v := range classes {
		s.classes[strings.ToLower(k)] = v
	}

	if s.format == FormatLDIF {
		if cfg.DNColumn != "" || cfg.ObjectTypeColumn != "" || cfg.MultiValueSeparator != "" || cfg.Delimiter != "" {
			return nil, errors.New("dnColumn, objectTypeColumn, multiValueSeparator and delimiter apply to CSV files only")
		}
		return s, nil
	}

	if cfg.ObjectTypes != nil {
		return nil, errors.New("objectTypes applies to LDIF files only: use objectType or objectTypeColumn")
	}
	if s.anchor == "" {
		return nil, errors.New("anchor is required for CSV files (the column holding a unique, stable identifier, e.g. employeeID)")
	}
	if s.fixedType == "" {
		s.fixedType = "person"
	}
	s.dnCol, s.typeCol = cfg.DNColumn, cfg.ObjectTypeColumn
	s.sep = cfg.MultiValueSeparator
	if s.sep == "" {
		s.sep = ";"
	}
	s.delim = ','
	if cfg.Delimiter != "" {
		r, n := utf8.DecodeRuneInString(cfg.Delimiter)
		if n != len(cfg.Delimiter) || r == '"' || r == '\r' || r == '\n' || r == utf8.RuneError {
			return nil, fmt.Errorf("invalid delimiter %q: want one character other than a quote or newline", cfg.Delimiter)
		}
		s.delim = r
	}
	if strings.ContainsRune(s.sep, s.delim) || strings.ContainsFunc(s.sep, func(r rune) bool {
		return r == '"' || r == '\r' || r == '\n' || r == '+' || r == '/' || r == '=' || unicode.IsLetter(r) || unicode.IsDigit(r)
	}) {
		return nil, fmt.Errorf("invalid multiValueSeparator %q: it must not contain the delimiter, a quote, a newline, a letter, a digit or a base64 character (+/=)", s.sep)
	}
	cols := map[string]string{}
	for _, c := range [][2]string{{"anchor", s.anchor}, {"dnColumn", s.dnCol}, {"objectTypeColumn", s.typeCol}} {
		if c[1] == "" {
			continue
		}
		if prev, dup := cols[strings.ToLower(c[1])]; dup {
			return nil, fmt.Errorf("%s and %s name the same column %q", prev, c[0], c[1])
		}
		cols[strings.ToLower(c[1])] = c[0]
	}
	return s, nil
}

// typeOf returns the configured type of an attribute.
func (s *settings) typeOf(attr string) model.Type {
	return s.types[strings.ToLower(attr)]
}

// objectType derives an object's type: the fixed type, else the mapping of
// the last object class that has one, else the last object class.
func (s *settings) objectType(classes []string) (string, error) {
	if s.fixedType != "" {
		return s.fixedType, nil
	}
	for i := len(classes) - 1; i >= 0; i-- {
		if t, ok := s.classes[strings.ToLower(classes[i])]; ok {
			return t, nil
		}
	}
	if len(classes) > 0 {
		return classes[len(classes)-1], nil
	}
	return "", errors.New("the object has no objectClass (set objectType to give all objects one type)")
}
