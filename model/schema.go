package model

// Schema describes the object types and attributes a connector offers, so
// that rules and the UI can name real attributes with their types.
type Schema struct {
	ObjectTypes []ObjectTypeSchema `json:"objectTypes"`
	// Inferred is true when the schema was derived from the data (a file)
	// rather than declared by the system: an attribute no object has yet is
	// missing from it. Validation then checks only what rules read from the
	// connector, not what they write to it.
	Inferred bool `json:"inferred,omitempty"`
}

// ObjectTypeSchema is one object type of a schema.
type ObjectTypeSchema struct {
	Name       string            `json:"name"`
	Attributes []AttributeSchema `json:"attributes"`
}

// AttributeSchema is one attribute of an object type.
type AttributeSchema struct {
	Name        string `json:"name"`
	Type        Type   `json:"type"`
	MultiValued bool   `json:"multiValued,omitempty"`
}

// ObjectType returns the named object type, or nil.
func (s *Schema) ObjectType(name string) *ObjectTypeSchema {
	if s == nil {
		return nil
	}
	for i := range s.ObjectTypes {
		if s.ObjectTypes[i].Name == name {
			return &s.ObjectTypes[i]
		}
	}
	return nil
}

// Attribute returns the named attribute, or nil.
func (o *ObjectTypeSchema) Attribute(name string) *AttributeSchema {
	if o == nil {
		return nil
	}
	for i := range o.Attributes {
		if o.Attributes[i].Name == name {
			return &o.Attributes[i]
		}
	}
	return nil
}
