package outofbox

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/idsync/idsync/rules"
)

// ManagedDomain says which connectors the managed-domain rules are for
// (R4): the metaverse's users and groups flow one way into an Active
// Directory domain, every one into OU=AADDC Users. Its rules take
// precedences 260–269.
type ManagedDomain struct {
	// Source is the cloud directory connector the metaverse gets its users
	// and groups from; empty when the metaverse is fed otherwise (the
	// out-of-box forest rules, rules of your own).
	Source string
	// Target is the managed domain's Active Directory connector.
	Target string
	// BaseDN is the domain's naming context (DC=aaddscontoso,DC=com), or
	// any container under which OU=AADDC Users is to be.
	BaseDN string
	// SourcePassword is the attribute of Source's users that carries a
	// password (an initial password set at onboarding), flowed into the
	// metaverse's password; empty when the source carries none.
	SourcePassword string
	// AzureADAttributes writes mailNickname to msDS-AzureADMailNickname
	// and objectId to msDS-AzureADObjectId (R4.6, R4.7): attributes of an
	// Entra Domain Services managed domain that a stock AD schema lacks,
	// so only for a domain whose schema has them.
	AzureADAttributes bool
}

// PasswordAttribute is the metaverse attribute holding the password idsync
// knows for a user; the rules write it to unicodePwd. It is secret by
// default (internal/secret): sealed in the store, masked everywhere.
const PasswordAttribute = "password"

// ManagedContainer is the RDN of the container every synchronized user and
// group lands in (R4.4).
const ManagedContainer = "OU=AADDC Users"

// SamMaxLen is the longest sAMAccountName Active Directory accepts for a
// user or group (R4.8).
const SamMaxLen = 20

// samForbidden matches what a sAMAccountName must not contain: the
// characters AD refuses, "@" (reserved for the UPN), control characters,
// and trailing periods. A regular expression of the provisioning dialect's
// Replace.
const samForbidden = `["/\\\[\]:;|=,+*?<>@\x00-\x1F]|\.+$`

var samForbiddenRE = regexp.MustCompile(samForbidden)

// SamAccountName is the provisioning-dialect expression of a new object's
// sAMAccountName (R4.8), from name (an expression: mailNickname or the UPN
// prefix, a group's displayName) and key (an expression unique to the
// object: its userPrincipalName, a group's displayName). The candidates, the
// first free one in the target's connector space wins:
//
//  1. name itself, when it has at most 20 characters and none AD forbids;
//  2. the first 15 characters of name without accents and forbidden
//     characters, followed by the 5-character ShortHash of key;
//  3. its first 12 followed by an 8-character ShortHash of key&"#2";
//  4. the 20-character ShortHash of key&"#3".
//
// A generated name is thus at most 20 characters, valid, and the same for
// the same name and key; the rules set it once, at creation (applyOnce), so
// that it never changes after.
func SamAccountName(name, key string) string {
	clean := func(x string) string {
		return `Replace(` + x + `, , ` + exprString(samForbidden) + `, , "", , )`
	}
	base := clean(`NormalizeDiacritics(` + name + `)`)
	return `SelectUniqueValue(` + strings.Join([]string{
		fmt.Sprintf(`IIF(%s = %s && Left(%s, %d) = %s, %s, NULL)`, clean(name), name, name, SamMaxLen, name, name),
		fmt.Sprintf(`Left(%s, 15) & ShortHash(%s, 5)`, base, key),
		fmt.Sprintf(`Left(%s, 12) & ShortHash(%s & "#2", 8)`, base, key),
		fmt.Sprintf(`ShortHash(%s & "#3", %d)`, key, SamMaxLen),
	}, ", ") + `)`
}

// CNMaxLen is the longest cn — the RDN value of a user or group — Active
// Directory accepts.
const CNMaxLen = 64

// CommonName is the provisioning-dialect expression of a new object's cn,
// which names it in OU=AADDC Users (its DN is CN={@cn}), from name (the
// userPrincipalName, a group's displayName) and key (an expression unique
// to the object, ObjectKey). The first candidate no other object of the
// domain has wins:
//
//  0. the cn the object has, while it is still one of the candidates below
//     (so that a generated cn stays: no renames back and forth when two
//     objects want the same name);
//  1. name itself, when it has at most 64 characters;
//  2. its first 56 characters, then " (" + the 5-character ShortHash of
//     key + ")": 64 characters at most;
//  3. its first 53, then " (" + an 8-character ShortHash of key&"#2" + ")".
//
// Two objects with the same name (two forests' users with one
// userPrincipalName, R4.4) thus get different cns, and a name longer than
// AD allows a cn of at most 64 characters, the same for the same input.
func CommonName(name, key string) string {
	cur := `ImportedValue("cn")`
	c1 := fmt.Sprintf(`IIF(Left(%s, %d) = %s, %s, NULL)`, name, CNMaxLen, name, name)
	c2 := fmt.Sprintf(`Left(%s, %d) & " (" & ShortHash(%s, 5) & ")"`, name, CNMaxLen-8, key)
	c3 := fmt.Sprintf(`Left(%s, %d) & " (" & ShortHash(%s & "#2", 8) & ")"`, name, CNMaxLen-11, key)
	return sticky(cur, c1, c2, c3)
}

// sticky is SelectUniqueValue over the candidates, preceded by the current
// value cur when it is one of them.
func sticky(cur string, cands ...string) string {
	same := make([]string, len(cands))
	for i, c := range cands {
		same[i] = cur + " = " + c
	}
	keep := fmt.Sprintf(`IIF(IsPresent(%s) && (%s), %s, NULL)`, cur, strings.Join(same, " || "), cur)
	return `SelectUniqueValue(` + strings.Join(append([]string{keep}, cands...), ", ") + `)`
}

// UserPrincipalName is the provisioning-dialect expression of a user's
// userPrincipalName in the domain, which AD (and Samba) keep unique: the
// metaverse's, unless another account has it — the same UPN coming from
// two forests (R4.4) — then its prefix, "-", a ShortHash of key (5, then 8
// characters) and its suffix: jdoe@contoso.com → jdoe-k3x9q@contoso.com.
// Like CommonName, a generated one stays while the metaverse's UPN is the
// same.
func UserPrincipalName(key string) string {
	upn := `[userPrincipalName]`
	pre, suf := `Item(Split([userPrincipalName], "@"), 1)`, `Item(Split([userPrincipalName], "@"), 2)`
	return sticky(`ImportedValue("userPrincipalName")`, upn,
		fmt.Sprintf(`%s & "-" & ShortHash(%s, 5) & "@" & %s`, pre, key, suf),
		fmt.Sprintf(`%s & "-" & ShortHash(%s & "#2", 8) & "@" & %s`, pre, key, suf))
}

// The managed domain's expressions.
const (
	// UserKey and GroupKey tell objects apart in generated names: the
	// cloud objectId, else the sourceAnchor the forest rules give, else
	// the name.
	UserKey  = `Coalesce([objectId], [sourceAnchor], ToLower([userPrincipalName]))`
	GroupKey = `Coalesce([objectId], [sourceAnchor], ToLower([displayName]))`
	// UserSamName is what a user's sAMAccountName comes from: mailNickname,
	// or the userPrincipalName's prefix.
	UserSamName = `IIF(IsNullOrEmpty([mailNickname]), Item(Split([userPrincipalName], "@"), 1), [mailNickname])`
	// UserSamKey makes a user's generated sAMAccountName its own.
	UserSamKey = UserKey
	// GroupSamName and GroupSamKey: a group's sAMAccountName comes from
	// its displayName (R4.7).
	GroupSamName = `[displayName]`
	GroupSamKey  = GroupKey
	// UserAccountControl is NORMAL_ACCOUNT (0x200), with ACCOUNT_DISABLED
	// (0x2) when accountEnabled is false and DONT_EXPIRE_PASSWORD (0x10000)
	// when passwordPolicies has DisablePasswordExpiration (R4.6).
	UserAccountControl = `512 + IIF([accountEnabled] = False, 2, 0) + IIF(IsPresent([passwordPolicies]) && InStr(Join([passwordPolicies], ","), "DisablePasswordExpiration") > 0, 65536, 0)`
	// GroupType is a global security group (0x80000002) when
	// securityEnabled is true, a global distribution group (2) otherwise.
	GroupType = `IIF([securityEnabled] = True, -2147483646, 2)`
)

// attrName matches an attribute name that can go into the rule file as it
// is.
var attrName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]*$`)

// exprString quotes s as a string literal of the expression language.
func exprString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// ManagedDomainFiles renders the managed-domain rules (R4): the inbound
// rules from the cloud directory when Source is set, the outbound rules to
// the managed domain. Immutable.
func ManagedDomainFiles(m ManagedDomain) ([]*rules.File, error) {
	if m.Target == "" {
		return nil, errors.New("outOfBox.managedDomain.target: name the managed domain's Active Directory connector")
	}
	if m.Source == m.Target {
		return nil, fmt.Errorf("outOfBox.managedDomain: source and target are both %q; the source is the cloud directory, the target the managed domain", m.Target)
	}
	if err := CheckBaseDN(m.BaseDN); err != nil {
		return nil, err
	}
	if m.SourcePassword != "" && m.Source == "" {
		return nil, errors.New("outOfBox.managedDomain.sourcePassword: names an attribute of the source's users; set source too")
	}
	if m.SourcePassword != "" && !attrName.MatchString(m.SourcePassword) {
		return nil, fmt.Errorf("outOfBox.managedDomain.sourcePassword %q is not an attribute name", m.SourcePassword)
	}
	f, err := render("managed-domain.yaml", "out-of-box:managed-domain:"+m.Target, map[string]any{
		"S": m.Source, "T": m.Target, "OU": ManagedContainer + "," + m.BaseDN, "SourcePassword": m.SourcePassword, "AzureAD": m.AzureADAttributes,
		"UserSam":   yamlSingle(SamAccountName(UserSamName, UserSamKey)),
		"UserCN":    yamlSingle(CommonName(`[userPrincipalName]`, UserKey)),
		"UPN":       yamlSingle(UserPrincipalName(UserKey)),
		"GroupCN":   yamlSingle(CommonName(`[displayName]`, GroupKey)),
		"GroupSam":  yamlSingle(SamAccountName(GroupSamName, GroupSamKey)),
		"UAC":       yamlSingle(UserAccountControl),
		"GroupType": yamlSingle(GroupType),
	}, nil)
	if err != nil {
		return nil, err
	}
	return []*rules.File{f}, nil
}

// CheckBaseDN validates outOfBox.managedDomain.baseDN.
func CheckBaseDN(dn string) error {
	if dn == "" {
		return errors.New(`outOfBox.managedDomain.baseDN: name the managed domain's naming context, e.g. "DC=aaddscontoso,DC=com"`)
	}
	if strings.ContainsAny(dn, `{}"\`) {
		return fmt.Errorf("outOfBox.managedDomain.baseDN %q: braces, double quotes and backslashes are not allowed", dn)
	}
	d, err := ldap.ParseDN(dn)
	if err != nil || len(d.RDNs) == 0 {
		return fmt.Errorf(`outOfBox.managedDomain.baseDN %q is not a DN (write it as "DC=aaddscontoso,DC=com")`, dn)
	}
	return nil
}
