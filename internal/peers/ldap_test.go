package peers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

func TestMain(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// ldapDial connects to url (ldap:// or ldaps://, verifying the server with
// caFile when given) and binds.
func ldapDial(t *testing.T, url, caFile, bindDN, password string) *ldap.Conn {
	t.Helper()
	conn, err := dialTLS(url, caFile)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.Bind(bindDN, password); err != nil {
		t.Fatalf("bind %s on %s: %v", bindDN, url, err)
	}
	return conn
}

func dialTLS(url, caFile string) (*ldap.Conn, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := caPool(caFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	return ldap.DialURL(url, ldap.DialWithTLSConfig(cfg))
}

// checkLDAPS binds over ldaps:// verifying the certificate with the CA file,
// and checks that verification fails without it.
func checkLDAPS(t *testing.T, srv *LDAPServer, bindDN string) {
	t.Helper()
	ldapDial(t, srv.LDAPSURL, srv.CAFile, bindDN, srv.Password)

	conn, err := dialTLS(srv.LDAPSURL, "")
	if err == nil {
		conn.Close()
		t.Fatalf("ldaps without the CA file: connected; want a certificate verification error")
	}
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) && !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("ldaps without the CA file: %v; want a certificate verification error", err)
	}
}

func TestSlapd(t *testing.T) {
	start := time.Now()
	srv := Slapd(t)
	t.Logf("slapd ready in %s: %s %s", time.Since(start), srv.URL, srv.LDAPSURL)

	conn := ldapDial(t, srv.URL, "", srv.BindDN, srv.Password)
	checkLDAPS(t, srv, srv.BindDN)

	// StartTLS on the ldap:// port, too.
	st, err := ldap.DialURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pool, err := caPool(srv.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.StartTLS(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}

	// Both databases and their OUs exist.
	for _, base := range []string{srv.BaseDN, srv.TargetBaseDN} {
		res, err := conn.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
			0, 0, false, "(objectClass=organizationalUnit)", []string{"ou"}, nil))
		if err != nil {
			t.Fatalf("search %s: %v", base, err)
		}
		if len(res.Entries) != 2 {
			t.Fatalf("%s: %d OUs, want ou=people and ou=groups", base, len(res.Entries))
		}
	}

	// Initial refreshOnly: content and a cookie.
	syncReq := func() *ldap.SearchRequest {
		return ldap.NewSearchRequest("ou=people,"+srv.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
			0, 0, false, "(objectClass=inetOrgPerson)", []string{"*", "+"}, nil)
	}
	add := func(uid string) {
		t.Helper()
		req := ldap.NewAddRequest("uid="+uid+",ou=people,"+srv.BaseDN, nil)
		req.Attribute("objectClass", []string{"inetOrgPerson"})
		req.Attribute("uid", []string{uid})
		req.Attribute("cn", []string{uid})
		req.Attribute("sn", []string{"Test"})
		req.Attribute("mail", []string{uid + "@example.test"})
		if err := conn.Add(req); err != nil {
			t.Fatalf("add %s: %v", uid, err)
		}
	}
	add("alice")
	add("bob")

	res, err := conn.Search(ldap.NewSearchRequest("uid=alice,ou=people,"+srv.BaseDN, ldap.ScopeBaseObject,
		ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"mail", "entryUUID"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("search alice: %v %v", res, err)
	}
	if got := res.Entries[0].GetAttributeValue("mail"); got != "alice@example.test" {
		t.Fatalf("mail = %q", got)
	}
	aliceUUID := res.Entries[0].GetAttributeValue("entryUUID")

	first := refreshOnly(t, conn, syncReq(), nil)
	if len(first.cookie) == 0 {
		t.Fatal("refreshOnly: no cookie")
	}
	if len(first.added) != 2 {
		t.Fatalf("initial refreshOnly: %d entries, want 2: %+v", len(first.added), first)
	}
	t.Logf("cookie %q", first.cookie)

	// Changes since the cookie: a new entry, a modified one, a deleted one.
	add("carol")
	if err := conn.Modify(&ldap.ModifyRequest{DN: "uid=bob,ou=people," + srv.BaseDN,
		Changes: []ldap.Change{{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: "mail", Vals: []string{"robert@example.test"}}}}}); err != nil {
		t.Fatal(err)
	}
	if err := conn.Del(ldap.NewDelRequest("uid=alice,ou=people,"+srv.BaseDN, nil)); err != nil {
		t.Fatal(err)
	}
	second := refreshOnly(t, conn, syncReq(), first.cookie)
	t.Logf("delta: %+v", second)
	if len(second.added) != 2 || second.added["uid=carol,ou=people,"+srv.BaseDN] == "" || second.added["uid=bob,ou=people,"+srv.BaseDN] == "" {
		t.Errorf("delta entries = %v, want carol and bob", second.added)
	}
	if len(second.deleted) != 1 || second.deleted[0] != aliceUUID {
		t.Errorf("delta deletes = %v, want alice %s", second.deleted, aliceUUID)
	}
	if len(second.cookie) == 0 || string(second.cookie) == string(first.cookie) {
		t.Errorf("delta cookie %q, want a new one after %q", second.cookie, first.cookie)
	}

	// memberof: a group's member gets memberOf.
	group := ldap.NewAddRequest("cn=staff,ou=groups,"+srv.BaseDN, nil)
	group.Attribute("objectClass", []string{"groupOfNames"})
	group.Attribute("cn", []string{"staff"})
	group.Attribute("member", []string{"uid=bob,ou=people," + srv.BaseDN})
	if err := conn.Add(group); err != nil {
		t.Fatal(err)
	}
	res, err = conn.Search(ldap.NewSearchRequest("uid=bob,ou=people,"+srv.BaseDN, ldap.ScopeBaseObject,
		ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"memberOf"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("search bob: %v %v", res, err)
	}
	if got := res.Entries[0].GetAttributeValue("memberOf"); !strings.EqualFold(got, "cn=staff,ou=groups,"+srv.BaseDN) {
		t.Errorf("bob memberOf = %q", got)
	}
	third := refreshOnly(t, conn, syncReq(), second.cookie)
	t.Logf("after group add: %+v", third)

	// The second database is writable by the same admin.
	req := ldap.NewAddRequest("uid=dave,ou=people,"+srv.TargetBaseDN, nil)
	req.Attribute("objectClass", []string{"inetOrgPerson"})
	req.Attribute("cn", []string{"dave"})
	req.Attribute("sn", []string{"Test"})
	if err := conn.Add(req); err != nil {
		t.Fatalf("add to %s: %v", srv.TargetBaseDN, err)
	}
}

// syncResult is what one refreshOnly search returned.
type syncResult struct {
	added   map[string]string // DN → entryUUID, for entries sent with state add/modify/present
	states  map[string]ldap.ControlSyncStateState
	deleted []string // entryUUIDs reported deleted (state delete or syncIdSet)
	cookie  []byte
	infos   []string
}

func (r syncResult) String() string {
	return fmt.Sprintf("entries=%v states=%v deleted=%v cookie=%q infos=%v", r.added, r.states, r.deleted, r.cookie, r.infos)
}

func refreshOnly(t *testing.T, conn *ldap.Conn, req *ldap.SearchRequest, cookie []byte) syncResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := syncResult{added: map[string]string{}, states: map[string]ldap.ControlSyncStateState{}}
	r := conn.Syncrepl(ctx, req, 64, ldap.SyncRequestModeRefreshOnly, cookie, false)
	for r.Next() {
		for _, c := range r.Controls() {
			switch c := c.(type) {
			case *ldap.ControlSyncState:
				if c.State == ldap.SyncStateDelete {
					out.deleted = append(out.deleted, c.EntryUUID.String())
				} else if e := r.Entry(); e != nil {
					out.added[e.DN] = c.EntryUUID.String()
					out.states[e.DN] = c.State
				}
				if len(c.Cookie) > 0 {
					out.cookie = c.Cookie
				}
			case *ldap.ControlSyncDone:
				if len(c.Cookie) > 0 {
					out.cookie = c.Cookie
				}
			case *ldap.ControlSyncInfo:
				out.infos = append(out.infos, c.String())
				switch {
				case c.NewCookie != nil:
					out.cookie = c.NewCookie.Cookie
				case c.RefreshDelete != nil && len(c.RefreshDelete.Cookie) > 0:
					out.cookie = c.RefreshDelete.Cookie
				case c.RefreshPresent != nil && len(c.RefreshPresent.Cookie) > 0:
					out.cookie = c.RefreshPresent.Cookie
				case c.SyncIdSet != nil:
					if len(c.SyncIdSet.Cookie) > 0 {
						out.cookie = c.SyncIdSet.Cookie
					}
					if c.SyncIdSet.RefreshDeletes {
						for _, u := range c.SyncIdSet.SyncUUIDs {
							out.deleted = append(out.deleted, u.String())
						}
					}
				}
			}
		}
	}
	if err := r.Err(); err != nil {
		t.Fatalf("refreshOnly: %v", err)
	}
	return out
}

func TestSamba(t *testing.T) {
	t.Parallel()
	start := time.Now()
	srv := Samba(t, SambaOptions{ExchangeSchema: true})
	t.Logf("Samba ready in %s: %s %s, CA %s", time.Since(start), srv.URL, srv.LDAPSURL, srv.CAFile)

	conn := ldapDial(t, srv.URL, "", srv.BindDN, srv.Password)
	checkLDAPS(t, srv, srv.BindDN)
	// The user principal name binds too.
	ldapDial(t, srv.URL, "", "Administrator@"+srv.Realm, srv.Password)

	// A second call shares the server.
	if again := Samba(t, SambaOptions{}); again.URL != srv.URL || again.Dir != srv.Dir {
		t.Fatalf("second Samba call: %+v, want the shared %+v", again, srv)
	}

	// Initial DirSync: everything, and a cookie.
	dirSync := func(cookie []byte) ([]*ldap.Entry, []byte) {
		t.Helper()
		var entries []*ldap.Entry
		for {
			req := ldap.NewSearchRequest(srv.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
				0, 0, false, "(|(objectClass=user)(objectClass=group)(objectClass=contact)(objectClass=organizationalUnit))", []string{"*"}, nil)
			res, err := conn.DirSync(req, ldap.DirSyncIncrementalValues, 1000, cookie)
			if err != nil {
				t.Fatalf("DirSync: %v", err)
			}
			entries = append(entries, res.Entries...)
			c, ok := ldap.FindControl(res.Controls, ldap.ControlTypeDirSync).(*ldap.ControlDirSync)
			if !ok || len(c.Cookie) == 0 {
				t.Fatalf("DirSync: no cookie in %v", res.Controls)
			}
			cookie = c.Cookie
			if c.Flags == 0 { // no more data
				return entries, cookie
			}
		}
	}
	all, cookie := dirSync(nil)
	t.Logf("initial DirSync: %d entries, cookie %d bytes", len(all), len(cookie))
	if len(all) == 0 {
		t.Fatal("initial DirSync returned nothing")
	}

	ou := fmt.Sprintf("OU=peers-%d,%s", time.Now().UnixNano(), srv.BaseDN)
	add := ldap.NewAddRequest(ou, nil)
	add.Attribute("objectClass", []string{"organizationalUnit"})
	if err := conn.Add(add); err != nil {
		t.Fatalf("add %s: %v", ou, err)
	}
	t.Cleanup(func() {
		del := ldap.NewDelRequest(ou, []ldap.Control{ldap.NewControlSubtreeDelete()})
		if err := conn.Del(del); err != nil {
			t.Logf("deleting %s: %v", ou, err)
		}
	})

	userDN := "CN=Test User," + ou
	add = ldap.NewAddRequest(userDN, nil)
	add.Attribute("objectClass", []string{"user"})
	add.Attribute("sAMAccountName", []string{"peers.test"})
	add.Attribute("userPrincipalName", []string{"peers.test@" + strings.ToLower(srv.Realm)})
	add.Attribute("givenName", []string{"Test"})
	add.Attribute("sn", []string{"User"})
	add.Attribute("mail", []string{"peers.test@contoso.test"})
	add.Attribute("userAccountControl", []string{"544"})
	if err := conn.Add(add); err != nil {
		t.Fatalf("add %s: %v", userDN, err)
	}
	res, err := conn.Search(ldap.NewSearchRequest(userDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		0, 0, false, "(objectClass=*)", []string{"objectGUID", "userAccountControl", "objectSid"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("search %s: %v %v", userDN, res, err)
	}
	guid := res.Entries[0].GetRawAttributeValue("objectGUID")
	if len(guid) != 16 {
		t.Fatalf("objectGUID = %x, want 16 bytes", guid)
	}
	if uac := res.Entries[0].GetAttributeValue("userAccountControl"); uac != "544" {
		t.Errorf("userAccountControl = %s, want 544", uac)
	}

	// The Exchange schema extension: on users, contacts and groups.
	mod := ldap.NewModifyRequest(userDN, nil)
	mod.Replace("extensionAttribute15", []string{"cloud-only"})
	mod.Replace("msExchRecipientTypeDetails", []string{"2147483648"})
	mod.Replace("msExchRecipientDisplayType", []string{"-2147483642"})
	mod.Replace("mailNickname", []string{"peers.test"})
	if err := conn.Modify(mod); err != nil {
		t.Fatalf("setting Exchange attributes: %v", err)
	}
	for _, obj := range []struct{ dn, class string }{{"CN=Test Contact," + ou, "contact"}, {"CN=Test Group," + ou, "group"}} {
		add := ldap.NewAddRequest(obj.dn, nil)
		add.Attribute("objectClass", []string{obj.class})
		add.Attribute("extensionAttribute1", []string{obj.class})
		add.Attribute("mailNickname", []string{obj.class})
		if obj.class == "group" {
			add.Attribute("member", []string{userDN})
		}
		if err := conn.Add(add); err != nil {
			t.Fatalf("add %s with Exchange attributes: %v", obj.dn, err)
		}
	}
	res, err = conn.Search(ldap.NewSearchRequest(userDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		0, 0, false, "(objectClass=*)", []string{"extensionAttribute15", "msExchRecipientTypeDetails", "mailNickname", "msExchRecipientDisplayType"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("search %s: %v %v", userDN, res, err)
	}
	e := res.Entries[0]
	if e.GetAttributeValue("extensionAttribute15") != "cloud-only" || e.GetAttributeValue("msExchRecipientTypeDetails") != "2147483648" ||
		e.GetAttributeValue("msExchRecipientDisplayType") != "-2147483642" || e.GetAttributeValue("mailNickname") != "peers.test" {
		t.Errorf("Exchange attributes read back: %+v", e.Attributes)
	}

	// DirSync with the cookie: only what changed.
	changed, cookie := dirSync(cookie)
	dns := map[string]*ldap.Entry{}
	for _, e := range changed {
		dns[strings.ToLower(e.DN)] = e
	}
	t.Logf("DirSync delta: %d entries", len(changed))
	for _, e := range changed {
		t.Logf("  %s: %v", e.DN, attrNames(e))
	}
	u := dns[strings.ToLower(userDN)]
	if u == nil {
		t.Fatalf("DirSync delta lacks %s", userDN)
	}
	if string(u.GetRawAttributeValue("objectGUID")) != string(guid) {
		t.Errorf("DirSync objectGUID %x, want %x", u.GetRawAttributeValue("objectGUID"), guid)
	}
	if len(changed) > 20 {
		t.Errorf("DirSync delta has %d entries; want only this test's changes", len(changed))
	}

	// A delete, as DirSync reports it.
	if err := conn.Del(ldap.NewDelRequest("CN=Test Contact,"+ou, nil)); err != nil {
		t.Fatal(err)
	}
	changed, _ = dirSync(cookie)
	for _, e := range changed {
		t.Logf("after delete: %q: %v isDeleted=%v", e.DN, attrNames(e), e.GetAttributeValues("isDeleted"))
	}
}

func attrNames(e *ldap.Entry) []string {
	var names []string
	for _, a := range e.Attributes {
		names = append(names, a.Name)
	}
	return names
}

// A second realm runs beside the first, on its own loopback address, with a
// certificate for that address.
func TestSambaSecondRealm(t *testing.T) {
	t.Parallel()
	srv := Samba(t, SambaOptions{Realm: "fabrikam.test"})
	if srv.Realm != "FABRIKAM.TEST" || srv.BaseDN != "DC=fabrikam,DC=test" ||
		srv.BindDN != "CN=Administrator,CN=Users,DC=fabrikam,DC=test" || srv.TargetBaseDN != "" {
		t.Fatalf("server: %+v", srv)
	}
	if strings.Contains(srv.URL, "127.0.0.1:") {
		t.Fatalf("URL %s: want a loopback address of its own", srv.URL)
	}
	conn := ldapDial(t, srv.URL, "", srv.BindDN, srv.Password)
	checkLDAPS(t, srv, "Administrator@FABRIKAM.TEST")
	res, err := conn.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		0, 0, false, "(objectClass=*)", []string{"defaultNamingContext"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("rootDSE: %v %v", res, err)
	}
	if got := res.Entries[0].GetAttributeValue("defaultNamingContext"); !strings.EqualFold(got, srv.BaseDN) {
		t.Fatalf("defaultNamingContext = %s, want %s", got, srv.BaseDN)
	}
}

// Samba fails with a clear message when another process listens on its
// address (here: this test, on 127.0.0.30:389).
func TestSambaPortInUse(t *testing.T) {
	Need(t, "samba", "samba-tool")
	const addr = "127.0.0.30"
	if err := ensureLoopback(addr); err != nil {
		t.Skipf("cannot assign %s: %v", addr, err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "389"))
	if err != nil {
		t.Skipf("cannot listen on %s:389: %v", addr, err)
	}
	defer l.Close()

	r := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Samba(r, SambaOptions{Realm: "BUSY.TEST", Addr: addr})
	}()
	<-done
	if r.skipped {
		t.Skip(r.msg)
	}
	if !strings.Contains(r.msg, addr+":389 is already in use by another process") {
		t.Fatalf("Samba with %s:389 taken: %q, want a clear failure", addr, r.msg)
	}
	t.Logf("failure message: %s", r.msg)
}

// fatalRecorder records the failure or skip of a call instead of ending the
// test; the call must run in its own goroutine, which Fatal and Skip end.
type fatalRecorder struct {
	testing.TB
	msg     string
	skipped bool
}

func (r *fatalRecorder) Helper()                   {}
func (r *fatalRecorder) Fatal(args ...any)         { r.msg = fmt.Sprint(args...); runtime.Goexit() }
func (r *fatalRecorder) Fatalf(f string, a ...any) { r.msg = fmt.Sprintf(f, a...); runtime.Goexit() }
func (r *fatalRecorder) Skip(args ...any)          { r.skipped = true; r.Fatal(args...) }
func (r *fatalRecorder) Skipf(f string, a ...any)  { r.skipped = true; r.Fatalf(f, a...) }

// AzureADSchema adds msDS-AzureADMailNickname and msDS-AzureADObjectId,
// which a user and a group can then carry; asking again changes nothing.
func TestSambaAzureADSchema(t *testing.T) {
	t.Parallel()
	srv := Samba(t, SambaOptions{AzureADSchema: true})
	Samba(t, SambaOptions{AzureADSchema: true})
	conn := ldapDial(t, srv.URL, "", srv.BindDN, srv.Password)
	ou := fmt.Sprintf("OU=aadschema-%d,%s", time.Now().UnixNano(), srv.BaseDN)
	add := ldap.NewAddRequest(ou, nil)
	add.Attribute("objectClass", []string{"organizationalUnit"})
	if err := conn.Add(add); err != nil {
		t.Fatalf("add %s: %v", ou, err)
	}
	t.Cleanup(func() {
		_ = conn.Del(ldap.NewDelRequest(ou, []ldap.Control{ldap.NewControlSubtreeDelete()}))
	})
	for _, class := range []string{"user", "group"} {
		dn := "CN=" + class + "," + ou
		add := ldap.NewAddRequest(dn, nil)
		add.Attribute("objectClass", []string{class})
		add.Attribute("sAMAccountName", []string{fmt.Sprintf("aad%s%d", class, time.Now().UnixNano()%100000)})
		add.Attribute("msDS-AzureADMailNickname", []string{"nick-" + class})
		add.Attribute("msDS-AzureADObjectId", []string{"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"})
		if err := conn.Add(add); err != nil {
			t.Fatalf("add %s: %v", dn, err)
		}
		res, err := conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(msDS-AzureADObjectId=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0)", []string{"msDS-AzureADMailNickname", "msDS-AzureADObjectId"}, nil))
		if err != nil || len(res.Entries) != 1 {
			t.Fatalf("search %s: %v %v", dn, res, err)
		}
		if got := res.Entries[0].GetAttributeValue("msDS-AzureADMailNickname"); got != "nick-"+class {
			t.Errorf("%s: msDS-AzureADMailNickname = %q", dn, got)
		}
	}
}

// What Samba (4.17) needs to write sIDHistory, as docs/managed-domain.md
// reports it: nothing over LDAP works — not an administrator's add or
// modify, not the LDAP relax control (1.3.6.1.4.1.4203.666.5.12), not
// Samba's own "as system" control (1.3.6.1.4.1.7165.4.3.7), not even
// removing a value. Only a process on the domain controller that opens
// sam.ldb as system can (samldb_check_sensitive_attributes;
// Samba has no DsAddSidHistory RPC to ask the DC for it).
func TestSambaSIDHistoryRefused(t *testing.T) {
	t.Parallel()
	srv := Samba(t, SambaOptions{})
	conn := ldapDial(t, srv.LDAPSURL, srv.CAFile, srv.BindDN, srv.Password)
	// S-1-5-21-1111111111-2222222222-3333333333-1105 in binary.
	sid := string([]byte{1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 0xc7, 0x35, 0x3a, 0x42, 0x8e, 0x6b, 0x74, 0x84, 0x55, 0xa1, 0xae, 0xc6, 0x51, 0x04, 0, 0})
	dn := fmt.Sprintf("CN=sidhistory-%d,CN=Users,%s", time.Now().UnixNano(), srv.BaseDN)
	sam := fmt.Sprintf("sidh%d", time.Now().UnixNano()%1000000)
	add := ldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", []string{"user"})
	add.Attribute("sAMAccountName", []string{sam})
	add.Attribute("sIDHistory", []string{sid})
	// A critical control is refused as a control Samba does not take over
	// LDAP (ldapmodify -e '!relax'), or passed and then the write refused
	// (go-ldap, which sends an empty control value): code 0 takes either.
	refused := func(what string, err error, code uint16, text string) {
		t.Helper()
		if code == 0 && ldap.IsErrorAnyOf(err, ldap.LDAPResultUnavailableCriticalExtension, ldap.LDAPResultUnwillingToPerform) {
			return
		}
		if !ldap.IsErrorWithCode(err, code) || !strings.Contains(err.Error(), text) {
			t.Errorf("%s: %v, want LDAP result %d with %q", what, err, code, text)
		}
	}
	const msg = "cannot be created or changed over LDAP"
	refused("add with sIDHistory", conn.Add(add), ldap.LDAPResultUnwillingToPerform, msg)

	add = ldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", []string{"user"})
	add.Attribute("sAMAccountName", []string{sam})
	if err := conn.Add(add); err != nil {
		t.Fatalf("add %s: %v", dn, err)
	}
	t.Cleanup(func() { _ = conn.Del(ldap.NewDelRequest(dn, nil)) })
	for _, c := range []struct {
		name     string
		controls []ldap.Control
		code     uint16
		text     string
	}{
		{"modify", nil, ldap.LDAPResultUnwillingToPerform, msg},
		{"modify with the relax control, not critical", []ldap.Control{ldap.NewControlString("1.3.6.1.4.1.4203.666.5.12", false, "")}, ldap.LDAPResultUnwillingToPerform, msg},
		{"modify with the relax control, critical", []ldap.Control{ldap.NewControlString("1.3.6.1.4.1.4203.666.5.12", true, "")}, 0, ""},
		{"modify as system, not critical", []ldap.Control{ldap.NewControlString("1.3.6.1.4.1.7165.4.3.7", false, "")}, ldap.LDAPResultUnwillingToPerform, msg},
		{"modify as system, critical", []ldap.Control{ldap.NewControlString("1.3.6.1.4.1.7165.4.3.7", true, "")}, 0, ""},
	} {
		m := ldap.NewModifyRequest(dn, c.controls)
		m.Add("sIDHistory", []string{sid})
		refused(c.name, conn.Modify(m), c.code, c.text)
	}
	m := ldap.NewModifyRequest(dn, nil)
	m.Delete("sIDHistory", nil)
	refused("removing sIDHistory", conn.Modify(m), ldap.LDAPResultUnwillingToPerform, msg)
}
