package expr

import (
	"errors"
	"testing"
)

// FuzzParseProvisioning checks that compiling in the provisioning dialect
// never panics and that evaluating whatever compiles never panics.
func FuzzParseProvisioning(f *testing.F) {
	for _, s := range []string{
		`Replace([BusinessTitle],"Product Developer", , , "Software Engineer", , )`,
		`Replace([telephoneNumber], , "\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})", "phoneNumber" , , [mobile], )`,
		`Replace([a], , "(?<g>^\\d*)", "g", "888", , )`,
		`FormatDateTime([a], , "yyyyMMddHHmmss.fZ", "yyyy-MM-dd")`,
		`Switch([Active], , "1", IIF(DateDiff("d", Now(), CDate([d])) > 5, "False", "True"), "0", "False")`,
		`SelectUniqueValue(Join("@", NormalizeDiacritics(StripSpaces(Join(".", [a], [b]))), "x"), Mid([a], 1, 1))`,
		`IgnoreFlowIfNullOrEmpty(Coalesce([a], [b], ""))`, `Redact(RandomString(10,2,2,2,1,"?,"))`,
		`PCase([a], " '-")`, `NumFromDate(Join("", FormatDateTime([e], ,"yyyy-MM-ddzzz", "yyyy-MM-dd"), " 23:59:59-08:00"))`,
		`DateAdd("ww", 2, CDate([d]))`, `Not(IsPresent([a]))`, `ToUpper(Item(Split([a], ","), 2), "en-US")`,
	} {
		f.Add(s, uint64(1))
	}
	f.Fuzz(func(t *testing.T, src string, seed uint64) {
		c, err := CompileDialect(src, Provisioning)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("CompileDialect(%q): error %T, want *SyntaxError", src, err)
			}
			return
		}
		_, _ = c.Eval(randEnv{seed})
		_ = c.Attributes()
		_ = IsRedacted(c)
	})
}
