package provisioning

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const consoleTestApps = `applications:
  - name: crm
    scim: {url: "http://127.0.0.1:1/scim/v2", auth: {token: t}}
    appRoles: [{name: User}, {name: Admin}, {name: SSO, provisionable: false}]
    assignments:
      groups: [{displayName: Sales}]
      users: [{value: bob}]
    mappings: [{target: userName, source: mail, matching: true}]
  - name: wiki
    provisioning: off
    scim: {url: "http://127.0.0.1:1/scim/v2", auth: {token: t}}
    mappings: [{target: userName, source: mail, matching: true}]
`

func groupAssignment(name, role string) Assignment {
	return Assignment{Group: &GroupAssignment{DisplayName: name, Role: role}}
}

func userAssignment(value, role string) Assignment {
	return Assignment{User: &UserAssignment{Value: value, Role: role}}
}

// TestConsoleEdits: provisioning on/off, assign and unassign, each written
// to provisioning.console.yaml and loaded back by Load on top of
// provisioning.yaml (which is never written); a change that would not load
// is refused and leaves the file as it was.
func TestConsoleEdits(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "provisioning.yaml")
	if err := os.WriteFile(path, []byte(consoleTestApps), 0o600); err != nil {
		t.Fatal(err)
	}
	type state struct {
		provisioning string
		groups       []string // displayName/role
		users        []string // value/role
	}
	for _, step := range []struct {
		name    string
		do      func() (*App, error)
		err     string // the refusal, "" when it is done
		want    state  // crm as Load returns it
		summary string // in ConsoleSummary, "" for no line
	}{
		{"disable", func() (*App, error) { return SetProvisioning(path, "crm", false) }, "",
			state{"off", []string{"Sales/"}, []string{"bob/"}}, "application crm: provisioning off"},
		{"enable again: the entry goes", func() (*App, error) { return SetProvisioning(path, "CRM", true) }, "",
			state{"on", []string{"Sales/"}, []string{"bob/"}}, ""},
		{"assign a group", func() (*App, error) { return Assign(path, "crm", groupAssignment("Marketing", "Admin")) }, "",
			state{"on", []string{"Sales/", "Marketing/Admin"}, []string{"bob/"}}, `assigns group "Marketing" (role Admin)`},
		{"unassign provisioning.yaml's group", func() (*App, error) { return Unassign(path, "crm", groupAssignment("sales", "")) }, "",
			state{"on", []string{"Marketing/Admin"}, []string{"bob/"}}, `unassigns group "Sales"`},
		{"assign it back with another role", func() (*App, error) { return Assign(path, "crm", groupAssignment("Sales", "Admin")) }, "",
			state{"on", []string{"Marketing/Admin", "Sales/Admin"}, []string{"bob/"}}, `assigns group "Sales" (role Admin)`},
		{"unassign the console's group", func() (*App, error) { return Unassign(path, "crm", groupAssignment("Marketing", "")) }, "",
			state{"on", []string{"Sales/Admin"}, []string{"bob/"}}, `unassigns group "Sales"`},
		{"unassign and assign back provisioning.yaml's group as it was", func() (*App, error) {
			if _, err := Unassign(path, "crm", groupAssignment("Sales", "")); err != nil {
				return nil, err
			}
			return Assign(path, "crm", groupAssignment("Sales", ""))
		}, "", state{"on", []string{"Sales/"}, []string{"bob/"}}, ""},
		{"assign a user", func() (*App, error) { return Assign(path, "crm", userAssignment("ada", "")) }, "",
			state{"on", []string{"Sales/"}, []string{"bob/", "ada/"}}, `assigns user accountName="ada" (role User)`},
		{"already assigned", func() (*App, error) { return Assign(path, "crm", userAssignment("ADA", "Admin")) }, "already assigned to crm (role User)",
			state{"on", []string{"Sales/"}, []string{"bob/", "ada/"}}, `assigns user accountName="ada"`},
		{"not assigned", func() (*App, error) { return Unassign(path, "crm", groupAssignment("Finance", "")) }, `group "Finance" is not assigned to crm (its assignments: group "Sales", user accountName="bob", user accountName="ada")`,
			state{"on", []string{"Sales/"}, []string{"bob/", "ada/"}}, `assigns user accountName="ada"`},
		{"a role the application lacks", func() (*App, error) { return Assign(path, "crm", groupAssignment("Finance", "Boss")) }, `refused: the applications would not load (nothing was written)`,
			state{"on", []string{"Sales/"}, []string{"bob/", "ada/"}}, `assigns user accountName="ada"`},
		{"a role not provisionable", func() (*App, error) { return Assign(path, "crm", userAssignment("eve", "SSO")) }, `role "SSO" cannot be provisioned`,
			state{"on", []string{"Sales/"}, []string{"bob/", "ada/"}}, `assigns user accountName="ada"`},
		{"no such application", func() (*App, error) { return SetProvisioning(path, "erp", false) }, `no application "erp"`,
			state{"on", []string{"Sales/"}, []string{"bob/", "ada/"}}, `assigns user accountName="ada"`},
		{"a user and a group at once", func() (*App, error) {
			return Assign(path, "crm", Assignment{User: &UserAssignment{Value: "x"}, Group: &GroupAssignment{DisplayName: "y"}})
		}, "name one user or one group", state{"on", []string{"Sales/"}, []string{"bob/", "ada/"}}, `assigns user accountName="ada"`},
		{"a group by two keys", func() (*App, error) {
			return Unassign(path, "crm", Assignment{Group: &GroupAssignment{DisplayName: "Sales", ID: "g1"}})
		}, "exactly one of displayName", state{"on", []string{"Sales/"}, []string{"bob/", "ada/"}}, `assigns user accountName="ada"`},
		{"turn on an application provisioning.yaml has off", func() (*App, error) { return SetProvisioning(path, "wiki", true) }, "",
			state{"on", []string{"Sales/"}, []string{"bob/", "ada/"}}, "application wiki: provisioning on"},
	} {
		a, err := step.do()
		switch {
		case step.err == "" && err != nil:
			t.Fatalf("%s: %v", step.name, err)
		case step.err != "" && (err == nil || !strings.Contains(err.Error(), step.err)):
			t.Fatalf("%s: error %v, want one with %q", step.name, err, step.err)
		case step.err == "" && a == nil:
			t.Fatalf("%s: no application returned", step.name)
		}
		f, err := Load(path)
		if err != nil {
			t.Fatalf("%s: load: %v", step.name, err)
		}
		crm, _ := f.App("crm")
		got := state{provisioning: crm.Provisioning}
		for _, g := range crm.Assignments.Groups {
			got.groups = append(got.groups, g.DisplayName+"/"+g.Role)
		}
		for _, u := range crm.Assignments.Users {
			got.users = append(got.users, u.Value+"/"+u.Role)
		}
		if !reflect.DeepEqual(got, step.want) {
			t.Errorf("%s: crm loads as %+v, want %+v", step.name, got, step.want)
		}
		sum, err := ConsoleSummary(path)
		if err != nil {
			t.Fatal(err)
		}
		all := strings.Join(sum, "\n")
		if step.summary != "" && !strings.Contains(all, step.summary) || step.summary == "" && strings.Contains(all, "application crm") {
			t.Errorf("%s: summary %q, want %q", step.name, all, step.summary)
		}
	}
	if data, _ := os.ReadFile(path); string(data) != consoleTestApps {
		t.Errorf("provisioning.yaml was written:\n%s", data)
	}
	data, err := os.ReadFile(ConsolePath(path))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "# Managed by idsync") {
		t.Errorf("the console-managed file lacks its header:\n%s", data)
	}
	wiki := mustApp(t, path, "wiki")
	if !wiki.On() {
		t.Error("wiki is off after it was turned on")
	}
}

func mustApp(t *testing.T, path, name string) *App {
	t.Helper()
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.App(name)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestConsoleFileErrors: a console-managed file that does not fit
// provisioning.yaml stops Load with the file and what to do.
func TestConsoleFileErrors(t *testing.T) {
	for _, tc := range []struct{ name, console, want string }{
		{"unknown application", "applications:\n  erp: {provisioning: off}\n", `names the application "erp", which`},
		{"bad provisioning", "applications:\n  crm: {provisioning: maybe}\n", `provisioning: "maybe" (want on or off)`},
		{"unknown key", "applications:\n  crm: {enabled: false}\n", "provisioning.console.yaml:"},
		{"a bad assignment", "applications:\n  crm: {assign: {users: [{role: User}]}}\n", "give value (with attribute, default accountName) or id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "provisioning.yaml")
			if err := os.WriteFile(path, []byte(consoleTestApps), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(ConsolePath(path), []byte(tc.console), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(path); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("load: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// FuzzParseConsole: any input parses or fails, and a file that parses
// writes back to the same thing.
func FuzzParseConsole(f *testing.F) {
	f.Add([]byte("applications:\n  crm:\n    provisioning: off\n    assign:\n      groups: [{displayName: Sales, role: Admin}]\n    unassign:\n      users: [{value: bob}]\n"))
	f.Add([]byte("applications: {a: null}\n"))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cf, err := parseConsole("provisioning.console.yaml", data)
		if err != nil {
			return
		}
		out, err := cf.marshal()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		back, err := parseConsole("provisioning.console.yaml", out)
		if err != nil {
			t.Fatalf("written back, it does not parse: %v\n%s", err, out)
		}
		if len(back.Applications) != len(cf.Applications) {
			t.Fatalf("written back: %d applications, was %d\n%s", len(back.Applications), len(cf.Applications), out)
		}
	})
}

// TestConsoleExample: examples/provisioning-console/provisioning.console.yaml
// is what idsync writes for the changes its README lists, and loads as
// it says.
func TestConsoleExample(t *testing.T) {
	t.Setenv("CRM_SCIM_TOKEN", "example-secret")
	example := filepath.Join("..", "examples", "provisioning-console", "provisioning.yaml")
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "provisioning.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := SetProvisioning(path, "crm", false); err != nil {
		t.Fatal(err)
	}
	if _, err := Assign(path, "crm", Assignment{Group: &GroupAssignment{DisplayName: "EMEA Sales", Role: "Admin"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Unassign(path, "crm", Assignment{User: &UserAssignment{Value: "farah.haddad"}}); err != nil {
		t.Fatal(err)
	}
	written, err := os.ReadFile(ConsolePath(path))
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := os.ReadFile(ConsolePath(example)); string(written) != string(want) {
		t.Errorf("idsync writes:\n%s\nthe example has:\n%s", written, want)
	}
	a := mustApp(t, example, "crm")
	if a.On() || len(a.Assignments.Groups) != 2 || a.Assignments.Groups[1].DisplayName != "EMEA Sales" || len(a.Assignments.Users) != 0 {
		t.Errorf("the example's crm: provisioning %s, assignments %+v", a.Provisioning, a.Assignments)
	}
}
