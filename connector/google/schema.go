package google

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/idsync/idsync/model"
)

// Object types.
const (
	TypeUser  = "user"
	TypeGroup = "group"
)

type attr struct {
	name  string
	typ   model.Type
	multi bool
}

type objectType struct {
	name  string
	attrs []attr
}

// objectTypes is the model the connector imports: the attribute names of
// the graph connector where the meaning is the same (so that rules written
// for an Entra ID source read a Google one), Google's otherwise.
var objectTypes = []objectType{
	{TypeUser, []attr{
		{"primaryEmail", model.String, false},
		{"mail", model.String, false},
		{"displayName", model.String, false},
		{"givenName", model.String, false},
		{"surname", model.String, false},
		{"accountEnabled", model.Boolean, false},
		{"archived", model.Boolean, false},
		{"isAdmin", model.Boolean, false},
		{"orgUnitPath", model.String, false},
		{"emails", model.String, true},
		{"aliases", model.String, true},
		{"telephoneNumber", model.String, true},
		{"mobile", model.String, false},
		{"phones", model.String, true},
		{"jobTitle", model.String, false},
		{"department", model.String, false},
		{"employeeId", model.String, false},
		{"creationTime", model.DateTime, false},
	}},
	{TypeGroup, []attr{
		{"mail", model.String, false},
		{"displayName", model.String, false},
		{"description", model.String, false},
		{"aliases", model.String, true},
		{"member", model.Reference, true},
		{"externalMember", model.String, true},
		{"allUsersMember", model.Boolean, false},
	}},
}

// Schema returns the static model of the package documentation; it needs
// no connection.
func (c *Connector) Schema(context.Context) (*model.Schema, error) {
	s := &model.Schema{}
	for _, ot := range objectTypes {
		ts := model.ObjectTypeSchema{Name: ot.name}
		for _, a := range ot.attrs {
			ts.Attributes = append(ts.Attributes, model.AttributeSchema{Name: a.name, Type: a.typ, MultiValued: a.multi})
		}
		s.ObjectTypes = append(s.ObjectTypes, ts)
	}
	return s, nil
}

// user is the part of a Directory API user resource the connector reads.
type user struct {
	PrimaryEmail string `json:"primaryEmail"`
	Name         *struct {
		GivenName  string `json:"givenName"`
		FamilyName string `json:"familyName"`
		FullName   string `json:"fullName"`
	} `json:"name"`
	Suspended          *bool    `json:"suspended"`
	Archived           *bool    `json:"archived"`
	IsAdmin            *bool    `json:"isAdmin"`
	OrgUnitPath        string   `json:"orgUnitPath"`
	Aliases            []string `json:"aliases"`
	NonEditableAliases []string `json:"nonEditableAliases"`
	// emails, phones, organizations and externalIds are lists of objects
	// (the API documents them as "value"; users.list always returns lists).
	Emails []struct {
		Address string `json:"address"`
		Primary bool   `json:"primary"`
	} `json:"emails"`
	Phones []struct {
		Value   string `json:"value"`
		Type    string `json:"type"`
		Primary bool   `json:"primary"`
	} `json:"phones"`
	Organizations []struct {
		Title      string `json:"title"`
		Department string `json:"department"`
		Primary    bool   `json:"primary"`
	} `json:"organizations"`
	ExternalIDs []struct {
		Value string `json:"value"`
		Type  string `json:"type"`
	} `json:"externalIds"`
	CreationTime string `json:"creationTime"`
}

// anchorOf reads the id of a resource; the returned object carries it.
func anchorOf(typ string, raw json.RawMessage) (*model.Object, error) {
	o := &model.Object{Type: typ, Attrs: model.Attrs{}}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return o, fmt.Errorf("not a JSON object: %s", clip(string(raw), 60))
	}
	o.Anchor = rawStr(m["id"])
	if o.Anchor == "" {
		return o, fmt.Errorf("the resource has no id: %s", clip(string(raw), 60))
	}
	return o, nil
}

// shapeError names the field of a resource that has an unexpected type.
func shapeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("field %s: want %s, got a JSON %s", te.Field, te.Type, te.Value)
	}
	return err
}

func setStr(o *model.Object, want func(string) bool, name string, v ...string) {
	var vals []string
	for _, s := range v {
		if s != "" && !contains(vals, s) {
			vals = append(vals, s)
		}
	}
	if want(name) && len(vals) > 0 {
		o.Attrs.Set(name, model.Str(vals...))
	}
}

func setBool(o *model.Object, want func(string) bool, name string, b bool) {
	if want(name) {
		o.Attrs.Set(name, model.Values{Type: model.Boolean, Values: []string{strconv.FormatBool(b)}})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// decodeUser converts a user resource; want says which attributes the
// rules read. On error the object carries the anchor when it was read.
func decodeUser(raw json.RawMessage, want func(string) bool) (*model.Object, error) {
	o, err := anchorOf(TypeUser, raw)
	if err != nil {
		return o, err
	}
	var u user
	if err := json.Unmarshal(raw, &u); err != nil {
		return o, shapeError(err)
	}
	setStr(o, want, "primaryEmail", u.PrimaryEmail)
	setStr(o, want, "mail", u.PrimaryEmail)
	if u.Name != nil {
		setStr(o, want, "displayName", u.Name.FullName)
		setStr(o, want, "givenName", u.Name.GivenName)
		setStr(o, want, "surname", u.Name.FamilyName)
	}
	// A user resource always has suspended; a missing one is not taken
	// for enabled.
	if u.Suspended != nil {
		setBool(o, want, "accountEnabled", !*u.Suspended)
	}
	if u.Archived != nil {
		setBool(o, want, "archived", *u.Archived)
	}
	if u.IsAdmin != nil {
		setBool(o, want, "isAdmin", *u.IsAdmin)
	}
	setStr(o, want, "orgUnitPath", u.OrgUnitPath)
	var emails []string
	for _, e := range u.Emails {
		emails = append(emails, e.Address)
	}
	setStr(o, want, "emails", emails...)
	setStr(o, want, "aliases", append(append([]string(nil), u.Aliases...), u.NonEditableAliases...)...)
	var work, all []string
	mobile := ""
	for _, p := range u.Phones {
		all = append(all, p.Value)
		switch p.Type {
		case "work":
			work = append(work, p.Value)
		case "mobile", "work_mobile":
			if mobile == "" || p.Primary {
				mobile = p.Value
			}
		}
	}
	setStr(o, want, "telephoneNumber", work...)
	setStr(o, want, "mobile", mobile)
	setStr(o, want, "phones", all...)
	for i, org := range u.Organizations {
		if org.Primary || i == 0 {
			delete(o.Attrs, "jobTitle")
			delete(o.Attrs, "department")
			setStr(o, want, "jobTitle", org.Title)
			setStr(o, want, "department", org.Department)
		}
		if org.Primary {
			break
		}
	}
	for _, id := range u.ExternalIDs {
		if id.Type == "organization" {
			setStr(o, want, "employeeId", id.Value)
			break
		}
	}
	if u.CreationTime != "" && want("creationTime") {
		t, err := time.Parse(time.RFC3339Nano, u.CreationTime)
		if err != nil {
			return o, fmt.Errorf("field creationTime: %q is not an RFC 3339 time", clip(u.CreationTime, 40))
		}
		o.Attrs.Set("creationTime", model.Values{Type: model.DateTime, Values: []string{t.UTC().Format(time.RFC3339)}})
	}
	return o, nil
}

// decodeGroup converts a group resource (members are read separately).
func decodeGroup(raw json.RawMessage, want func(string) bool) (*model.Object, error) {
	o, err := anchorOf(TypeGroup, raw)
	if err != nil {
		return o, err
	}
	var g struct {
		Email              string   `json:"email"`
		Name               string   `json:"name"`
		Description        string   `json:"description"`
		Aliases            []string `json:"aliases"`
		NonEditableAliases []string `json:"nonEditableAliases"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		return o, shapeError(err)
	}
	setStr(o, want, "mail", g.Email)
	setStr(o, want, "displayName", g.Name)
	setStr(o, want, "description", strings.TrimSpace(g.Description))
	setStr(o, want, "aliases", append(append([]string(nil), g.Aliases...), g.NonEditableAliases...)...)
	return o, nil
}
