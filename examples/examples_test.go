// Package examples_test checks that every example under examples/ works:
// its configuration loads, its sync rules validate, its connectors open, and
// the runnable examples synchronize what their READMEs say they do. It also
// checks that together the examples use every configuration key, so that the
// rule "every config key has a working example" cannot silently rot.
package examples_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/jackc/pgx/v5"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/internal/googlefake"
	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/postgres"
	"github.com/idsync/idsync/store/sqlite"
	"github.com/idsync/idsync/tenant"

	_ "github.com/idsync/idsync/connector/file"
	_ "github.com/idsync/idsync/connector/google"
	_ "github.com/idsync/idsync/connector/graph"
	_ "github.com/idsync/idsync/connector/ldap"
)

// exampleConfigs returns the paths of every examples/*/idsync.yaml.
func exampleConfigs(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("*", "idsync.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no examples/*/idsync.yaml found")
	}
	sort.Strings(paths)
	return paths
}

// loadRules loads the rules of a configuration as the CLI does
// (config.LoadRules: out-of-box rules, then the rule files) and validates them.
func loadRules(t *testing.T, cfg *config.Config) *rules.RuleSet {
	t.Helper()
	rs, err := cfg.LoadRules()
	if err != nil {
		t.Fatal(err)
	}
	env := rules.ValidateEnv{Connectors: map[string]*model.Schema{}}
	for _, cc := range cfg.Connectors {
		env.Connectors[cc.Name] = nil
	}
	if errs := rs.Validate(env); len(errs) > 0 {
		for _, e := range errs {
			t.Error(e)
		}
		t.FailNow()
	}
	return rs
}

// openConnector opens a configured connector through the registry.
func openConnector(t *testing.T, cc config.Connector) connector.Connector {
	t.Helper()
	f, err := connector.Lookup(cc.Type)
	if err != nil {
		t.Fatalf("connector %q: %v", cc.Name, err)
	}
	c, err := f(context.Background(), cc.Name, cc.Config.Decode)
	if err != nil {
		t.Fatalf("open connector %q: %v", cc.Name, err)
	}
	return c
}

// TestExamplesLoad loads every example's configuration and rules and opens
// its connectors.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

func TestExamplesLoad(t *testing.T) {
	for _, path := range exampleConfigs(t) {
		t.Run(filepath.Dir(path), func(t *testing.T) {
			// Secrets the example reads from the environment (${NAME}).
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range envRef.FindAllStringSubmatch(string(data), -1) {
				v := "example-secret"
				if m[1] == "GOOGLE_CREDENTIALS" {
					// A service account key is parsed when the connector
					// opens: give it one (of a fake, never contacted).
					v = string(googlefake.New(t).KeyJSON)
				}
				t.Setenv(m[1], v)
			}
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Tenants.Template != "" && len(cfg.Connectors) == 0 {
				// A service provider's configuration: what is checked is
				// the configuration its template makes for a tenant.
				cfg = renderTenant(t, path)
			}
			if len(cfg.Connectors) == 0 {
				t.Fatal("the example configures no connector")
			}
			rs := loadRules(t, cfg)
			if len(rs.Rules) == 0 {
				t.Fatal("the example has no sync rules")
			}
			for _, cc := range cfg.Connectors {
				c := openConnector(t, cc)
				// Directory and cloud connectors name servers that only
				// exist at the admin's site: their configuration is
				// validated by opening them, but they are not contacted.
				if tc, ok := c.(connector.Tester); ok && (cc.Type == "file" || cc.Type == "memory") {
					if err := tc.TestConnection(context.Background()); err != nil {
						t.Errorf("connector %s: %v", cc.Name, err)
					}
				}
				if err := c.Close(); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// copyDir copies an example directory into a temporary directory, so that
// runs never write into examples/.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o750)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o640)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// site is a runnable copy of an example: its configuration, store and engine,
// built the way cmd/idsync/app.go openApp builds them.
type site struct {
	t   *testing.T
	ctx context.Context
	dir string
	cfg *config.Config
	st  store.Store
	e   *engine.Engine
}

func openSite(t *testing.T, example string) *site {
	t.Helper()
	dir := copyDir(t, example)
	return openSiteAt(t, dir)
}

func openSiteAt(t *testing.T, dir string) *site {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.Load(filepath.Join(dir, "idsync.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rs := loadRules(t, cfg)
	conns := map[string]*engine.Connector{}
	for _, cc := range cfg.Connectors {
		c := openConnector(t, cc)
		t.Cleanup(func() { _ = c.Close() })
		th := cfg.Threshold(cc.Name)
		if !cfg.Safety.DeletesGuarded() {
			th = -1
		}
		conns[cc.Name] = &engine.Connector{Name: cc.Name, Conn: c, Partitions: cc.Partitions,
			Parameters: cc.Parameters, DeleteThreshold: th}
	}
	var st store.Store
	var err2 error
	if cfg.Store.Type == config.StorePostgres {
		st, err2 = postgres.Open(ctx, cfg.Store.DSN)
	} else {
		st, err2 = sqlite.Open(ctx, cfg.Store.Path)
	}
	if err2 != nil {
		t.Fatal(err2)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.SetSearchAttrs(ctx, cfg.Store.SearchAttrs()); err != nil { // as idsync does at open
		t.Fatal(err)
	}
	e := &engine.Engine{Store: st, Rules: rs, Connectors: conns, BatchSize: cfg.Engine.BatchSize}
	return &site{t: t, ctx: ctx, dir: dir, cfg: cfg, st: st, e: e}
}

// order returns the connectors in scheduler order (configuration order when
// scheduler.order is not set).
func (s *site) order() []string {
	if len(s.cfg.Scheduler.Order) > 0 {
		return s.cfg.Scheduler.Order
	}
	return s.cfg.Names()
}

// targets returns the connectors that have enabled outbound rules.
func (s *site) targets() []string {
	var out []string
	for _, c := range s.order() {
		if len(s.e.Rules.For(c, rules.Outbound)) > 0 {
			out = append(out, c)
		}
	}
	return out
}

// run runs one profile and fails the test on a run error or a per-object
// error; it returns the runs' summed counts.
func (s *site) run(conn string, p engine.Profile) store.RunCounts {
	s.t.Helper()
	runs, err := s.e.Run(s.ctx, conn, p, engine.RunOptions{})
	if err != nil {
		s.t.Fatalf("%s %s: %v", conn, p, err)
	}
	var sum store.RunCounts
	for _, r := range runs {
		if r.Status != store.RunSuccess || r.Counts.Errors > 0 {
			errs, _ := s.st.RunErrors(s.ctx, r.ID)
			s.t.Fatalf("%s %s: run %d ended %s with %d per-object errors: %v", conn, p, r.ID, r.Status, r.Counts.Errors, errs)
		}
		sum.Adds += r.Counts.Adds
		sum.Updates += r.Counts.Updates
		sum.Deletes += r.Counts.Deletes
		sum.Renames += r.Counts.Renames
	}
	return sum
}

// importAndSync runs a full import then a full synchronization of every
// connector, in order.
func (s *site) importAndSync(order []string) {
	s.t.Helper()
	for _, p := range []engine.Profile{engine.FullImport, engine.FullSync} {
		for _, c := range order {
			s.run(c, p)
		}
	}
}

// cycle runs a full cycle: full imports, full synchronizations, exports to
// the targets, then a confirming import and delta synchronization of the
// targets. It returns the summed counts of the exports.
func (s *site) cycle() store.RunCounts {
	s.t.Helper()
	s.importAndSync(s.order())
	var exp store.RunCounts
	for _, c := range s.targets() {
		n := s.run(c, engine.Export)
		exp.Adds += n.Adds
		exp.Updates += n.Updates
		exp.Deletes += n.Deletes
		exp.Renames += n.Renames
	}
	for _, c := range s.targets() {
		s.run(c, engine.FullImport)
		s.run(c, engine.DeltaSync)
	}
	return exp
}

// pending returns the number of pending exports of a connector.
func (s *site) pending(conn string) int {
	s.t.Helper()
	n, err := engine.PendingCounts(s.ctx, s.st, conn)
	if err != nil {
		s.t.Fatal(err)
	}
	total := 0
	for _, v := range n {
		total += v
	}
	return total
}

// ldif reads an LDIF file of the example copy: the DNs in file order and each
// entry's attribute lines.
func (s *site) ldif(name string) (dns []string, entries map[string][]string) {
	s.t.Helper()
	data, err := os.ReadFile(filepath.Join(s.dir, name))
	if err != nil {
		s.t.Fatal(err)
	}
	entries = map[string][]string{}
	cur := ""
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "dn: "):
			cur = strings.TrimPrefix(line, "dn: ")
			dns = append(dns, cur)
		case line == "":
			cur = ""
		case cur != "":
			entries[cur] = append(entries[cur], line)
		}
	}
	return dns, entries
}

// checkCycle runs a full cycle and checks that it exported, that nothing is
// left pending, and that a second cycle changes nothing.
func (s *site) checkCycle() {
	s.t.Helper()
	exp := s.cycle()
	if exp.Adds == 0 {
		s.t.Fatal("the first cycle exported nothing")
	}
	for _, c := range s.targets() {
		if n := s.pending(c); n != 0 {
			s.t.Errorf("%s: %d pending exports left after the cycle", c, n)
		}
	}
	if again := s.cycle(); again != (store.RunCounts{}) {
		s.t.Errorf("a second cycle over unchanged sources exported %+v, want nothing", again)
	}
}

func wantDNs(t *testing.T, got, want []string) {
	t.Helper()
	got = slices.Sorted(slices.Values(got))
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("target DNs:\n got %q\nwant %q", got, want)
	}
}

func hasLine(entries map[string][]string, dn, line string) bool {
	return slices.Contains(entries[dn], line)
}

func TestHRCSVToLDIF(t *testing.T) {
	s := openSite(t, "hr-csv-to-ldif")
	s.checkCycle()
	const people = ",ou=People,dc=example,dc=com"
	dns, entries := s.ldif("directory.ldif")
	// 1004 is Terminated: out of the inbound scope, never provisioned.
	wantDNs(t, dns, []string{
		"cn=Ana Souza" + people, "cn=Bruno Lima" + people, `cn=O'Brien\, Daniel` + people,
		"cn=Farah Haddad" + people, "cn=Gustavo Reis" + people,
	})
	if !hasLine(entries, "cn=Bruno Lima"+people, "manager: cn=Ana Souza"+people) {
		t.Errorf("Bruno Lima's manager is not Ana Souza's DN: %q", entries["cn=Bruno Lima"+people])
	}
	if !hasLine(entries, "cn=Bruno Lima"+people, "accountStatus: active") {
		t.Errorf("Bruno Lima is not active: %q", entries["cn=Bruno Lima"+people])
	}

	// Bruno is terminated in HR: his entry is disabled, not deleted.
	setStatus(t, filepath.Join(s.dir, "hr.csv"), "1002", "Active", "Terminated")
	s.cycle()
	dns, entries = s.ldif("directory.ldif")
	if len(dns) != 5 {
		t.Errorf("after the termination the directory has %d entries, want 5 (deprovision: disable keeps them)", len(dns))
	}
	if !hasLine(entries, "cn=Bruno Lima"+people, "accountStatus: disabled") {
		t.Errorf("Bruno Lima is not disabled after his termination: %q", entries["cn=Bruno Lima"+people])
	}

	// Re-hired: the outbound join finds the disabled entry and enables it.
	setStatus(t, filepath.Join(s.dir, "hr.csv"), "1002", "Terminated", "Active")
	s.cycle()
	dns, entries = s.ldif("directory.ldif")
	if len(dns) != 5 || !hasLine(entries, "cn=Bruno Lima"+people, "accountStatus: active") {
		t.Errorf("after the re-hire: %d entries, Bruno Lima %q; want 5 entries and Bruno active", len(dns), entries["cn=Bruno Lima"+people])
	}
}

// TestPostgres runs the postgres example (the HR example with its store in
// PostgreSQL) against a database of its own: the same directory, and a
// second cycle over the same store changes nothing.
func TestPostgres(t *testing.T) {
	t.Setenv("IDSYNC_STORE_DSN", peers.Postgres(t))
	s := openSite(t, "postgres")
	if s.cfg.Store.Type != config.StorePostgres {
		t.Fatalf("the example's store is %s", s.cfg.Store)
	}
	s.checkCycle()
	const people = ",ou=People,dc=example,dc=com"
	dns, entries := s.ldif("directory.ldif")
	wantDNs(t, dns, []string{
		"cn=Ana Souza" + people, "cn=Bruno Lima" + people, `cn=O'Brien\, Daniel` + people,
		"cn=Farah Haddad" + people, "cn=Gustavo Reis" + people,
	})
	if !hasLine(entries, "cn=Bruno Lima"+people, "manager: cn=Ana Souza"+people) {
		t.Errorf("Bruno Lima's manager is not Ana Souza's DN: %q", entries["cn=Bruno Lima"+people])
	}
	if _, err := os.Stat(filepath.Join(s.dir, "idsync.db")); err == nil {
		t.Error("the example wrote a SQLite file")
	}
	if n, err := s.st.CountCS(s.ctx, "directory"); err != nil || n != 5 {
		t.Errorf("directory objects in PostgreSQL: %d, %v; want 5", n, err)
	}
	setStatus(t, filepath.Join(s.dir, "hr.csv"), "1002", "Active", "Terminated")
	s.cycle()
	if _, entries = s.ldif("directory.ldif"); !hasLine(entries, "cn=Bruno Lima"+people, "accountStatus: disabled") {
		t.Errorf("Bruno Lima is not disabled after his termination: %q", entries["cn=Bruno Lima"+people])
	}
}

// TestHighAvailability runs the high-availability example's synchronization
// (its store and the application's table in PostgreSQL databases of their
// own) through one cycle: an account per active worker, none for a
// leaver. The failover of its two servers is TestHAFailover's
// (cmd/idsync).
func TestHighAvailability(t *testing.T) {
	appDSN := peers.Postgres(t)
	t.Setenv("IDSYNC_STORE_DSN", peers.Postgres(t))
	t.Setenv("IDSYNC_APP_DSN", appDSN)
	schema, err := os.ReadFile("high-availability/schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	db, err := pgx.Connect(t.Context(), appDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	if _, err := db.Exec(t.Context(), string(schema)); err != nil {
		t.Fatal(err)
	}
	s := openSite(t, "high-availability")
	if !s.cfg.HA.Enabled || s.cfg.HA.TakeoverAfter.Duration != 30*time.Second {
		t.Fatalf("ha = %+v", s.cfg.HA)
	}
	s.checkCycle()
	accounts := func() []string {
		rows, err := db.Query(t.Context(), `SELECT employee_id || ' ' || email FROM accounts ORDER BY employee_id`)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	if got := accounts(); len(got) != 5 || got[0] != "1001 ana.souza@example.com" {
		t.Fatalf("accounts after the first cycle: %v, want the 5 active workers'", got)
	}
	setStatus(t, filepath.Join(s.dir, "hr.csv"), "1002", "Active", "Terminated")
	s.cycle()
	if got := accounts(); len(got) != 4 || slices.Contains(got, "1002 bruno.lima@example.com") {
		t.Fatalf("accounts after Bruno Lima's termination: %v, want 4 without his", got)
	}
}

// setStatus rewrites the status column of one HR row.
func setStatus(t *testing.T, path, id, from, to string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	found := false
	for i, l := range lines {
		if strings.HasPrefix(l, id+",") && strings.HasSuffix(l, ","+from) {
			lines[i] = strings.TrimSuffix(l, from) + to
			found = true
		}
	}
	if !found {
		t.Fatalf("%s: no row %s with status %s", path, id, from)
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o640); err != nil {
		t.Fatal(err)
	}
}

func TestTwoForests(t *testing.T) {
	s := openSite(t, "two-forests")
	s.checkCycle()
	dns, entries := s.ldif("cloud.ldif")
	wantDNs(t, dns, []string{
		"CN=alice.smith@contoso.test,OU=Users,DC=cloud,DC=test",
		"CN=bob.jones@contoso.test,OU=Users,DC=cloud,DC=test",
		"CN=carol.white@contoso.test,OU=Users,DC=cloud,DC=test",
		"CN=diego.ramos@fabrikam.test,OU=Users,DC=cloud,DC=test",
		"CN=emma.brown@fabrikam.test,OU=Users,DC=cloud,DC=test",
		"CN=pat.lee@partner.example,OU=Contacts,DC=cloud,DC=test",
		"CN=Sales,OU=Groups,DC=cloud,DC=test",
		"CN=Engineering,OU=Groups,DC=cloud,DC=test",
	})
	if !hasLine(entries, "CN=carol.white@contoso.test,OU=Users,DC=cloud,DC=test", "accountEnabled: false") {
		t.Errorf("Carol White (userAccountControl 514) is not disabled: %q", entries["CN=carol.white@contoso.test,OU=Users,DC=cloud,DC=test"])
	}
	if !hasLine(entries, "CN=Sales,OU=Groups,DC=cloud,DC=test", "member: CN=bob.jones@contoso.test,OU=Users,DC=cloud,DC=test") {
		t.Errorf("the Sales group does not name Bob Jones's cloud DN: %q", entries["CN=Sales,OU=Groups,DC=cloud,DC=test"])
	}
	// Alice (user in contoso, contact in fabrikam), Diego (the reverse) and
	// Pat (a contact in both) are one metaverse object each.
	n, err := s.st.CountMV(s.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 8 {
		t.Errorf("metaverse has %d objects, want 8 (5 users, 1 partner contact, 2 groups)", n)
	}
	// store.searchAttributes adds department: the metaverse search finds
	// the Sales people by it.
	var sales []string
	_ = s.st.ScanMV(s.ctx, func(m *store.MVObject) error {
		if m.Attrs.First("department") == "Sales" {
			sales = append(sales, m.ID)
		}
		return nil
	})
	ms, next, err := s.st.SearchMV(s.ctx, store.MVQuery{Attr: "department", Value: "SAL", Prefix: true})
	var found []string
	for _, m := range ms {
		found = append(found, m.ID)
	}
	if err != nil || next != "" || len(sales) == 0 || strings.Join(found, ",") != strings.Join(sales, ",") {
		t.Errorf("search by department SAL… = %v (next %q), %v; want %v", found, next, err, sales)
	}
}

// TestTwoForestsOrder checks R1.1 on the example: synchronizing the forests
// in either order gives the same metaverse and the same pending exports.
func TestTwoForestsOrder(t *testing.T) {
	canon := func(order []string) string {
		s := openSite(t, "two-forests")
		s.importAndSync(order)
		out, err := engine.Canonical(s.ctx, s.st)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	a := canon([]string{"contoso", "fabrikam", "cloud"})
	b := canon([]string{"fabrikam", "contoso", "cloud"})
	c := canon([]string{"cloud", "fabrikam", "contoso"})
	if a != b || a != c {
		t.Errorf("the result depends on the synchronization order:\ncontoso first:\n%s\nfabrikam first:\n%s\ncloud first:\n%s", a, b, c)
	}
}

func TestFiltering(t *testing.T) {
	s := openSite(t, "filtering")
	s.checkCycle()
	dns, _ := s.ldif("cloud.ldif")
	// Ben: NoSync; Cleo: UPN outside contoso.com; Eva and Finn: not in the
	// positive filter's scope.
	wantDNs(t, dns, []string{
		"CN=ana.costa@contoso.com,OU=Users,DC=cloud,DC=test",
		"CN=dan.walsh@contoso.com,OU=Users,DC=cloud,DC=test",
	})
}

// TestEveryConfigKeyHasExample checks that every key of config.Config is set
// in at least one examples/*/idsync.yaml.
func TestEveryConfigKeyHasExample(t *testing.T) {
	want := configKeys(reflect.TypeFor[config.Config](), "")
	if len(want) < 10 {
		t.Fatalf("found only %d configuration keys: %v", len(want), want)
	}
	used := map[string]bool{}
	for _, path := range exampleConfigs(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		collectKeys(doc, "", used)
	}
	for _, k := range want {
		if !used[k] {
			t.Errorf("configuration key %s is not used by any examples/*/idsync.yaml: add it to an example", k)
		}
	}
}

// configKeys returns the dotted YAML key paths of a configuration struct,
// list elements included ("connectors.name"). A field whose type decodes
// itself (config.Duration, config.Block) or is not a struct is a leaf.
func configKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		key := prefix + name
		keys = append(keys, key)
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && !decodesItself(ft) {
			keys = append(keys, configKeys(ft, key+".")...)
		}
	}
	return keys
}

func decodesItself(t reflect.Type) bool {
	_, ok := reflect.PointerTo(t).MethodByName("UnmarshalYAML")
	return ok
}

// collectKeys records the dotted key paths set in a decoded YAML document.
func collectKeys(v any, prefix string, used map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			used[prefix+k] = true
			collectKeys(val, prefix+k+".", used)
		}
	case []any:
		for _, e := range x {
			collectKeys(e, prefix, used)
		}
	}
}

// renderTenant copies a provider's example, makes the configuration of a
// tenant "example" from its template (tenants.template, with the template's
// default settings) into its tenants.dir, and loads it.
func renderTenant(t *testing.T, path string) *config.Config {
	t.Helper()
	dir := copyDir(t, filepath.Dir(path))
	pcfg, err := config.Load(filepath.Join(dir, filepath.Base(path)))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := tenant.LoadTemplate(pcfg.Tenants.Template)
	if err != nil {
		t.Fatal(err)
	}
	tdir, err := tenant.ConfigDir(pcfg.Tenants.Dir, "example")
	if err != nil {
		t.Fatal(err)
	}
	tpath, err := tmpl.Render(&store.Tenant{ID: "example", Name: "Example Ltd"}, tdir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(tpath)
	if err != nil {
		t.Fatalf("the configuration the template makes: %v", err)
	}
	return cfg
}

// TestAADConnectConsoleFiles: the console-managed files of
// examples/aad-connect are loaded with its configuration: contoso's
// containers come from idsync.console.yaml, the clone is a rule and the
// original out-of-box rule is disabled.
func TestAADConnectConsoleFiles(t *testing.T) {
	path := filepath.Join("aad-connect", "idsync.yaml")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if keys := cfg.Connector("contoso").Config.ConsoleKeys(); len(keys) != 1 || keys[0] != "containers" {
		t.Errorf("contoso's keys set by idsync.console.yaml: %v", keys)
	}
	if !strings.Contains(cfg.Connector("contoso").Config.Text(), "OU=Disabled Accounts,DC=contoso,DC=test") {
		t.Errorf("contoso's config block:\n%s", cfg.Connector("contoso").Config.Text())
	}
	rs := loadRules(t, cfg)
	state := map[string]*rules.Rule{}
	for _, r := range rs.Rules {
		state[r.Name] = r
	}
	if c := state["In from AD - User Join (contoso, custom)"]; c == nil || c.Disabled || c.Precedence != 40 || c.Immutable {
		t.Errorf("the clone: %+v", c)
	}
	if o := state["In from AD - User Join (contoso)"]; o == nil || !o.Disabled || !o.Immutable {
		t.Errorf("the original: %+v", o)
	}
}
