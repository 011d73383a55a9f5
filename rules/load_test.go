package rules

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func loadOOB(t *testing.T) []*File {
	t.Helper()
	files, err := LoadFS(os.DirFS("testdata"), "oob/*.yaml", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no out-of-box test rules")
	}
	return files
}

// loadAll loads a user rule file, merges it with the out-of-box test rules
// and validates the result, returning the first stage's errors.
func loadAll(t *testing.T, path string) (*RuleSet, error) {
	t.Helper()
	f, err := LoadFile(path)
	if err != nil {
		return nil, err
	}
	rs, err := Merge(append(loadOOB(t), f)...)
	if err != nil {
		return nil, err
	}
	return rs, errors.Join(rs.Validate(testEnv())...)
}

// TestBadFiles loads every testdata/*.bad.yaml file; its first line,
// "# want: …", is a substring the error must contain (with file:line).
func TestBadFiles(t *testing.T) {
	withLanguage(t, fakeLang{})
	paths, err := filepath.Glob("testdata/*.bad.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no bad files: %v", err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(data), "\n")
			want, ok := strings.CutPrefix(first, "# want: ")
			if !ok {
				t.Fatalf("first line must be '# want: <error substring>', got %q", first)
			}
			_, err = loadAll(t, path)
			if err == nil {
				t.Fatalf("no error, want %q", want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, want)
			}
		})
	}
}

func TestExampleFile(t *testing.T) {
	withLanguage(t, fakeLang{})
	rs, err := loadAll(t, "testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rs.Rules {
		names = append(names, r.Name)
	}
	want := []string{"In from HR - Person", "Out to Target - Person", "In from AD - User Join", "Out to AAD - User Join"}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Errorf("rules in order %q, want %q", names, want)
	}
	in := rs.Rules[0]
	if in.Source != "testdata/example.yaml:3" {
		t.Errorf("Source = %q", in.Source)
	}
	if !rs.Rules[2].Disabled || !rs.Rules[2].Immutable || rs.Rules[0].Immutable {
		t.Error("disable list or immutable flags not applied")
	}
	if got := rs.For("hr", Inbound); len(got) != 1 || got[0] != in {
		t.Errorf("For(hr, inbound) = %v", got)
	}
	if got := rs.For("ad", Inbound); len(got) != 0 {
		t.Errorf("For(ad, inbound) returned the disabled rule")
	}
	if got := strings.Join(rs.Connectors(), ","); got != "aad,hr,target" {
		t.Errorf("Connectors() = %s", got)
	}
	if got := strings.Join(rs.Attributes("hr"), ","); got != "c,department,employeeNumber,givenName,mail,sn" {
		t.Errorf("Attributes(hr) = %s", got)
	}
	if got := strings.Join(rs.Attributes("target"), ","); got != "active,cn,employeeNumber,sn" {
		t.Errorf("Attributes(target) = %s", got)
	}
	out := rs.Rules[1]
	if out.Deprovision != DeprovisionDisable || out.Flows[0].Merge != MergeUpdate || in.Flows[4].TargetType != "string" {
		t.Errorf("defaults not applied: %+v", out)
	}
	if in.Flows[5].Compiled() == nil {
		t.Error("expression flow not compiled")
	}
}

func TestParseNormalizes(t *testing.T) {
	src := `rules:
  - name: r
    connector: hr
    direction: Inbound
    csObjectType: worker
    mvObjectType: person
    linkType: provision
    scope:
      - clauses:
          - {attribute: a, operator: Equal, value: 012}
          - {attribute: a, operator: LessThan-Or-Equal, value: 1.50}
          - {attribute: a, operator: isbitnotset, value: 0x10}
          - {attribute: a, operator: greaterthan_or_equal, value: true}
          - {attribute: a, operator: is not in, value: "x;y"}
    flows:
      - {type: constant, value: 007, target: t, merge: merge}
`
	f, err := Parse("n.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	r := f.Rules[0]
	if r.Direction != Inbound || r.LinkType != Provision || r.Flows[0].Type != Constant || r.Flows[0].Merge != MergeMerge {
		t.Errorf("enumerations not canonical: %+v", r)
	}
	wantOps := []Operator{Equal, LessThanOrEqual, IsNotBitSet, GreaterThanOrEqual, IsNotIn}
	wantVals := []string{"012", "1.50", "0x10", "true", "x;y"}
	for i, c := range r.Scope[0].Clauses {
		if c.Operator != wantOps[i] || c.Value != wantVals[i] {
			t.Errorf("clause %d = %s %q, want %s %q", i, c.Operator, c.Value, wantOps[i], wantVals[i])
		}
		if c.prep == nil {
			t.Errorf("clause %d not prepared", i)
		}
	}
	if r.Flows[0].Value != "007" {
		t.Errorf("constant = %q, want the literal 007", r.Flows[0].Value)
	}
}

func TestParseEmptyAndAnchors(t *testing.T) {
	for _, src := range []string{"", "# nothing\n", "---\n", "rules: []\n", "rules:\n"} {
		f, err := Parse("e.yaml", []byte(src))
		if err != nil || len(f.Rules) != 0 {
			t.Errorf("Parse(%q) = %v, %v", src, f, err)
		}
	}
	src := `rules:
  - &base
    name: a
    connector: hr
    precedence: 1
  - <<: *base
    name: b
    precedence: 2
`
	f, err := Parse("a.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Rules) != 2 || f.Rules[1].Connector != "hr" || f.Rules[1].Name != "b" || f.Rules[1].Source != "a.yaml:6" {
		t.Errorf("anchors: %+v", f.Rules[1])
	}
}

func TestLoadFSAndMergeCopies(t *testing.T) {
	fsys := fstest.MapFS{
		"oob/a.yaml": {Data: []byte("rules:\n  - {name: A, connector: x, precedence: 100}\n")},
		"oob/b.yml":  {Data: []byte("rules: []\n")},
	}
	files, err := LoadFS(fsys, "oob/*.yaml", true)
	if err != nil || len(files) != 1 {
		t.Fatalf("LoadFS = %v, %v", files, err)
	}
	if !files[0].Immutable || !files[0].Rules[0].Immutable {
		t.Error("immutable not set")
	}
	user, err := Parse("u.yaml", []byte("disable: [A]\n"))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Merge(files[0], user)
	if err != nil {
		t.Fatal(err)
	}
	if !rs.Rules[0].Disabled || files[0].Rules[0].Disabled {
		t.Error("Merge must disable its copy, not the file's rule")
	}
	if _, err := LoadFS(fsys, "[", true); err == nil {
		t.Error("bad pattern accepted")
	}
	bad := fstest.MapFS{"x.yaml": {Data: []byte("rules: 3\n")}}
	if _, err := LoadFS(bad, "*.yaml", false); err == nil || !strings.Contains(err.Error(), "x.yaml:1:") {
		t.Errorf("LoadFS error = %v", err)
	}
	if _, err := LoadFile("testdata/does-not-exist.yaml"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile error = %v", err)
	}
}

func TestErrorsAreTyped(t *testing.T) {
	_, err := Parse("p.yaml", []byte("rules:\n  - name: x\n    bogus: 1\n"))
	var pe *PosError
	if !errors.As(err, &pe) || pe.File != "p.yaml" || pe.Line != 3 {
		t.Fatalf("error %v is not a *PosError at p.yaml:3", err)
	}
}
