package main

import (
	"database/sql"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/internal/secret"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/tenant"
)

// createSubscribers makes the example's subscriber table.
func createSubscribers(t *testing.T, driver, dsn, schema string) {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b, err := os.ReadFile(schema)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), string(b)); err != nil {
		t.Fatal(err)
	}
}

// readSubscribers reads a tenant's rows of the subscriber table by
// subscriber_id.
func readSubscribers(t *testing.T, driver, dsn, tenantID string) map[string]map[string]string {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := `SELECT subscriber_id, display_name, email, extension, sip_user, sip_domain, sip_password, status FROM subscribers WHERE tenant_id = $1`
	rows, err := db.QueryContext(t.Context(), q, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]map[string]string{}
	for rows.Next() {
		var id, name, mail, user, domain, pw, status string
		var ext int64
		if err := rows.Scan(&id, &name, &mail, &ext, &user, &domain, &pw, &status); err != nil {
			t.Fatal(err)
		}
		out[id] = map[string]string{"subscriberId": id, "displayName": name, "mail": mail, "extension": strconv.FormatInt(ext, 10),
			"sipUser": user, "sipDomain": domain, "sipPassword": pw, "status": status}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// readCSV reads a CSV file into maps by header, keyed by the column key.
func readCSV(t *testing.T, path, key string) map[string]map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, rec := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = rec[i]
		}
		out[m[key]] = m
	}
	return out
}

// TestOnboarding runs examples/tenant-onboarding from the command line,
// with the subscriber table in PostgreSQL:
// discover → settings (extensions from 2001) → review with two users
// edited and one removed → confirm → the subscriber list and a spreadsheet
// read back; then a second sync with 3 new users and 1 removed: the
// extensions given stay, the new ones continue, the removed one is
// disabled, and the next spreadsheet holds only the new ones. Passwords
// never appear in the command's output or logs; a second tenant sees none
// of the first's.
func TestOnboarding(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, filepath.Join("..", "..", "examples", "tenant-onboarding"), dir)
	cfg := filepath.Join(dir, "idsync.yaml")
	key, err := secret.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("IDSYNC_SECRET_KEY", key)
	pg := peers.Postgres(t)
	createSubscribers(t, "pgx", pg, filepath.Join(dir, "schema-postgres.sql"))
	t.Setenv("IDSYNC_TEST_SUBSCRIBERS_DSN", pg)
	var outputs strings.Builder
	run := func(args ...string) (string, string, int) {
		t.Helper()
		out, errOut, code := idsyncStdin(t, "", append([]string{"--config", cfg, "--log-level", "debug"}, args...)...)
		outputs.WriteString(out + errOut)
		return out, errOut, code
	}
	must := func(args ...string) string {
		t.Helper()
		out, errOut, code := run(args...)
		if code != 0 {
			t.Fatalf("idsync %v: exit %d: %s%s", args, code, out, errOut)
		}
		return out
	}
	must("tenant", "create", "contoso", "--name", "Contoso Ltd")
	if _, errOut, code := run("tenant", "settings", "contoso", "--set", "extensionStart=12ab"); code == 0 || !strings.Contains(errOut, "does not match") {
		t.Errorf("a bad setting: exit %d, %s", code, errOut)
	}
	must("tenant", "settings", "contoso", "--set", "extensionStart=2001", "--set", "subscriberDriver=postgres",
		"--set", "subscriberDSN=${IDSYNC_TEST_SUBSCRIBERS_DSN}")
	if out := must("onboard", "discover", "contoso"); !strings.Contains(out, "4 users in its directory; confirming would create 3 subscribers") {
		t.Fatalf("discover: %s", out)
	}
	review := filepath.Join(dir, "review.csv")
	must("onboard", "review", "contoso", "--out", review)
	rows := readCSV(t, review, "id")
	if r := rows["7c1e2f4a-0001"]; r["extension"] != "2001" || r["include"] != "yes" || r["state"] != "new" || r["sipUser"] != "adele.vance" {
		t.Fatalf("review row of Adele: %v", r)
	}
	if r := rows["7c1e2f4a-0004"]; r["include"] != "no" || r["state"] != "out of scope" {
		t.Errorf("review row of the disabled Grady: %v", r)
	}
	edit := func(content string) string {
		p := filepath.Join(dir, "edited.csv")
		writeFile(t, p, content)
		return p
	}
	head := "id,include,state,displayName,mail,extension,sipUser,sipDomain,status\n"
	// Invalid lists change nothing.
	for _, tc := range []struct{ content, want string }{
		{head + "7c1e2f4a-0001,yes,new,Adele Vance,adele.vance@contoso.com,2002,adele.vance,sip.example.net,active\n", "extension 2002 would be given to 7c1e2f4a-0001 and 7c1e2f4a-0002"},
		{head + "nobody,yes,new,X,x@contoso.com,3000,x,sip.example.net,active\n", `id "nobody" is not a user`},
		{head + "7c1e2f4a-0001,maybe,new,Adele Vance,adele.vance@contoso.com,2001,adele.vance,sip.example.net,active\n", "include \"maybe\": yes or no"},
		{head + "7c1e2f4a-0001,yes,new,Adele Vance,adele.vance@contoso.com,twenty,adele.vance,sip.example.net,active\n", `extension "twenty": a number`},
		{head + "7c1e2f4a-0001,yes,new,Adele Vance,adele.vance@contoso.com,2001,adele.vance,sip.other.net,active\n", "column sipDomain cannot be edited"},
		{head + "7c1e2f4a-0004,yes,out of scope,,,,,,\n", "out of scope of the subscriber rules"},
	} {
		if _, errOut, code := run("onboard", "review", "contoso", "--apply", edit(tc.content)); code == 0 || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "nothing was changed") {
			t.Errorf("applying %q: exit %d, %s; want %q", tc.content, code, errOut, tc.want)
		}
	}
	// Two users edited: Adele's display name, Alex's extension (2050) and
	// SIP user (alex.w); then Diego is removed.
	out := must("onboard", "review", "contoso", "--apply", edit(head+
		"7c1e2f4a-0001,yes,new,Adele Vance-Berg,adele.vance@contoso.com,2001,adele.vance,sip.example.net,active\n"+
		"7c1e2f4a-0002,yes,new,Alex Wilber,alex.wilber@contoso.com,2050,alex.w,sip.example.net,active\n"))
	if !strings.Contains(out, "3 values edited, 0 users removed") {
		t.Errorf("apply: %s", out)
	}
	out = must("onboard", "review", "contoso", "--apply", edit(head+"7c1e2f4a-0003,no,new,,,,,,\n"))
	if !strings.Contains(out, "0 values edited, 1 users removed") || !strings.Contains(out, "confirming would create 2 subscribers") {
		t.Errorf("apply: %s", out)
	}
	if out := must("onboard", "confirm", "contoso"); !strings.Contains(out, "2 subscribers created, 0 updated, 0 deleted, 0 errors; 2 passwords await delivery") {
		errs, _, _ := run("--tenant", "contoso", "runs", "--errors")
		t.Fatalf("confirm: %s\n%s", out, errs)
	}
	subs := readSubscribers(t, "pgx", pg, "contoso")
	if len(subs) != 2 || subs["7c1e2f4a-0001"]["extension"] != "2001" || subs["7c1e2f4a-0002"]["extension"] != "2050" ||
		subs["7c1e2f4a-0002"]["sipUser"] != "alex.w" || subs["7c1e2f4a-0001"]["displayName"] != "Adele Vance-Berg" {
		t.Fatalf("subscribers: %v", subs)
	}
	xlsx := filepath.Join(dir, "contoso-1.xlsx")
	must("onboard", "spreadsheet", "contoso", "--xlsx", xlsx, "--csv", filepath.Join(dir, "contoso-1.csv"))
	checkSheet := func(path string, want map[string]map[string]string) {
		t.Helper()
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, _ := f.Stat()
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", path, st.Mode().Perm())
		}
		cells, err := tenant.ReadXLSX(f)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(cells[0], []string{"Name", "E-mail", "Extension", "SIP user", "Password", "SIP domain"}) || len(cells) != len(want)+1 {
			t.Fatalf("%s: %v", path, cells)
		}
		for _, row := range cells[1:] {
			var sub map[string]string
			for _, s := range want {
				if s["mail"] == row[1] {
					sub = s
				}
			}
			if sub == nil || row[0] != sub["displayName"] || row[2] != sub["extension"] || row[3] != sub["sipUser"] ||
				row[4] != sub["sipPassword"] || len(row[4]) != 16 || row[5] != "sip.example.net" {
				t.Errorf("%s row %v, subscriber %v", path, row, sub)
			}
		}
	}
	checkSheet(xlsx, subs)
	if _, errOut, code := run("onboard", "spreadsheet", "contoso", "--xlsx", filepath.Join(dir, "again.xlsx")); code == 0 || !strings.Contains(errOut, "no passwords await delivery") {
		t.Errorf("a second spreadsheet: exit %d, %s", code, errOut)
	}
	// Alex lost his password: a reset is the only way to deliver one again.
	if _, errOut, code := run("onboard", "reset-password", "contoso", "7c1e2f4a-0003"); code == 0 || !strings.Contains(errOut, "no subscriber yet") {
		t.Errorf("resetting a removed user: exit %d, %s", code, errOut)
	}
	must("onboard", "reset-password", "contoso", "7c1e2f4a-0002")
	if out := must("onboard", "confirm", "contoso"); !strings.Contains(out, "0 subscribers created, 1 updated, 0 deleted, 0 errors; 1 passwords await delivery") {
		t.Fatalf("confirm after a reset: %s", out)
	}
	reset := readSubscribers(t, "pgx", pg, "contoso")
	if reset["7c1e2f4a-0002"]["sipPassword"] == subs["7c1e2f4a-0002"]["sipPassword"] || reset["7c1e2f4a-0001"]["sipPassword"] != subs["7c1e2f4a-0001"]["sipPassword"] {
		t.Fatalf("after the reset: %v, before %v", reset, subs)
	}
	resetSheet := filepath.Join(dir, "contoso-reset.xlsx")
	must("onboard", "spreadsheet", "contoso", "--xlsx", resetSheet)
	checkSheet(resetSheet, map[string]map[string]string{"7c1e2f4a-0002": reset["7c1e2f4a-0002"]})
	subs = reset

	// The second sync: Adele leaves, three join.
	users := filepath.Join(dir, "contoso-users.csv")
	b, _ := os.ReadFile(users)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	lines = slices.DeleteFunc(lines, func(l string) bool { return strings.HasPrefix(l, "7c1e2f4a-0001,") })
	for _, n := range []string{"Megan Bowen", "Nestor Wilke", "Patti Fernandez"} {
		first, last, _ := strings.Cut(n, " ")
		upn := strings.ToLower(first+"."+last) + "@contoso.com"
		lines = append(lines, "new-"+strings.ToLower(first)+","+upn+","+first+","+last+","+n+","+upn+",true")
	}
	writeFile(t, users, strings.Join(lines, "\n")+"\n")
	if out := must("onboard", "discover", "contoso"); !strings.Contains(out, "confirming would create 3 subscribers, update 1, delete 0") {
		t.Fatalf("second discover: %s", out)
	}
	must("onboard", "confirm", "contoso")
	subs2 := readSubscribers(t, "pgx", pg, "contoso")
	if len(subs2) != 5 || subs2["7c1e2f4a-0001"]["status"] != "disabled" || subs2["7c1e2f4a-0001"]["extension"] != "2001" ||
		subs2["7c1e2f4a-0002"]["extension"] != "2050" || subs2["7c1e2f4a-0002"]["sipPassword"] != subs["7c1e2f4a-0002"]["sipPassword"] {
		t.Fatalf("after the second sync: %v", subs2)
	}
	var exts []string
	fresh := map[string]map[string]string{}
	for id, s := range subs2 {
		if strings.HasPrefix(id, "new-") {
			exts = append(exts, s["extension"])
			fresh[id] = s
		}
	}
	slices.Sort(exts)
	if !slices.Equal(exts, []string{"2002", "2003", "2004"}) {
		t.Errorf("the new users' extensions = %v, want 2002–2004", exts)
	}
	checkSheet2 := filepath.Join(dir, "contoso-2.xlsx")
	must("onboard", "spreadsheet", "contoso", "--xlsx", checkSheet2)
	checkSheet(checkSheet2, fresh)

	// A second tenant sees nothing of the first.
	must("tenant", "add", "fabrikam")
	if out := must("--tenant", "fabrikam", "mv", "search", "-o", "json"); strings.Contains(out, "contoso") {
		t.Errorf("fabrikam's metaverse shows contoso's users: %s", out)
	}
	if out := must("--tenant", "contoso", "mv", "search", "-o", "json"); !strings.Contains(out, "Alex Wilber") {
		t.Errorf("contoso's metaverse: %s", out)
	}
	// No password in any output or log line (debug level).
	for _, s := range subs2 {
		if pw := s["sipPassword"]; pw == "" || strings.Contains(outputs.String(), pw) {
			t.Errorf("password of %s missing or printed", s["subscriberId"])
		}
	}
	withStore(t, filepath.Join(dir, "idsync.db"), func(st store.Store) {
		entries, err := st.Audit(t.Context(), store.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		n := map[string]int{}
		for _, e := range entries {
			n[e.Action]++
		}
		if n["onboard-discover"] != 2 || n["onboard-review"] != 2 || n["onboard-confirm"] != 3 || n["onboard-spreadsheet"] != 3 ||
			n["tenant-settings"] != 1 || n["onboard-reset-password"] != 1 {
			t.Errorf("audit actions = %v", n)
		}
	})
}

// TestTenantCycle: idsync serve's tenant round leaves a tenant alone until
// its onboarding is confirmed, then carries new directory users through
// (their passwords wait for the next spreadsheet).
func TestTenantCycle(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, filepath.Join("..", "..", "examples", "tenant-onboarding"), dir)
	cfg := filepath.Join(dir, "idsync.yaml")
	key, err := secret.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("IDSYNC_SECRET_KEY", key)
	must := func(args ...string) string {
		t.Helper()
		out, errOut, code := idsyncStdin(t, "", append([]string{"--config", cfg}, args...)...)
		if code != 0 {
			t.Fatalf("idsync %v: exit %d: %s%s", args, code, out, errOut)
		}
		return out
	}
	must("tenant", "add", "contoso")
	db := "file:" + filepath.Join(dir, "subscribers.db")
	createSubscribers(t, "sqlite", db, filepath.Join(dir, "schema.sql"))
	g := &globalFlags{config: cfg}
	syncTenants(t.Context(), g)
	if got := readSubscribers(t, "sqlite", db, "contoso"); len(got) != 0 {
		t.Fatalf("a tenant not yet confirmed was exported to: %v", got)
	}
	must("onboard", "discover", "contoso")
	must("onboard", "confirm", "contoso")
	must("onboard", "spreadsheet", "contoso", "--csv", filepath.Join(dir, "first.csv"))
	users := filepath.Join(dir, "contoso-users.csv")
	b, _ := os.ReadFile(users)
	writeFile(t, users, string(b)+"new-1,lynne.robbins@contoso.com,Lynne,Robbins,Lynne Robbins,lynne.robbins@contoso.com,true\n")
	syncTenants(t.Context(), g)
	subs := readSubscribers(t, "sqlite", db, "contoso")
	if len(subs) != 4 || subs["new-1"]["extension"] != "1003" {
		t.Fatalf("after the tenant round: %v", subs)
	}
	out := must("onboard", "spreadsheet", "contoso", "--csv", filepath.Join(dir, "second.csv"))
	if !strings.Contains(out, "1 subscribers' passwords") {
		t.Errorf("second spreadsheet: %s", out)
	}
	if got := readCSV(t, filepath.Join(dir, "second.csv"), "E-mail"); got["lynne.robbins@contoso.com"]["Password"] != subs["new-1"]["sipPassword"] {
		t.Errorf("second spreadsheet %v, subscriber %v", got, subs["new-1"])
	}
}
