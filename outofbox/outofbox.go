// Package outofbox generates idsync's out-of-box sync rules: Azure AD
// Connect's default rule set for one or more Active Directory forests
// synchronized to a cloud directory (R1, seed 001), and the rules that
// synchronize a cloud directory one way into a managed domain (R4, seed
// 004). The rules are rendered
// from the templates in templates/ for the connectors a configuration names
// (outOfBox in idsync.yaml) and are immutable: an admin changes one by
// cloning it under a precedence below 100 and disabling the original (R2.8).
//
// Precedences. Forest rules are numbered by kind first, forest second:
// 100 + 10×kind + forest index, so that every forest's "User
// AccountEnabled" (kind 0) beats every forest's "User Join" (kind 1): an
// enabled account's sign-in information wins over a disabled account's,
// whichever forest each is in (R1.2, R1.3), and "Contact Common" (kind 9)
// loses to every user rule (R1.8). Cloud rules take 200–214, group-filter
// rules 220–259, the managed-domain rules (ManagedDomainFiles, R4)
// 260–269. Custom rules go below 100.
package outofbox

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"strings"
	"text/template"

	_ "github.com/idsync/idsync/expr" // the out-of-box rules are written in it
	"github.com/idsync/idsync/rules"
)

//go:embed templates/*.yaml
var templates embed.FS

// MaxForests is how many forests the precedence scheme has room for.
const MaxForests = 10

// groupFilterBase is the precedence of the first group-filter rule: four
// per forest (user, group, contact, foreign security principal), 220–259.
const groupFilterBase = 220

// Setup says which connectors the out-of-box rules are for.
type Setup struct {
	// Cloud is the cloud directory connector.
	Cloud string
	// Forests are the Active Directory connectors, in precedence order:
	// on an attribute two forests both contribute with the same kind of
	// rule, the first listed wins.
	Forests []string
	// MatchUsersOnMail joins users of different forests on mail (a setup
	// option, R1.10); off by default, when two MV objects with the same mail
	// are an export error instead.
	MatchUsersOnMail bool
	// CloudDN is the DN template of the objects idsync creates in the cloud
	// directory when it has DNs (an LDAP-backed one), e.g.
	// "cn={sourceAnchor},ou=people,dc=cloud,dc=test"; empty for directories
	// without DNs (Microsoft Graph, SCIM).
	CloudDN string
	// GroupFilters maps a forest to the DN of its pilot group (group-based
	// filtering, R2.7): only its members, direct or nested, and the group
	// itself are synchronized to the cloud, and a person is synchronized
	// only when its objects in every group-filtered forest are members.
	GroupFilters map[string]string
}

// The expressions of Azure AD Connect's out-of-box rules, as documented.
const (
	// SourceAnchor is mS-DS-ConsistencyGuid when present, else objectGUID,
	// as base64 (R1.4 adds the linked-mailbox exception in the rules).
	SourceAnchor = `ConvertToBase64(IIF(IsPresent([mS-DS-ConsistencyGuid]),[mS-DS-ConsistencyGuid],[objectGUID]))`
	// UPN is the userPrincipalName, or sAMAccountName@domain, or an error.
	UPN = `IIF(IsPresent([userPrincipalName]),[userPrincipalName], IIF(IsPresent([sAMAccountName]),([sAMAccountName]&"@"&%Domain.FQDN%),Error("AccountName is not present")))`
	// CloudFiltered is True for objects never synchronized to the cloud:
	// critical system objects, accounts without sAMAccountName, the support
	// account, system and CAS mailboxes, AAD_ and MSOL_ service accounts,
	// special mailboxes, replication-conflict objects; NULL otherwise.
	CloudFiltered = `IIF(IsPresent([isCriticalSystemObject]) || IsPresent([sAMAccountName]) = False || [sAMAccountName] = "SUPPORT_388945a0" || Left([mailNickname], 14) = "SystemMailbox{" || Left([sAMAccountName], 4) = "AAD_" || (Left([mailNickname], 4) = "CAS_" && (InStr([mailNickname], "}") > 0)) || (Left([sAMAccountName], 4) = "CAS_" && (InStr([sAMAccountName], "}") > 0)) || Left([sAMAccountName], 5) = "MSOL_" || CBool(IIF(IsPresent([msExchRecipientTypeDetails]),BitAnd([msExchRecipientTypeDetails],&H21C07000) > 0,NULL)) || CBool(InStr(DNComponent(CRef([dn]),1),"\\0ACNF:")>0), True, NULL)`
	// CloudFilteredOther is cloudFiltered for groups and contacts, which
	// need no sAMAccountName: critical system objects, CAS mailboxes and
	// replication-conflict objects.
	CloudFilteredOther = `IIF(IsPresent([isCriticalSystemObject]) || (Left([mailNickname], 4) = "CAS_" && (InStr([mailNickname], "}") > 0)) || CBool(InStr(DNComponent(CRef([dn]),1),"\\0ACNF:")>0), True, NULL)`
	// MailEnabled is R1.6 exactly: True when proxyAddresses is empty and
	// mail has a value, or when a value of proxyAddresses starts with the
	// primary prefix "SMTP:" (upper case); False otherwise. The values are
	// joined with line feeds, which no address contains, so that InStr
	// (case-sensitive) finds the prefix at the start of any value and
	// nowhere else (Contains would also match "SMTP:" inside a value).
	MailEnabled = `IIF((IsPresent([proxyAddresses]) = False && IsPresent([mail]) = True) || (IsPresent([proxyAddresses]) = True && InStr("\n" & Join([proxyAddresses], "\n"), "\nSMTP:") > 0), True, False)`
)

// Files renders the out-of-box rule files for a setup: one per forest and
// one for the cloud directory, all immutable.
func Files(s Setup) ([]*rules.File, error) {
	if s.Cloud == "" {
		return nil, errors.New("outOfBox.cloud: name the cloud directory connector")
	}
	if len(s.Forests) == 0 {
		return nil, errors.New("outOfBox.forests: name at least one Active Directory connector")
	}
	if len(s.Forests) > MaxForests {
		return nil, fmt.Errorf("outOfBox.forests: at most %d forests (the out-of-box precedences have room for %d)", MaxForests, MaxForests)
	}
	seen := map[string]bool{s.Cloud: true}
	for _, f := range s.Forests {
		if seen[f] {
			return nil, fmt.Errorf("outOfBox: connector %q is named twice", f)
		}
		seen[f] = true
	}
	var files []*rules.File
	for i, forest := range s.Forests {
		f, err := render("forest.yaml", fmt.Sprintf("out-of-box:forest:%s", forest), map[string]any{
			"C": forest, "MatchOnMail": s.MatchUsersOnMail,
			"SourceAnchor": yamlSingle(SourceAnchor), "UPN": yamlSingle(UPN),
			"CloudFiltered": yamlSingle(CloudFiltered), "CloudFilteredOther": yamlSingle(CloudFilteredOther),
			"MailEnabled": yamlSingle(MailEnabled),
		}, template.FuncMap{"prec": func(kind int) int { return 100 + 10*kind + i }})
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	for i, forest := range s.Forests {
		g, ok := s.GroupFilters[forest]
		if !ok {
			continue
		}
		if g == "" {
			return nil, fmt.Errorf("outOfBox.groupFilters.%s: name the pilot group's DN", forest)
		}
		type objType struct{ CS, MV string }
		f, err := render("groupfilter.yaml", "out-of-box:group-filter:"+forest, map[string]any{
			"C": forest, "Group": g, "GroupQ": yamlSingle(g),
			"Types": []objType{{"user", "person"}, {"group", "group"}, {"contact", "person"}, {"foreignSecurityPrincipal", "person"}},
		}, template.FuncMap{"prec": func(k int) int { return groupFilterBase + 4*i + k }})
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	for forest := range s.GroupFilters {
		if !seen[forest] || forest == s.Cloud {
			return nil, fmt.Errorf("outOfBox.groupFilters names %q, which is not one of the forests", forest)
		}
	}
	f, err := render("cloud.yaml", "out-of-box:cloud:"+s.Cloud, map[string]any{"C": s.Cloud, "DN": s.CloudDN}, nil)
	if err != nil {
		return nil, err
	}
	return append(files, f), nil
}

// yamlSingle escapes a string for a single-quoted YAML scalar.
func yamlSingle(s string) string { return strings.ReplaceAll(s, "'", "''") }

func render(name, as string, data map[string]any, funcs template.FuncMap) (*rules.File, error) {
	src, err := templates.ReadFile("templates/" + name)
	if err != nil {
		return nil, err
	}
	t, err := template.New(name).Funcs(funcs).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("out-of-box template %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("out-of-box template %s: %w", name, err)
	}
	f, err := rules.Parse(as, b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("out-of-box rules (a bug in idsync, please report it): %w", err)
	}
	f.Immutable = true
	for _, r := range f.Rules {
		r.Immutable = true
	}
	return f, nil
}
