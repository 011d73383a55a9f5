package expr

import (
	"testing"

	"github.com/idsync/idsync/model"
)

// TestShortHash: ShortHash is the lower-case base32 SHA-256 prefix, the same
// in both dialects, per value on a multi-valued source, NULL on NULL, and
// refuses lengths outside 1–52.
func TestShortHash(t *testing.T) {
	env := testEnv{attrs: model.Attrs{"upn": model.Str("jdoe@contoso.com"), "multi": model.Str("abc", "abd")}}
	for _, d := range []Dialect{SyncRules, Provisioning} {
		for _, c := range []struct {
			src  string
			want []string
			err  bool
		}{
			// Checked with: printf abc | sha256sum | cut -d' ' -f1 | xxd -r -p | base32.
			{`ShortHash("abc", 5)`, []string{"xj4bn"}, false},
			{`ShortHash("abc", 52)`, []string{"xj4bnp4pahh6uqkbidpf3lrceoyagyndsylxvhfucd7wd4qacwwq"}, false},
			{`ShortHash([multi], 3)`, []string{"xj4", "uuw"}, false},
			{`ShortHash([absent], 5)`, nil, false},
			{`ShortHash([upn], 0)`, nil, true},
			{`ShortHash([upn], 53)`, nil, true},
		} {
			x, err := CompileDialect(c.src, d)
			if err != nil {
				t.Fatalf("%s %s: %v", d, c.src, err)
			}
			r, err := x.Eval(env)
			if c.err {
				if err == nil {
					t.Errorf("%s %s = %v, want an error", d, c.src, r.Values.Values)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s %s: %v", d, c.src, err)
			}
			if got := r.Values.Values; len(got) != len(c.want) || len(got) > 0 && (got[0] != c.want[0] || got[len(got)-1] != c.want[len(c.want)-1]) {
				t.Errorf("%s %s = %q, want %q", d, c.src, got, c.want)
			}
		}
	}
}
