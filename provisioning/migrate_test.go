package provisioning

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/store"
)

// TestMigrateState: the state of the provisioning loop before the engine
// (MV id → SCIM id, one JSON setting) is turned into links by the first
// cycle: no account is created again, and an account that its matching
// attribute would not find (its userName changed in the application) is
// still the one linked, not duplicated. An account whose MV object is gone
// is left alone, and the old state is dropped.
func TestMigrateState(t *testing.T) {
	srv := peers.SCIM(t)
	st := openStore(t)
	ctx := t.Context()
	dataDir := t.TempDir()
	a := parseApp(t, srv.URL, srv.Token, "", nil)
	conn := newConnector(t, a.SCIMConfig())

	old := time.Now().Add(-time.Hour)
	var objs []*store.MVObject
	var sales []string
	for i := range 5 {
		p := person(i, old)
		objs = append(objs, p)
		sales = append(sales, p.ID)
	}
	putMV(t, st, append(objs, group("mv-g-sales", "Sales", sales...))...)

	// What the earlier loop created: the five accounts (u004's userName
	// since changed in the application), one for a person since deleted,
	// and the group with its members.
	state := &State{Accounts: map[string]*Account{}, Groups: map[string]*Account{}, Cycles: 7}
	create := func(objType, mvid string, changes ...connector.AttrChange) string {
		t.Helper()
		res := conn.Export(ctx, []connector.ExportOp{{ID: mvid, Op: connector.OpAdd, Anchor: mvid, ObjectType: objType, Changes: changes}})
		if res[0].Err != nil {
			t.Fatal(res[0].Err)
		}
		return res[0].Anchor
	}
	str := func(name, v string) connector.AttrChange {
		return connector.AttrChange{Name: name, Mode: connector.Replace, Values: []string{v}}
	}
	var ids []string
	for i := range 6 {
		un := fmt.Sprintf("u%03d@example.test", i)
		if i == 4 {
			un = "renamed.four@example.test"
		}
		id := create("user", fmt.Sprintf("mv-u%03d", i), str("userName", un), str("displayName", fmt.Sprintf("User u%03d", i)))
		state.Accounts[fmt.Sprintf("mv-u%03d", i)] = &Account{ID: id, Name: un}
		ids = append(ids, id)
	}
	state.Groups["mv-g-sales"] = &Account{ID: create("group", "mv-g-sales", str("displayName", "Sales"),
		connector.AttrChange{Name: "members", Mode: connector.Replace, Values: ids[:5]}), Name: "Sales"}
	if err := SaveState(ctx, st, "crm", state); err != nil {
		t.Fatal(err)
	}

	r, err := runCycle(t, a, st, Options{DataDir: dataDir})
	if err != nil || r.Created != 0 || r.Errors != 0 || r.Cycle != 8 {
		t.Fatalf("first cycle after the migration: %v %+v, want nothing created", err, r)
	}
	users := serverUsers(t, conn)
	if len(users) != 6 {
		t.Errorf("the server has %d users, want the 6 it had", len(users))
	}
	if u4 := users["u004@example.test"]; u4 == nil || u4.Anchor != ids[4] {
		t.Errorf("u004 = %+v, want its account %s (renamed back by its mapping)", u4, ids[4])
	}
	if n := serverGroups(t, conn); len(n) != 1 || n["Sales"] != 1 {
		t.Errorf("server groups: %v", n)
	}
	for i, id := range sales {
		links, err := st.CSForMV(ctx, id)
		if err != nil || len(links) != 1 || links[0].Object.Anchor != ids[i] || links[0].LinkRule != UsersRuleName("crm") {
			t.Errorf("links of %s: %+v %v, want its account %s", id, links, err, ids[i])
		}
	}
	if got := sortedValues(scimGroup(t, conn, "Sales").Attrs["members"]); !slices.Equal(got, sortedStrings(ids[:5])) {
		t.Errorf("Sales members = %v", got)
	}
	// The account of the deleted person is left alone (no link, no change).
	if u5 := users["u005@example.test"]; u5 == nil || u5.Attrs.First("active") == "false" {
		t.Errorf("the account of the deleted person = %+v, want it left as it was", u5)
	}
	s, err := LoadState(ctx, st, "crm")
	if err != nil || len(s.Accounts)+len(s.Groups) != 0 || s.Cycles != 8 {
		t.Errorf("state after the migration: %+v %v", s, err)
	}
	// The next cycle has nothing to do.
	if r, err := runCycle(t, a, st, Options{DataDir: dataDir}); err != nil || r.Created+r.Updated+r.Disabled+r.Deleted+r.Errors != 0 {
		t.Fatalf("second cycle: %v %+v", err, r)
	}
}
