package expr

import (
	"bufio"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
)

// testEnv is a rules.Env over fixed attributes.
type testEnv struct {
	attrs    model.Attrs
	imported model.Attrs
	params   map[string]string
}

func (e testEnv) Attr(name string) model.Values { return e.attrs[name] }
func (e testEnv) ImportedValue(name string) model.Values {
	if e.imported != nil {
		return e.imported[name]
	}
	return e.attrs[name]
}
func (e testEnv) Param(name string) string { return e.params[name] }

func mustHex(s string) string {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// sampleUser is the object the data-driven tests run on.
func sampleUser() testEnv {
	return testEnv{
		attrs: model.Attrs{
			"givenName":          model.Str("John"),
			"sn":                 model.Str("Doe"),
			"displayName":        model.Str("John Doe"),
			"sAMAccountName":     model.Str("jdoe"),
			"mailNickname":       model.Str("jdoe"),
			"emptyAttr":          model.Str(""),
			"spaced":             model.Str("  padded  "),
			"proxyAddresses":     model.Str("SMTP:john.doe@contoso.com", "smtp:jd@contoso.com", "smtp:jd@contoso.com"),
			"otherPhone":         model.Str("555-1234", "555-5678"),
			"userAccountControl": {Type: model.Integer, Values: []string{"514"}},
			"pwdLastSet":         {Type: model.Integer, Values: []string{"129699324000000000"}},
			"whenCreated":        {Type: model.DateTime, Values: []string{"2012-01-01T23:00:00Z"}},
			"isEnabled":          {Type: model.Boolean, Values: []string{"true"}},
			"objectGUID":         {Type: model.Binary, Values: []string{mustHex("d4c3b2a1f6e58947abcdef0123456789")}},
			"objectSid":          {Type: model.Binary, Values: []string{mustHex("010500000000000515000000dcf4dc3b833d2b46828ba62800020000")}},
			"dn":                 model.Ref("CN=John Doe,OU=Sales,OU=EMEA, DC=contoso,DC=com"),
			"manager":            model.Ref("CN=Jane Roe,OU=Sales,DC=contoso,DC=com"),
			"strGuid":            model.Str("{a1b2c3d4-e5f6-4789-abcd-ef0123456789}"),
			"startDate":          model.Str("2013-01-10 4:00 PM -8"),
		},
		imported: model.Attrs{"sAMAccountName": model.Str("jdoe.old")},
		params:   map[string]string{"Domain.FQDN": "contoso.com", "Domain.Netbios": "CONTOSO"},
	}
}

// render writes a result in the notation of testdata/*.txt.
func render(r rules.Result, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	switch r.Kind {
	case rules.Null:
		return "NULL"
	case rules.AuthoritativeNull:
		return "AuthoritativeNull"
	case rules.IgnoreThisFlow:
		return "IgnoreThisFlow"
	}
	one := func(s string) string {
		switch r.Values.Type {
		case model.Integer, model.Boolean:
			return s
		case model.DateTime:
			return "dt " + s
		case model.Binary:
			return "bin " + hex.EncodeToString([]byte(s))
		case model.Reference:
			return "ref " + strconv.Quote(s)
		}
		return strconv.Quote(s)
	}
	if len(r.Values.Values) == 1 {
		return one(r.Values.Values[0])
	}
	parts := make([]string, len(r.Values.Values))
	for i, v := range r.Values.Values {
		parts[i] = one(v)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func evalString(src string, env rules.Env) string {
	return evalStringDialect(src, SyncRules, env)
}

func evalStringDialect(src string, d Dialect, env rules.Env) string {
	c, err := CompileDialect(src, d)
	if err != nil {
		return "error: " + err.Error()
	}
	return render(c.Eval(env))
}

// provUser is sampleUser with the attributes of the Entra provisioning
// documentation's examples.
func provUser() testEnv {
	e := sampleUser()
	for k, v := range map[string]string{
		"userPrincipalName":   "John.Doe@contoso.com",
		"StatusHireDate":      "2012-03-16-07:00",
		"extensionAttribute1": "20150123105347.1Z",
		"extensionAttribute5": "PermissionSetOne, PermissionSetTwo",
		"BusinessTitle":       "Product Developer",
		"UserID":              "jsmith",
		"telephoneNumber":     "+91 9998887777",
		"emptyPhone":          "",
		"mobile":              "+91 8887779999",
		"mobile2":             "+1 (999) 888-7777",
		"AddressLineData":     "545 Tremont Street",
		"state":               "QLD",
		"country":             "USA",
		"nick":                "john_doe72",
		"accented":            "Zoë",
		"firstName":           "PABLO GONSALVES (SECOND)",
		"lastName":            "PINTO-DE'SILVA",
		"upperGiven":          "GREGORY",
		"upperSn":             "JAMES",
		"ContractEndDate":     "2020-12-31-08:00",
		"statusFlag":          "TRUE",
		"objectId":            "00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
	} {
		e.attrs[k] = model.Str(v)
	}
	// The user's app roles, as the provisioning engine gives them.
	e.attrs["appRoleAssignments"] = model.Str("Admin", "Reader")
	return e
}

// TestData runs testdata/*.txt: lines "expression => expected", where an
// expected "error: text" matches any error containing text. A line
// "# dialect: provisioning" switches the rest of the file to the
// provisioning dialect, evaluated on provUser.
func TestData(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	env := sampleUser()
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		dialect, env := SyncRules, env
		for ln := 1; sc.Scan(); ln++ {
			line := strings.TrimSpace(sc.Text())
			if d, ok := strings.CutPrefix(line, "# dialect:"); ok {
				switch strings.TrimSpace(d) {
				case "provisioning":
					dialect, env = Provisioning, provUser()
				case "sync":
					dialect, env = SyncRules, sampleUser()
				default:
					t.Fatalf("%s:%d: unknown dialect %q", f, ln, d)
				}
				continue
			}
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			i := strings.LastIndex(line, " => ")
			if i < 0 {
				t.Errorf("%s:%d: no ' => '", f, ln)
				continue
			}
			src, want := strings.TrimSpace(line[:i]), strings.TrimSpace(line[i+4:])
			got := evalStringDialect(src, dialect, env)
			ok := got == want
			if strings.HasPrefix(want, "error: ") {
				ok = strings.HasPrefix(got, "error: ") && strings.Contains(got, strings.TrimPrefix(want, "error: "))
			}
			if !ok {
				t.Errorf("%s:%d: %s\n got: %s\nwant: %s", f, ln, src, got, want)
			}
		}
		fh.Close()
	}
}
