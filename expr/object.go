package expr

import "github.com/idsync/idsync/model"

// Object is an expression environment made of given attributes and
// parameters: what `idsync expr eval` and the console's expression tester
// evaluate an expression on. Its imported values are its values.
type Object struct {
	Attrs  model.Attrs
	Params map[string]string
}

// Attr returns an attribute's values.
func (o Object) Attr(name string) model.Values { return o.Attrs[name] }

// ImportedValue returns an attribute's values.
func (o Object) ImportedValue(name string) model.Values { return o.Attrs[name] }

// Param returns a parameter ("" when not given).
func (o Object) Param(name string) string { return o.Params[name] }
