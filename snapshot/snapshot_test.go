package snapshot

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store/sqlite"
)

const baseRules = `rules:
  - name: in
    connector: ad
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 10
    flows: [{type: Direct, source: cn, target: cn}]
  - name: out
    connector: cloud
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 20
    flows: [{type: Direct, source: cn, target: cn}]
`

func take(t *testing.T, cfgYAML, rulesYAML string) *Snapshot {
	t.Helper()
	cfg, err := config.Parse("/x/idsync.yaml", []byte(cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	f, err := rules.Parse("r.yaml", []byte(rulesYAML))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Merge(f)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Take(cfg, rs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDiffAndNeeds(t *testing.T) {
	const cfg = "connectors:\n  - {name: ad, type: ldap, config: {url: ldap://a, containers: {include: [OU=A]}}}\n  - {name: cloud, type: ldap, config: {url: ldap://c}}\n"
	base := take(t, cfg, baseRules)
	for _, tc := range []struct {
		name, cfg, rules     string
		want                 []string
		fullImport, fullSync []string
	}{
		{"nothing", cfg, baseRules, nil, nil, nil},
		{"the rule moved to another file only", cfg, baseRules + "\n# comment\n", nil, nil, nil},
		{"OU filter", "connectors:\n  - {name: ad, type: ldap, config: {url: ldap://a, containers: {include: [OU=B]}}}\n  - {name: cloud, type: ldap, config: {url: ldap://c}}\n", baseRules,
			[]string{"connector changed: ad"}, []string{"ad"}, []string{"ad"}},
		{"inbound rule", cfg, strings.Replace(baseRules, "source: cn, target: cn}]\n  - name: out", "source: sn, target: cn}]\n  - name: out", 1),
			[]string{"rule changed: in (flows)"}, []string{"ad"}, []string{"ad"}},
		{"outbound rule disabled", cfg, baseRules + "    disabled: true\n",
			[]string{"rule changed: out (disabled)"}, nil, []string{"ad", "cloud"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changes := Diff(base, take(t, tc.cfg, tc.rules))
			var got []string
			for _, c := range changes {
				got = append(got, c.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("changes = %q, want %q", got, tc.want)
			}
			fi, fs := Needs(changes, []string{"ad", "cloud"})
			if g := slices.Sorted(maps.Keys(fi)); !slices.Equal(g, tc.fullImport) {
				t.Errorf("full imports %v, want %v", g, tc.fullImport)
			}
			if g := slices.Sorted(maps.Keys(fs)); !slices.Equal(g, tc.fullSync) {
				t.Errorf("full syncs %v, want %v", g, tc.fullSync)
			}
		})
	}
	if Diff(nil, base) != nil {
		t.Error("no snapshot yet: no changes")
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got, err := Load(context.Background(), st); got != nil || err != nil {
		t.Fatalf("Load on an empty store = %v, %v", got, err)
	}
	if err := base.Save(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	got, err := Load(context.Background(), st)
	if err != nil || len(Diff(got, base)) != 0 {
		t.Fatalf("saved and loaded: %v, diff %v", err, Diff(got, base))
	}
}
