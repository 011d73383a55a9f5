package rules

import (
	"strings"
	"testing"

	"github.com/idsync/idsync/model"
)

func TestClauseMatch(t *testing.T) {
	s := subject{
		attrs: map[string][]string{
			"department":         {"Sales"},
			"proxyAddresses":     {"smtp:a@contoso.com", "SMTP:John.Doe@Contoso.com", "X500:/o=contoso"},
			"userAccountControl": {"514"}, // NORMAL_ACCOUNT | ACCOUNTDISABLE
			"groupType":          {"-2147483646"},
			"employeeID":         {"0042"},
			"hireDate":           {"2026-03-01T00:00:00Z"},
			"sizes":              {"9", "15"},
			"badInt":             {"abc"},
			"kelvin":             {"\u212Aelvin"}, // KELVIN SIGN folds to k
			"empty":              nil,
		},
		groups: []string{"cn=pilot,ou=groups,dc=contoso,dc=test"},
	}
	tests := []struct {
		attr    string
		op      Operator
		value   string
		values  []string
		want    bool
		wantErr string
	}{
		// EQUAL / NOTEQUAL: case-insensitive, any value, absent.
		{"department", Equal, "sales", nil, true, ""},
		{"department", Equal, "SALES", nil, true, ""},
		{"department", Equal, "Sale", nil, false, ""},
		{"department", NotEqual, "sales", nil, false, ""},
		{"department", NotEqual, "IT", nil, true, ""},
		{"missing", Equal, "x", nil, false, ""},
		{"missing", NotEqual, "x", nil, true, ""},
		{"empty", NotEqual, "x", nil, true, ""},
		{"proxyAddresses", Equal, "smtp:john.doe@contoso.com", nil, true, ""},
		{"proxyAddresses", NotEqual, "smtp:a@contoso.com", nil, false, ""},
		{"proxyAddresses", NotEqual, "smtp:b@contoso.com", nil, true, ""},
		{"kelvin", Equal, "kelvin", nil, true, ""},
		// STARTSWITH / ENDSWITH / CONTAINS and their negations.
		{"proxyAddresses", StartsWith, "smtp:", nil, true, ""},
		{"proxyAddresses", StartsWith, "x400:", nil, false, ""},
		{"proxyAddresses", NotStartsWith, "X500", nil, false, ""},
		{"proxyAddresses", NotStartsWith, "x400", nil, true, ""},
		{"missing", NotStartsWith, "x", nil, true, ""},
		{"kelvin", StartsWith, "KEL", nil, true, ""},
		{"proxyAddresses", EndsWith, "@CONTOSO.COM", nil, true, ""},
		{"proxyAddresses", EndsWith, "@fabrikam.com", nil, false, ""},
		{"proxyAddresses", NotEndsWith, "@contoso.com", nil, false, ""},
		{"proxyAddresses", NotEndsWith, "@fabrikam.com", nil, true, ""},
		{"department", EndsWith, "longer than Sales", nil, false, ""},
		{"proxyAddresses", Contains, "JOHN.doe", nil, true, ""},
		{"proxyAddresses", Contains, "jane", nil, false, ""},
		{"proxyAddresses", NotContains, "contoso", nil, false, ""},
		{"proxyAddresses", NotContains, "fabrikam", nil, true, ""},
		{"kelvin", Contains, "ELV", nil, true, ""},
		// ISNULL / ISNOTNULL.
		{"missing", IsNull, "", nil, true, ""},
		{"empty", IsNull, "", nil, true, ""},
		{"department", IsNull, "", nil, false, ""},
		{"department", IsNotNull, "", nil, true, ""},
		{"missing", IsNotNull, "", nil, false, ""},
		// ISIN / ISNOTIN, from values or from value split on ';'.
		{"department", IsIn, "", []string{"IT", "sales"}, true, ""},
		{"department", IsIn, "IT; SALES ;HR", nil, true, ""},
		{"department", IsIn, "IT;HR", nil, false, ""},
		{"department", IsNotIn, "IT;HR", nil, true, ""},
		{"department", IsNotIn, "", []string{"Sales"}, false, ""},
		{"missing", IsNotIn, "IT", nil, true, ""},
		{"missing", IsIn, "IT", nil, false, ""},
		// ISMEMBEROF / ISNOTMEMBEROF.
		{"", IsMemberOf, "cn=pilot,ou=groups,dc=contoso,dc=test", nil, true, ""},
		{"", IsMemberOf, "cn=other,ou=groups,dc=contoso,dc=test", nil, false, ""},
		{"", IsNotMemberOf, "cn=pilot,ou=groups,dc=contoso,dc=test", nil, false, ""},
		{"", IsNotMemberOf, "cn=other", nil, true, ""},
		// ISBITSET / ISNOTBITSET.
		{"userAccountControl", IsBitSet, "2", nil, true, ""},
		{"userAccountControl", IsBitSet, "0x202", nil, true, ""},
		{"userAccountControl", IsBitSet, "0x10", nil, false, ""},
		{"userAccountControl", IsNotBitSet, "2", nil, false, ""},
		{"userAccountControl", IsNotBitSet, "16", nil, true, ""},
		{"groupType", IsBitSet, "0x80000000", nil, true, ""}, // security group
		{"missing", IsBitSet, "2", nil, false, ""},
		{"missing", IsNotBitSet, "2", nil, true, ""},
		{"badInt", IsBitSet, "2", nil, false, `attribute "badInt" value "abc" is not an integer (operator ISBITSET)`},
		{"badInt", IsNotBitSet, "2", nil, false, `attribute "badInt" value "abc" is not an integer (operator ISNOTBITSET)`},
		{"department", IsBitSet, "abc", nil, false, `ISBITSET needs an integer mask`},
		// Comparisons: integers, RFC 3339 times, else strings.
		{"employeeID", LessThan, "100", nil, true, ""}, // 42 < 100 numerically
		{"employeeID", GreaterThan, "100", nil, false, ""},
		{"employeeID", LessThanOrEqual, "42", nil, true, ""},
		{"employeeID", GreaterThanOrEqual, "42", nil, true, ""},
		{"employeeID", GreaterThan, "42", nil, false, ""},
		{"sizes", GreaterThan, "10", nil, true, ""}, // 15 > 10 (any value)
		{"sizes", LessThan, "9", nil, false, ""},
		{"hireDate", LessThan, "2026-03-01T01:00:00+02:00", nil, false, ""}, // 2026-02-28T23:00Z
		{"hireDate", GreaterThan, "2026-03-01T01:00:00+02:00", nil, true, ""},
		{"hireDate", LessThanOrEqual, "2026-03-01T00:00:00Z", nil, true, ""},
		{"department", LessThan, "TECH", nil, true, ""}, // "sales" < "tech"
		{"department", GreaterThanOrEqual, "sales", nil, true, ""},
		{"department", GreaterThan, "sales", nil, false, ""},
		{"missing", LessThan, "1", nil, false, ""},
		// Operand errors.
		{"department", Equal, "", nil, false, "EQUAL needs a value"},
		{"department", IsNull, "x", nil, false, "ISNULL takes no value"},
		{"department", Equal, "x", []string{"y"}, false, "values (a list) is only used by ISIN and ISNOTIN"},
		{"", Equal, "x", nil, false, "EQUAL clause has no attribute"},
		{"department", "BOGUS", "x", nil, false, `unknown operator "BOGUS"`},
	}
	for _, tc := range tests {
		name := string(tc.op) + "/" + tc.attr + "/" + tc.value
		t.Run(name, func(t *testing.T) {
			c := Clause{Attribute: tc.attr, Operator: tc.op, Value: tc.value, Values: tc.values}
			// Both the unprepared path and the prepared one must agree.
			for _, prepared := range []bool{false, true} {
				if prepared {
					if err := c.prepare(); err != nil {
						if tc.wantErr == "" || !strings.Contains(err.Error(), tc.wantErr) {
							t.Fatalf("prepare: %v", err)
						}
						return
					}
				}
				got, err := c.Match(s)
				if tc.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
						t.Fatalf("prepared=%v: err = %v, want %q", prepared, err, tc.wantErr)
					}
					continue
				}
				if err != nil || got != tc.want {
					t.Errorf("prepared=%v: Match = %v, %v; want %v", prepared, got, err, tc.want)
				}
			}
		})
	}
}

func TestOperatorSpellings(t *testing.T) {
	for in, want := range map[string]Operator{
		"EQUAL": Equal, "Equal": Equal, "equal": Equal,
		"LESSTHAN-OR-EQUAL": LessThanOrEqual, "LessThan_Or_Equal": LessThanOrEqual,
		"GREATERTHAN-OR-EQUAL": GreaterThanOrEqual, "greaterThanOrEqual": GreaterThanOrEqual,
		"ISBITNOTSET": IsNotBitSet, "IsNotBitSet": IsNotBitSet, "Is Not Null": IsNotNull,
	} {
		if got, err := ParseOperator(in); err != nil || got != want {
			t.Errorf("ParseOperator(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "EQUALS", "LIKE", "ISBITSETX"} {
		if _, err := ParseOperator(bad); err == nil {
			t.Errorf("ParseOperator(%q) accepted", bad)
		}
	}
}

// TestFilterGroups checks OR between groups and AND within a group with the
// R2.7 example (department = IT) OR (department = Sales AND c = US).
func TestFilterGroups(t *testing.T) {
	f := ScopingFilter{
		{Clauses: []Clause{{Attribute: "department", Operator: Equal, Value: "IT"}}},
		{Clauses: []Clause{
			{Attribute: "department", Operator: Equal, Value: "Sales"},
			{Attribute: "c", Operator: Equal, Value: "US"},
		}},
	}
	cases := []struct {
		dept, c string
		want    bool
	}{
		{"IT", "", true},
		{"IT", "FR", true},
		{"Sales", "US", true},
		{"sales", "us", true},
		{"Sales", "FR", false},
		{"Sales", "", false},
		{"HR", "US", false},
		{"", "", false},
	}
	for _, prepare := range []bool{false, true} {
		if prepare {
			if errs := f.prepare(); errs != nil {
				t.Fatal(errs)
			}
		}
		for _, tc := range cases {
			s := subject{attrs: map[string][]string{}}
			if tc.dept != "" {
				s.attrs["department"] = []string{tc.dept}
			}
			if tc.c != "" {
				s.attrs["c"] = []string{tc.c}
			}
			got, err := f.Match(s)
			if err != nil || got != tc.want {
				t.Errorf("department=%q c=%q: Match = %v, %v; want %v", tc.dept, tc.c, got, err, tc.want)
			}
		}
	}

	var empty ScopingFilter
	if ok, err := empty.Match(subject{}); !ok || err != nil {
		t.Error("empty filter must match everything")
	}
	emptyGroup := ScopingFilter{{}}
	if ok, err := emptyGroup.Match(subject{}); !ok || err != nil {
		t.Error("an empty group must match")
	}

	// An error in a clause that is evaluated stops evaluation; a clause
	// after a false one in the same group is not evaluated.
	bad := ScopingFilter{
		{Clauses: []Clause{
			{Attribute: "department", Operator: Equal, Value: "IT"},
			{Attribute: "uac", Operator: IsBitSet, Value: "2"},
		}},
		{Clauses: []Clause{{Attribute: "uac", Operator: IsBitSet, Value: "2"}}},
	}
	s := subject{attrs: map[string][]string{"department": {"HR"}, "uac": {"x"}}}
	if _, err := bad.Match(s); err == nil || !strings.Contains(err.Error(), `"uac" value "x"`) {
		t.Errorf("err = %v", err)
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	f := benchFilter()
	if errs := f.prepare(); errs != nil {
		t.Fatal(errs)
	}
	s := benchSubject()
	allocs := testing.AllocsPerRun(100, func() {
		if ok, err := f.Match(s); !ok || err != nil {
			t.Fatal("no match")
		}
	})
	if allocs != 0 {
		t.Errorf("Match allocates %v times per call", allocs)
	}
}

func benchFilter() ScopingFilter {
	return ScopingFilter{{Clauses: []Clause{
		{Attribute: "department", Operator: Equal, Value: "sales"},
		{Attribute: "mail", Operator: EndsWith, Value: "@contoso.com"},
		{Attribute: "userAccountControl", Operator: IsNotBitSet, Value: "2"},
	}}}
}

// benchSubj is a Subject without the map lookups of subject, so that the
// benchmark measures Match.
type benchSubj struct{ dept, mail, uac []string }

func (b *benchSubj) Attr(name string) model.Values {
	switch name {
	case "department":
		return model.Values{Values: b.dept}
	case "mail":
		return model.Values{Values: b.mail}
	case "userAccountControl":
		return model.Values{Values: b.uac}
	}
	return model.Values{}
}

func (b *benchSubj) MemberOf(string) bool { return false }

func benchSubject() Subject {
	return &benchSubj{dept: []string{"Sales"}, mail: []string{"Jane@Contoso.com"}, uac: []string{"512"}}
}

func BenchmarkScopeMatch(b *testing.B) {
	f := benchFilter()
	if errs := f.prepare(); errs != nil {
		b.Fatal(errs)
	}
	s := benchSubject()
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := f.Match(s); !ok {
			b.Fatal("no match")
		}
	}
}
