package graph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/idsync/idsync/model"
)

// Object types.
const (
	TypeUser    = "user"
	TypeGroup   = "group"
	TypeContact = "contact"
)

// kind is the JSON shape of a Graph property.
type kind uint8

const (
	kString  kind = iota // a string
	kBool                // a boolean
	kStrings             // a collection of strings
	kRefs                // a navigation property to directory objects (members)
)

// attrDef maps one idsync attribute to a Graph property.
type attrDef struct {
	name     string // idsync attribute
	prop     string // Graph property; "" when Graph has none
	kind     kind
	readOnly bool // imported, never written
}

// objectType is one Graph collection.
type objectType struct {
	name  string // idsync object type
	coll  string // Graph collection: users, groups, contacts
	attrs []attrDef
}

func (o *objectType) attr(name string) *attrDef {
	for i := range o.attrs {
		if o.attrs[i].name == name {
			return &o.attrs[i]
		}
	}
	return nil
}

// objectTypes is the cloud directory model: the attribute names Azure AD
// Connect's connector gives the Entra ID objects, and their Graph v1.0
// properties.
var objectTypes = []*objectType{
	{name: TypeUser, coll: "users", attrs: []attrDef{
		{"sourceAnchor", "onPremisesImmutableId", kString, false},
		{"userPrincipalName", "userPrincipalName", kString, false},
		{"displayName", "displayName", kString, false},
		{"givenName", "givenName", kString, false},
		{"surname", "surname", kString, false},
		{"mail", "mail", kString, false},
		{"mailNickname", "mailNickname", kString, false},
		{"accountEnabled", "accountEnabled", kBool, false},
		{"department", "department", kString, false},
		{"jobTitle", "jobTitle", kString, false},
		{"telephoneNumber", "businessPhones", kStrings, false},
		{"mobile", "mobilePhone", kString, false},
		{"streetAddress", "streetAddress", kString, false},
		{"city", "city", kString, false},
		{"state", "state", kString, false},
		{"postalCode", "postalCode", kString, false},
		{"country", "country", kString, false},
		{"usageLocation", "usageLocation", kString, false},
		{"employeeId", "employeeId", kString, false},
		{"companyName", "companyName", kString, false},
		{"proxyAddresses", "proxyAddresses", kStrings, true},
		{"onPremisesSamAccountName", "onPremisesSamAccountName", kString, true},
		{"onPremisesDistinguishedName", "onPremisesDistinguishedName", kString, true},
		{"onPremisesDomainName", "onPremisesDomainName", kString, true},
		{"onPremisesSecurityIdentifier", "onPremisesSecurityIdentifier", kString, true},
		{"onPremisesUserPrincipalName", "onPremisesUserPrincipalName", kString, true},
		// Read by the managed-domain rules (R4.6); not written.
		{"passwordPolicies", "passwordPolicies", kString, true},
		// The Graph object id, which the anchor is too (R4.6, R4.7).
		{"objectId", "id", kString, true},
		{"facsimileTelephoneNumber", "faxNumber", kString, true},
		{"physicalDeliveryOfficeName", "officeLocation", kString, true},
		{"preferredLanguage", "preferredLanguage", kString, true},
	}},
	{name: TypeGroup, coll: "groups", attrs: []attrDef{
		// Graph has no settable immutable id on groups: sourceAnchor stays
		// in the connector space (never written, never imported).
		{"sourceAnchor", "", kString, true},
		{"displayName", "displayName", kString, false},
		{"description", "description", kString, false},
		{"mailNickname", "mailNickname", kString, false},
		{"mailEnabled", "mailEnabled", kBool, false},
		{"securityEnabled", "securityEnabled", kBool, false},
		{"groupTypes", "groupTypes", kStrings, false},
		{"mail", "mail", kString, true},
		{"proxyAddresses", "proxyAddresses", kStrings, true},
		{"objectId", "id", kString, true},
		{"member", "members", kRefs, false},
	}},
	// Graph cannot write organizational contacts: every attribute is
	// read-only, and exports of contacts fail (see errContactReadOnly).
	{name: TypeContact, coll: "contacts", attrs: []attrDef{
		{"displayName", "displayName", kString, true},
		{"givenName", "givenName", kString, true},
		{"surname", "surname", kString, true},
		{"mail", "mail", kString, true},
		{"mailNickname", "mailNickname", kString, true},
		{"proxyAddresses", "proxyAddresses", kStrings, true},
		{"companyName", "companyName", kString, true},
		{"department", "department", kString, true},
		{"jobTitle", "jobTitle", kString, true},
	}},
}

func typeByName(name string) *objectType {
	for _, o := range objectTypes {
		if o.name == name {
			return o
		}
	}
	return nil
}

// Schema returns the cloud directory model: user, group and contact with
// the attributes of the package documentation. It is static (the same for
// every tenant) and needs no connection.
func (c *Connector) Schema(context.Context) (*model.Schema, error) {
	s := &model.Schema{}
	for _, o := range objectTypes {
		ot := model.ObjectTypeSchema{Name: o.name}
		for _, a := range o.attrs {
			as := model.AttributeSchema{Name: a.name, Type: model.String}
			switch a.kind {
			case kBool:
				as.Type = model.Boolean
			case kStrings:
				as.MultiValued = true
			case kRefs:
				as.Type, as.MultiValued = model.Reference, true
			}
			ot.Attributes = append(ot.Attributes, as)
		}
		s.ObjectTypes = append(s.ObjectTypes, ot)
	}
	return s, nil
}

// clipRaw shows a JSON value in an error message.
func clipRaw(raw json.RawMessage) string {
	s := string(raw)
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// decodeValue converts a Graph property value to idsync values. null, an
// empty string and an empty collection are no value.
func decodeValue(a *attrDef, raw json.RawMessage) (model.Values, error) {
	v := model.Values{Type: model.String}
	if len(raw) == 0 || string(raw) == "null" {
		return v, nil
	}
	switch a.kind {
	case kString:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return v, fmt.Errorf("property %s: want a string, got %s", a.prop, clipRaw(raw))
		}
		if s != "" {
			v.Values = []string{s}
		}
	case kBool:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return v, fmt.Errorf("property %s: want true or false, got %s", a.prop, clipRaw(raw))
		}
		v.Type, v.Values = model.Boolean, []string{strconv.FormatBool(b)}
	case kStrings, kRefs:
		var list []*string
		if err := json.Unmarshal(raw, &list); err != nil {
			return v, fmt.Errorf("property %s: want a list of strings, got %s", a.prop, clipRaw(raw))
		}
		for _, s := range list {
			if s != nil && *s != "" {
				v.Values = append(v.Values, *s)
			}
		}
		if a.kind == kRefs {
			v.Type = model.Reference
		}
	}
	return v, nil
}

// encodeValue converts the values of a Replace to a Graph property value:
// null (or [] for a collection) when there are none.
func encodeValue(a *attrDef, t model.Type, values []string) (any, error) {
	switch a.kind {
	case kStrings:
		out := make([]string, 0, len(values))
		for _, v := range values {
			s, err := textOf(a, t, v)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	case kBool:
		switch len(values) {
		case 0:
			return nil, nil
		case 1:
			b, err := strconv.ParseBool(strings.TrimSpace(values[0]))
			if err != nil {
				return nil, fmt.Errorf("%s is a boolean in Graph: %q is neither true nor false", a.name, values[0])
			}
			return b, nil
		}
	default:
		switch len(values) {
		case 0:
			return nil, nil
		case 1:
			return textOf(a, t, values[0])
		}
	}
	return nil, fmt.Errorf("%s takes one value in Graph (%s), not %d", a.name, a.prop, len(values))
}

// textOf returns a value as text: binary values (an objectGUID flowed as
// sourceAnchor) in base64, as Azure AD Connect writes onPremisesImmutableId.
func textOf(a *attrDef, t model.Type, v string) (string, error) {
	if t == model.Binary {
		return base64.StdEncoding.EncodeToString([]byte(v)), nil
	}
	if !utf8.ValidString(v) {
		return "", fmt.Errorf("%s: the value is not valid UTF-8 text", a.name)
	}
	return v, nil
}
