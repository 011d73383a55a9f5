package expr

import (
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/idsync/idsync/model"
)

// randEnv returns pseudo-random values of every type, the same for the same
// seed and name.
type randEnv struct{ seed uint64 }

func (e randEnv) rng(name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(e.seed, h.Sum64()))
}

func (e randEnv) Attr(name string) model.Values {
	r := e.rng(name)
	n := r.IntN(4)
	v := model.Values{Type: model.Type(r.IntN(6))}
	for range n {
		var s string
		switch v.Type {
		case model.Integer:
			s = strconv.FormatInt(r.Int64()-r.Int64(), 10)
		case model.Boolean:
			s = strconv.FormatBool(r.IntN(2) == 0)
		case model.DateTime:
			s = "2026-11-23T10:00:00Z"
		default:
			b := make([]byte, r.IntN(20))
			for i := range b {
				b[i] = byte(r.IntN(256))
				if r.IntN(2) == 0 {
					b[i] = "abc,=\\ {}-0123456789SMTP:"[r.IntN(25)]
				}
			}
			s = string(b)
		}
		v.Values = append(v.Values, s)
	}
	return v
}

func (e randEnv) ImportedValue(name string) model.Values { return e.Attr("imported:" + name) }
func (e randEnv) Param(name string) string {
	if v := e.Attr("param:" + name).Values; len(v) > 0 {
		return v[0]
	}
	return ""
}

// FuzzParse checks that compiling never panics and that evaluating whatever
// compiles never panics, on random attribute values.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		oobCloudFiltered, oobUPN, oobMailEnabled, oobPwdLastSet, oobSecurityEnabled,
		`2*(5+3)`, `Left([a], -1) & Mid([b], 2, 3)`, `Select($i, [a], Trim($i))`,
		`With($x, Split([a], ","), Join(RemoveDuplicates($x), ";"))`,
		`StringFromGuid([g]) & StringFromSid([s]) & ConvertToBase64([g])`,
		`FormatDateTime(DateAdd("m", [n], CDate([d])), "yyyy-MM-dd")`,
		`DNComponentRev([dn], 2, DC) & EscapeDNComponent([x])`,
		`Switch([a] = 1, "one", True, Error("x"))`, `&HFF + %Domain.FQDN%`,
	} {
		f.Add(s, uint64(1))
	}
	f.Fuzz(func(t *testing.T, src string, seed uint64) {
		c, err := Compile(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compile(%q): error %T, want *SyntaxError", src, err)
			}
			return
		}
		_, _ = c.Eval(randEnv{seed})
		_ = c.Attributes()
	})
}
