package sample_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/connector/file"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/sample"
)

func generate(t testing.TB, opts sample.GenOptions) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := sample.Generate(&b, opts); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// load imports LDIF data through the file connector.
func load(t testing.TB, data []byte) []*model.Object {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data.ldif")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := file.New("sample", file.Config{Path: path, Anchor: "objectGUID"})
	if err != nil {
		t.Fatal(err)
	}
	var objs []*model.Object
	if _, err := c.FullImport(context.Background(), connector.ImportRequest{}, func(o *model.Object) error {
		objs = append(objs, o)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return objs
}

func TestGenerateDeterministic(t *testing.T) {
	opts := sample.GenOptions{Seed: 42, Users: 300, Groups: 10, MembersPerGroup: 20, Contacts: 30, DisabledEvery: 5}
	a, b := generate(t, opts), generate(t, opts)
	if !bytes.Equal(a, b) {
		t.Error("same options, different output")
	}
	opts.Seed = 43
	if bytes.Equal(a, generate(t, opts)) {
		t.Error("different seeds, same output")
	}
}

func TestGenerate(t *testing.T) {
	tests := []struct {
		name string
		opts sample.GenOptions
	}{
		{"defaults", sample.GenOptions{Seed: 1, Users: 2000, Groups: 60, MembersPerGroup: 25, Contacts: 100, DisabledEvery: 7}},
		{"custom domain and OUs", sample.GenOptions{Seed: 2, Users: 50, Groups: 3, MembersPerGroup: 80, Contacts: 2, BaseDN: "DC=fabrikam,DC=test", Domain: "fabrikam.test", MailDomain: "mail.fabrikam.test", OUs: []string{"R&D, Labs", "#1 Team"}}},
		{"nothing", sample.GenOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := load(t, generate(t, tt.opts))
			baseDN, domain := tt.opts.BaseDN, tt.opts.Domain
			if baseDN == "" {
				baseDN, domain = "DC=contoso,DC=test", "contoso.test"
			}
			mailDomain := tt.opts.MailDomain
			if mailDomain == "" {
				mailDomain = domain
			}
			count := map[string]int{}
			userDNs := map[string]bool{}
			sams, ids := map[string]bool{}, map[string]bool{}
			disabled := 0
			for _, o := range objs {
				count[o.Type]++
				if !strings.HasSuffix(o.DN, ","+baseDN) {
					t.Errorf("DN %q not under %q", o.DN, baseDN)
				}
				if o.Type != "user" {
					continue
				}
				userDNs[o.DN] = true
				a := o.Attrs
				sam, id := a.First("sAMAccountName"), a.First("employeeID")
				if sam == "" || len(sam) > 20 || sams[sam] {
					t.Errorf("sAMAccountName %q empty, too long or repeated", sam)
				}
				if id == "" || ids[id] {
					t.Errorf("employeeID %q empty or repeated", id)
				}
				sams[sam], ids[id] = true, true
				if a.First("userPrincipalName") != sam+"@"+domain || a.First("mail") != sam+"@"+mailDomain {
					t.Errorf("%s: upn %q mail %q", sam, a.First("userPrincipalName"), a.First("mail"))
				}
				if a.First("userAccountControl") == "514" {
					disabled++
				}
				for _, attr := range []string{"cn", "givenName", "sn", "displayName", "department", "title", "telephoneNumber", "l"} {
					if !a.Has(attr) {
						t.Errorf("%s has no %s", sam, attr)
					}
				}
				// The DN is built from the escaped displayName and department.
				want := "CN=" + sample.EscapeDNValue(a.First("displayName")) + ",OU=" + sample.EscapeDNValue(a.First("department")) + "," + baseDN
				if o.DN != want {
					t.Errorf("DN %q, want %q", o.DN, want)
				}
			}
			members := 0
			for _, o := range objs {
				if o.Type != "group" {
					continue
				}
				seen := map[string]bool{}
				for _, m := range o.Attrs["member"].Values {
					if !userDNs[m] {
						t.Errorf("%s: member %q is not a user", o.DN, m)
					}
					if seen[m] {
						t.Errorf("%s: member %q twice", o.DN, m)
					}
					seen[m] = true
				}
				if len(o.Attrs["member"].Values) != min(tt.opts.MembersPerGroup, tt.opts.Users) {
					t.Errorf("%s has %d members", o.DN, len(o.Attrs["member"].Values))
				}
				members++
			}
			want := map[string]int{}
			for k, n := range map[string]int{"user": tt.opts.Users, "group": tt.opts.Groups, "contact": tt.opts.Contacts} {
				if n > 0 {
					want[k] = n
				}
			}
			if len(count) != len(want) || count["user"] != want["user"] || count["group"] != want["group"] || count["contact"] != want["contact"] {
				t.Errorf("counts %v, want %v", count, want)
			}
			if n := tt.opts.DisabledEvery; n > 0 && disabled != tt.opts.Users/n {
				t.Errorf("%d disabled users, want %d", disabled, tt.opts.Users/n)
			}
		})
	}
}

// TestGenerateEscapedNames: some users have "Last, First" display names,
// whose comma is escaped in the DN.
func TestGenerateEscapedNames(t *testing.T) {
	data := generate(t, sample.GenOptions{Seed: 3, Users: 500})
	if !bytes.Contains(data, []byte(`\, `)) {
		t.Error("no escaped comma in 500 users")
	}
	if bytes.Contains(data, []byte("dn:: ")) == false {
		t.Error("no base64 DN (non-ASCII name) in 500 users")
	}
}

func TestEscapeDNValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Ann Lee", "Ann Lee"},
		{"Lee, Ann", `Lee\, Ann`},
		{`a+b"c\d<e>f;g=h`, `a\+b\"c\\d\<e\>f\;g\=h`},
		{"#1 Team", `\#1 Team`},
		{"a#b", "a#b"},
		{" lead", `\ lead`},
		{"trail ", `trail\ `},
		{" ", `\ `},
		{"nul\x00", `nul\00`},
		{"José", "José"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := sample.EscapeDNValue(tt.in); got != tt.want {
			t.Errorf("EscapeDNValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestGenerateOptionErrors(t *testing.T) {
	for _, opts := range []sample.GenOptions{{Users: -1}, {OUs: []string{"IT", ""}}} {
		if err := sample.Generate(io.Discard, opts); err == nil {
			t.Errorf("%+v accepted", opts)
		}
	}
}

// TestGenerateStreams checks that Generate does not hold its output: in the
// middle of writing 100k users (~50 MB), the live heap has grown by a few MB
// at most.
func TestGenerateStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	var base runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)
	w := &countingWriter{probeAt: 40 << 20}
	if err := sample.Generate(w, sample.GenOptions{Seed: 1, Users: 100000, Groups: 100, MembersPerGroup: 100, Contacts: 1000}); err != nil {
		t.Fatal(err)
	}
	if w.heap == 0 {
		t.Fatalf("wrote only %d bytes", w.n)
	}
	grown := int64(w.heap) - int64(base.HeapAlloc)
	t.Logf("wrote %d MB; live heap grew by %d KB", w.n>>20, grown>>10)
	if grown > 8<<20 {
		t.Errorf("live heap grew by %d MB while generating", grown>>20)
	}
}

// countingWriter counts bytes; once past probeAt (if set) it measures the
// live heap.
type countingWriter struct {
	n, probeAt int
	heap       uint64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	if w.probeAt > 0 && w.n >= w.probeAt && w.heap == 0 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		w.heap = m.HeapAlloc
	}
	return len(p), nil
}

func TestDemo(t *testing.T) {
	a, b := sample.DemoForests()
	fa, fb := load(t, a), load(t, b)
	type counts struct{ users, groups, contacts, disabled int }
	tally := func(objs []*model.Object) (c counts) {
		for _, o := range objs {
			switch o.Type {
			case "user":
				c.users++
				if o.Attrs.First("userAccountControl") == "514" {
					c.disabled++
				}
			case "group":
				c.groups++
			case "contact":
				c.contacts++
			}
		}
		return c
	}
	if got, want := tally(fa), (counts{10, 3, 2, 1}); got != want {
		t.Errorf("forest A: %+v, want %+v", got, want)
	}
	if got, want := tally(fb), (counts{9, 2, 2, 0}); got != want {
		t.Errorf("forest B: %+v, want %+v", got, want)
	}
	mails := map[string]string{} // mail → type, forest A
	for _, o := range fa {
		mails[strings.ToLower(o.Attrs.First("mail"))] = o.Type
	}
	var dups []string
	for _, o := range fb {
		if typ, ok := mails[strings.ToLower(o.Attrs.First("mail"))]; ok && o.Attrs.Has("mail") {
			dups = append(dups, o.Type+" "+o.Attrs.First("mail")+" = A "+typ)
		}
	}
	if len(dups) != 1 || dups[0] != "contact sofia.alvarez@contoso.test = A user" {
		t.Errorf("mail duplicates across forests: %q", dups)
	}
	guids := map[string]bool{}
	for _, o := range append(fa, fb...) {
		if len(o.Attrs.First("objectGUID")) != 16 || guids[o.Anchor] {
			t.Errorf("%s: objectGUID missing, malformed or repeated", o.DN)
		}
		guids[o.Anchor] = true
	}
}

func BenchmarkGenerate100k(b *testing.B) {
	opts := sample.GenOptions{Seed: 1, Users: 100000, Groups: 500, MembersPerGroup: 50, Contacts: 1000, DisabledEvery: 20}
	objects := opts.Users + opts.Groups + opts.Contacts
	b.ReportAllocs()
	w := &countingWriter{}
	for b.Loop() {
		w.n = 0
		if err := sample.Generate(w, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(w.n))
	b.ReportMetric(float64(objects*b.N)/b.Elapsed().Seconds(), "objects/s")
}
