package outofbox

import (
	"strings"
	"unicode/utf8"

	"github.com/idsync/idsync/model"
)

// GeneratedName is a name the managed-domain rules gave an object of the
// domain instead of the one its metaverse object would give it: a cn, a
// userPrincipalName or a sAMAccountName (R4.4, R4.8).
type GeneratedName struct {
	Type      string `json:"type"` // user or group
	Name      string `json:"name"` // the metaverse's userPrincipalName or displayName
	MVID      string `json:"mvid"`
	DN        string `json:"dn"`
	Attribute string `json:"attribute"` // cn, userPrincipalName or sAMAccountName
	Wanted    string `json:"wanted"`
	Value     string `json:"value"`
	Reason    string `json:"reason"`
}

// GeneratedNames compares the names a domain object of type objType has
// (domain: its cn, userPrincipalName and sAMAccountName, as imported or
// about to be exported) with what its metaverse object's attributes (mv)
// would give, and says why each one that differs was generated. Names not
// set yet are not reported.
func GeneratedNames(objType, mvid, dn string, mv, domain model.Attrs) []GeneratedName {
	var out []GeneratedName
	name, samWanted := mv.First("displayName"), mv.First("displayName")
	if objType == "user" {
		name = mv.First("userPrincipalName")
		samWanted = mv.First("mailNickname")
		if samWanted == "" {
			samWanted, _, _ = strings.Cut(name, "@")
		}
	}
	add := func(attr, wanted, reason string) {
		v := domain.First(attr)
		if v == "" || wanted == "" || v == wanted {
			return
		}
		out = append(out, GeneratedName{Type: objType, Name: name, MVID: mvid, DN: dn, Attribute: attr, Wanted: wanted, Value: v, Reason: reason})
	}
	const taken = "another object of the domain has it, or wanted it in the same synchronization"
	if utf8.RuneCountInString(name) > CNMaxLen {
		add("cn", name, "longer than 64 characters, AD's limit for cn")
	} else {
		add("cn", name, taken)
	}
	if objType == "user" {
		add("userPrincipalName", name, taken+" (the same userPrincipalName in two forests, R4.4)")
	}
	switch {
	case utf8.RuneCountInString(samWanted) > SamMaxLen:
		add("sAMAccountName", samWanted, "longer than 20 characters, AD's limit for sAMAccountName")
	case samForbiddenRE.MatchString(samWanted):
		add("sAMAccountName", samWanted, `has characters a sAMAccountName cannot have ("/\[]:;|=,+*?<>@, control characters, a trailing period)`)
	default:
		add("sAMAccountName", samWanted, taken)
	}
	return out
}
