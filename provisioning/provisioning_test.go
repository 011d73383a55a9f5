package provisioning

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/connector/scim"
	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/sqlite"
)

// appYAML is the application the tests provision to; %s are the SCIM URL,
// the token, the SMTP address and extra keys.
const appYAML = `
smtp: {addr: %[3]q, from: idsync@example.test}
applications:
  - name: crm
    scim:
      url: %[1]q
      auth: {token: %[2]q}
      retryBase: 2ms
      retryCap: 20ms
      maxRetries: 1
    notificationEmail: it-ops@example.test
    appRoles:
      - {name: User}
      - {name: Admin}
      - {name: msiam_access, provisionable: false}
    assignments:
      groups:
        - {displayName: Sales, role: User}
      users:
        - {value: boss, role: Admin}
    scope:
      - clauses: [{attribute: department, operator: NOTEQUAL, value: Contractors}]
    mappings:
      - {target: userName, expression: 'Join("@", [accountName], "example.test")', matching: true, matchingPrecedence: 1}
      - {target: displayName, source: displayName}
      - {target: name.givenName, source: givenName}
      - {target: name.familyName, source: sn}
      - {target: 'emails[type eq "work"].value', expression: 'ToLower([mail])'}
      - {target: title, expression: 'Switch([appRoleAssignments], "Member", "Admin", "Administrator")'}
      - {target: password, expression: 'Redact(Join("", "Init-", [accountName], "-9x!"))', apply: create}
%[4]s
`

func person(i int, mod time.Time) *store.MVObject {
	acc := fmt.Sprintf("u%03d", i)
	return &store.MVObject{ID: "mv-" + acc, Type: "person", Modified: mod, Attrs: model.Attrs{
		"accountName": model.Str(acc),
		"displayName": model.Str("User " + acc),
		"givenName":   model.Str("User"),
		"sn":          model.Str(acc),
		"mail":        model.Str(strings.ToUpper(acc) + "@Example.Test"),
		"department":  model.Str("Sales"),
	}}
}

func group(id, name string, members ...string) *store.MVObject {
	return &store.MVObject{ID: id, Type: "group", Modified: time.Now(), Attrs: model.Attrs{
		"displayName": model.Str(name), "member": model.Ref(members...)}}
}

// smtpServer is a minimal SMTP listener on loopback that keeps the
// messages it receives.
type smtpServer struct {
	addr string
	mu   sync.Mutex
	msgs []string
}

func startSMTP(t *testing.T) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{addr: ln.Addr().String()}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	return s
}

func (s *smtpServer) serve(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	say := func(l string) { _, _ = conn.Write([]byte(l + "\r\n")) }
	say("220 test ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 test")
		case strings.HasPrefix(cmd, "DATA"):
			say("354 go on")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, b.String())
			s.mu.Unlock()
			say("250 queued")
		case strings.HasPrefix(cmd, "QUIT"):
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

func (s *smtpServer) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "idsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func loadApp(t *testing.T, srv *peers.SCIMServer, token, smtpAddr, extra string) *App {
	t.Helper()
	f, err := Parse("provisioning.yaml", fmt.Appendf(nil, appYAML, srv.URL, token, smtpAddr, extra))
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.App("crm")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// serverUsers reads every user of the SCIM server by userName.
func serverUsers(t *testing.T, conn *scim.Connector) map[string]*model.Object {
	t.Helper()
	out := map[string]*model.Object{}
	_, err := conn.FullImport(t.Context(), connector.ImportRequest{ObjectTypes: []string{"user"}}, func(o *model.Object) error {
		un := o.Attrs.First("userName")
		if out[un] != nil {
			t.Errorf("two accounts with userName %q", un)
		}
		out[un] = o
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// testEngine is the sync engine as idsync builds it for an application:
// its connector (conn, when given, instead of one opened from its SCIM
// block) and its generated rules.
func testEngine(t *testing.T, a *App, st store.Store, conn ...connector.Connector) *engine.Engine {
	t.Helper()
	rf, err := (&File{Path: "provisioning.yaml", Applications: []*App{a}}).RuleFile()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Merge(rf)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := a.Connector()
	if err != nil {
		t.Fatal(err)
	}
	if len(conn) > 0 {
		_ = ec.Conn.Close()
		ec.Conn = conn[0]
	}
	t.Cleanup(func() { _ = ec.Conn.Close() })
	return &engine.Engine{Store: st, Rules: rs, Connectors: map[string]*engine.Connector{a.Name: ec}}
}

// runCycle runs one provisioning cycle of a on a new engine (testEngine).
// The tests write the metaverse directly, not through a directory
// synchronization (which would stage the application's changes as it
// goes): a cycle after such a write asks for a full synchronization
// (Options.Full); without it, the cycle sees only what the application's
// import changed.
func runCycle(t *testing.T, a *App, st store.Store, opts Options, conn ...connector.Connector) (*Result, error) {
	t.Helper()
	return Run(t.Context(), testEngine(t, a, st, conn...), a, opts)
}

func TestProvisionCycle(t *testing.T) {
	srv := peers.SCIM(t)
	mail := startSMTP(t)
	st := openStore(t)
	ctx := t.Context()
	dataDir := t.TempDir()
	a := loadApp(t, srv, srv.Token, mail.addr, "    deleteThreshold: 5")
	conn, err := scim.New("check", a.SCIMConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// The metaverse: 50 persons in Sales, a contractor in Sales (out of
	// scope), the boss assigned directly, 5 unassigned persons.
	old := time.Now().Add(-time.Hour)
	var batch store.Batch
	var sales []string
	for i := range 50 {
		p := person(i, old)
		batch.PutMV = append(batch.PutMV, p)
		sales = append(sales, p.ID)
	}
	contractor := person(90, old)
	contractor.Attrs["department"] = model.Str("Contractors")
	boss := person(91, old)
	boss.Attrs["accountName"] = model.Str("boss")
	batch.PutMV = append(batch.PutMV, contractor, boss)
	for i := 60; i < 65; i++ {
		batch.PutMV = append(batch.PutMV, person(i, old))
	}
	batch.PutMV = append(batch.PutMV, group("mv-g-sales", "Sales", append(sales, contractor.ID)...))
	if err := st.Apply(ctx, &batch); err != nil {
		t.Fatal(err)
	}

	// An account for u007 exists in the application already.
	res := conn.Export(ctx, []connector.ExportOp{{ID: "pre", Op: connector.OpAdd, Anchor: "legacy-7", ObjectType: "user",
		Changes: []connector.AttrChange{
			{Name: "userName", Mode: connector.Replace, Values: []string{"u007@example.test"}},
			{Name: "displayName", Mode: connector.Replace, Values: []string{"Legacy Seven"}},
		}}})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	preID := res[0].Anchor

	// Cycle 1: 50 + boss in scope, and the group Sales; u007 matched, not
	// duplicated.
	var progress [2]int
	r, err := runCycle(t, a, st, Options{DataDir: dataDir, Progress: func(d, n int) { progress = [2]int{d, n} }})
	if err != nil {
		t.Fatalf("cycle 1: %v (%+v)", err, r)
	}
	if r.Created != 51 || r.Updated != 1 || r.Errors != 0 || r.Status != StatusSuccess {
		t.Fatalf("cycle 1: %+v", r)
	}
	if progress != [2]int{52, 52} {
		t.Errorf("progress = %v, want 52/52", progress)
	}
	users := serverUsers(t, conn)
	if len(users) != 51 {
		t.Fatalf("server has %d users, want 51", len(users))
	}
	u := users["u012@example.test"]
	if u == nil {
		t.Fatal("u012 not provisioned")
	}
	for attr, want := range map[string]string{
		"displayName": "User u012", "name.givenName": "User", "name.familyName": "u012",
		`emails[type eq "work"].value`: "u012@example.test", "active": "true",
	} {
		if got := u.Attrs.First(attr); got != want {
			t.Errorf("u012 %s = %q, want %q", attr, got, want)
		}
	}
	if u.Attrs.First("externalId") == "" {
		t.Error("u012 has no externalId (the anchor idsync proposed, which finds it again after a lost answer)")
	}
	if u7 := users["u007@example.test"]; u7 == nil || u7.Anchor != preID || u7.Attrs.First("displayName") != "User u007" {
		t.Errorf("u007 = %+v, want the existing account %s updated", u7, preID)
	}
	if users["u090@example.test"] != nil {
		t.Error("the contractor (out of scope) was provisioned")
	}

	// Cycle 2: nothing changed.
	r, err = runCycle(t, a, st, Options{DataDir: dataDir})
	if err != nil || r.Created+r.Updated+r.Disabled+r.Errors != 0 {
		t.Fatalf("cycle 2: %v %+v", err, r)
	}

	// Unassign 10 (remove them from Sales) and rename one.
	now := time.Now()
	renamed := person(20, now)
	renamed.Attrs["displayName"] = model.Str("Renamed Twenty")
	if err := st.Apply(ctx, &store.Batch{PutMV: []*store.MVObject{group("mv-g-sales", "Sales", sales[10:]...), renamed}}); err != nil {
		t.Fatal(err)
	}
	// The guard (deleteThreshold 5) stops the 10 disables; the rename and
	// the group's members go on.
	r, err = runCycle(t, a, st, Options{DataDir: dataDir, Full: true})
	if !errors.Is(err, ErrDeleteThreshold) || r.Disabled != 0 || r.Updated != 2 {
		t.Fatalf("cycle 3: %v %+v, want the delete guard and 2 updates", err, r)
	}
	r, err = runCycle(t, a, st, Options{DataDir: dataDir, AllowDeprovision: true})
	if err != nil || r.Disabled != 10 || r.Updated != 0 {
		t.Fatalf("cycle 4: %v %+v, want 10 disabled", err, r)
	}
	users = serverUsers(t, conn)
	if len(users) != 51 {
		t.Errorf("server has %d users, want 51", len(users))
	}
	for i := range 50 {
		want := "true"
		if i < 10 {
			want = "false"
		}
		if got := users[fmt.Sprintf("u%03d@example.test", i)].Attrs.First("active"); got != want {
			t.Errorf("u%03d active = %q, want %q", i, got, want)
		}
	}
	if got := users["u020@example.test"].Attrs.First("displayName"); got != "Renamed Twenty" {
		t.Errorf("renamed displayName = %q", got)
	}

	// Reassign one: it is enabled again.
	if err := st.Apply(ctx, &store.Batch{PutMV: []*store.MVObject{group("mv-g-sales", "Sales", sales[9:]...)}}); err != nil {
		t.Fatal(err)
	}
	r, err = runCycle(t, a, st, Options{DataDir: dataDir, Full: true})
	if err != nil || r.Updated != 2 {
		t.Fatalf("cycle 5: %v %+v, want the account and the group updated", err, r)
	}
	if got := serverUsers(t, conn)["u009@example.test"].Attrs.First("active"); got != "true" {
		t.Errorf("u009 active = %q after reassignment", got)
	}

	// The activity report.
	acts, err := ReadLog(LogPath(dataDir, "crm"), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, act := range acts {
		counts[act.Action+"/"+act.Reason]++
		if act.Action == ActCreate && act.Object != "mv-g-sales" {
			if pw := act.Changes["password"]; len(pw) != 1 || pw[0] != RedactedValue {
				t.Errorf("create of %s shows password %q", act.Name, pw)
			}
		}
		if act.Object == contractor.ID {
			t.Errorf("the contractor (out of scope) has an activity: %+v", act)
		}
	}
	for k, want := range map[string]int{
		"create/": 51, "disable/" + ReasonDeprovisioned: 10, "update/": 1 + 2 + 2, // u007 matched; the rename and Sales; u009 and Sales
	} {
		if counts[k] != want {
			t.Errorf("activity %q: %d entries, want %d (all: %v)", k, counts[k], want, counts)
		}
	}
	// One notification: the guard.
	if msgs := mail.messages(); len(msgs) != 1 || !strings.Contains(msgs[0], "accidental-delete guard") || !strings.Contains(msgs[0], "10 pending deletes and disables") {
		t.Errorf("mails: %q, want one about the guard", msgs)
	}
}

func TestProvisionBadCredentials(t *testing.T) {
	srv := peers.SCIM(t)
	mail := startSMTP(t)
	st := openStore(t)
	ctx := t.Context()
	dataDir := t.TempDir()
	a := loadApp(t, srv, "wrong-token", mail.addr, "")
	if err := st.Apply(ctx, &store.Batch{PutMV: []*store.MVObject{person(1, time.Now()), group("g", "Sales", "mv-u001")}}); err != nil {
		t.Fatal(err)
	}
	err := TestConnection(ctx, a)
	if !errors.Is(err, scim.ErrCredentials) || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("TestConnection: %v, want a credentials error", err)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	r, err := runCycle(t, a, st, Options{DataDir: dataDir, Now: clock})
	if !errors.Is(err, ErrCycleFailed) || r.Quarantine == nil || r.Quarantine.Until != now.Add(5*time.Minute) {
		t.Fatalf("cycle: %v %+v, want a failed cycle and quarantine for 5m", err, r)
	}
	msgs := mail.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d mails, want 1", len(msgs))
	}
	for _, want := range []string{"To: it-ops@example.test", "Subject: idsync provisioning: application crm is quarantined",
		"rejected the credentials", "auth.token", "retries at 2026-11-23T10:05:00Z"} {
		if !strings.Contains(msgs[0], want) {
			t.Errorf("mail lacks %q:\n%s", want, msgs[0])
		}
	}
	if strings.Contains(msgs[0], "wrong-token") {
		t.Error("the mail shows the token")
	}
	// Before the retry time the cycle does not run.
	r, err = runCycle(t, a, st, Options{DataDir: dataDir, Now: clock})
	if !errors.Is(err, ErrQuarantined) || r.Status != StatusQuarantined {
		t.Fatalf("quarantined cycle: %v %+v", err, r)
	}
	// At the retry time it runs, fails, and waits twice as long.
	now = now.Add(5 * time.Minute)
	r, _ = runCycle(t, a, st, Options{DataDir: dataDir, Now: clock})
	if r.Quarantine == nil || r.Quarantine.Level != 2 || r.Quarantine.Until != now.Add(10*time.Minute) {
		t.Fatalf("retry: %+v", r.Quarantine)
	}
	// Fixed credentials and --force: the cycle runs and lifts the quarantine.
	good := loadApp(t, srv, srv.Token, mail.addr, "")
	r, err = runCycle(t, good, st, Options{DataDir: dataDir, Now: clock, Force: true})
	if err != nil || r.Created != 2 || r.Quarantine != nil { // the user and its group
		t.Fatalf("forced cycle: %v %+v", err, r)
	}
	s, _ := LoadState(ctx, st, "crm")
	if s.Quarantine != nil {
		t.Errorf("still quarantined: %+v", s.Quarantine)
	}
}

func TestProvisionConfigErrors(t *testing.T) {
	for _, tt := range []struct{ name, extra, want string }{
		{"role not provisionable", "", `role "msiam_access" cannot be provisioned`},
		{"unknown role", "", `role "Guest" is not a role of the application`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			y := fmt.Sprintf(appYAML, "http://127.0.0.1:1/scim/v2", "t", "127.0.0.1:25", tt.extra)
			role := "msiam_access"
			if strings.Contains(tt.want, "Guest") {
				role = "Guest"
			}
			y = strings.Replace(y, "{displayName: Sales, role: User}", "{displayName: Sales, role: "+role+"}", 1)
			_, err := Parse("p.yaml", []byte(y))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `group "Sales"`) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	y := fmt.Sprintf(appYAML, "http://127.0.0.1:1/scim/v2", "t", "127.0.0.1:25", "    groupMappings: [{target: members, source: member}]")
	if _, err := Parse("p.yaml", []byte(y)); err == nil || !strings.Contains(err.Error(), "group mapping of members: idsync manages the members") {
		t.Fatalf("members mapped: %v", err)
	}
	y = fmt.Sprintf(appYAML, "http://127.0.0.1:1/scim/v2", "t", "127.0.0.1:25", "    groupMappings: [{target: displayName}]")
	if _, err := Parse("p.yaml", []byte(y)); err == nil || !strings.Contains(err.Error(), "group mapping of displayName: give exactly one of") {
		t.Fatalf("bad group mapping: %v", err)
	}
	y = strings.Replace(fmt.Sprintf(appYAML, "http://127.0.0.1:1/scim/v2", "t", "127.0.0.1:25", ""), "'Switch([appRoleAssignments], \"Member\", \"Admin\", \"Administrator\")'", "'Nope([x])'", 1)
	if _, err := Parse("p.yaml", []byte(y)); err == nil || !strings.Contains(err.Error(), "mapping of title") {
		t.Fatalf("bad expression: %v", err)
	}
}

func TestProvisionServe(t *testing.T) {
	srv := peers.SCIM(t)
	st := openStore(t)
	a := loadApp(t, srv, srv.Token, "127.0.0.1:1", "")
	a.Interval.Duration = 50 * time.Millisecond
	if err := st.Apply(t.Context(), &store.Batch{PutMV: []*store.MVObject{person(1, time.Now()), group("g", "Sales", "mv-u001")}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// After its first cycle, the application is turned off (as a reload
	// does): no cycle for ten intervals, then on again.
	var mu sync.Mutex
	f := &File{Applications: []*App{a}}
	off := *a
	off.Provisioning = "off"
	apps := func() *File { mu.Lock(); defer mu.Unlock(); return f }
	var results []*Result
	var offAt time.Time
	Serve(ctx, apps, testEngine(t, a, st), t.TempDir(), nil, func(r *Result, err error) {
		if err != nil {
			t.Errorf("cycle: %v", err)
		}
		results = append(results, r)
		switch len(results) {
		case 1:
			mu.Lock()
			f, offAt = &File{Applications: []*App{&off}}, time.Now()
			mu.Unlock()
			time.AfterFunc(10*a.Interval.Duration, func() { mu.Lock(); f = &File{Applications: []*App{a}}; mu.Unlock() })
		case 2:
			if since := time.Since(offAt); since < 10*a.Interval.Duration {
				t.Errorf("a cycle %s after provisioning was turned off", since)
			}
		case 3:
			cancel()
		}
	})
	if len(results) != 3 || results[0].Created != 2 || results[1].Created+results[1].Updated != 0 || results[2].Cycle != 3 {
		t.Fatalf("results: %+v", results)
	}
}

func TestProvisionExampleLoads(t *testing.T) {
	t.Setenv("CRM_SCIM_TOKEN", "example-secret")
	f, err := Load(filepath.Join("..", "examples", "provisioning", "provisioning.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.App("crm")
	if err != nil {
		t.Fatal(err)
	}
	if !a.GroupsOn() || len(a.groupMatchers) != 1 || a.groupMatchers[0].Target != "displayName" || a.Parameters["Tenant"] != "Contoso" {
		t.Errorf("example app groups: %+v", a)
	}
	if !a.Assignments.NestedGroups || len(a.matchers) != 2 || a.matchers[0].Target != "userName" || !a.Mappings[len(a.Mappings)-1].Redacted() {
		t.Errorf("example app: %+v", a)
	}
}
