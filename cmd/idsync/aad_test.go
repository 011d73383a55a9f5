package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/idsync/idsync/internal/peers"
)

// The tests in this file run the out-of-box rules (outOfBox) against two
// real Active Directory forests — Samba AD DCs for CONTOSO.TEST and
// FABRIKAM.TEST, shared by the tests of this binary, each test in OUs of its
// own — and an OpenLDAP cloud directory with idsync's cloud schema, fresh
// for each test. Each test is named after the requirement it checks and
// asserts what the cloud directory holds after export.

// forest is one AD forest of a site.
type forest struct {
	name string
	srv  *peers.LDAPServer
	a    *ldap.Conn
	ou   string
}

// aadSite is an idsync configuration over the two forests and a cloud.
type aadSite struct {
	t       *testing.T
	f       map[string]*forest
	cloud   *peers.LDAPServer
	ca      *ldap.Conn
	dir     string
	cfg     string
	tag     string // prefix of sAMAccountNames, unique per site
	opts    siteOpts
	include map[string][]string // extra containers per forest
	exclude map[string][]string // excluded containers per forest
}

type siteOpts struct {
	matchOnMail bool
	order       []string          // forests in the order a cycle synchronizes them (precedence stays contoso, fabrikam)
	rules       string            // custom rules YAML ("" = none)
	threshold   int               // safety.deleteThreshold (0 = default 500)
	staging     bool              // stagingMode
	groupFilter map[string]string // forest → pilot group DN
}

func bind(t *testing.T, srv *peers.LDAPServer) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Bind(srv.BindDN, srv.Password); err != nil {
		t.Fatal(err)
	}
	return c
}

func newAADSite(t *testing.T, o siteOpts) *aadSite {
	t.Helper()
	var b [3]byte
	_, _ = rand.Read(b[:])
	s := &aadSite{t: t, f: map[string]*forest{}, dir: t.TempDir(), tag: "t" + hex.EncodeToString(b[:]), opts: o,
		include: map[string][]string{}, exclude: map[string][]string{}}
	for _, fo := range []struct{ name, realm string }{{"contoso", "CONTOSO.TEST"}, {"fabrikam", "FABRIKAM.TEST"}} {
		srv := peers.Samba(t, peers.SambaOptions{Realm: fo.realm, ExchangeSchema: true})
		f := &forest{name: fo.name, srv: srv, a: bind(t, srv)}
		f.ou = fmt.Sprintf("OU=%s-%s,%s", strings.ReplaceAll(t.Name(), "/", "-"), s.tag, srv.BaseDN)
		req := ldap.NewAddRequest(f.ou, nil)
		req.Attribute("objectClass", []string{"organizationalUnit"})
		if err := f.a.Add(req); err != nil {
			t.Fatalf("add %s: %v", f.ou, err)
		}
		s.f[fo.name] = f
	}
	s.cloud = peers.Slapd(t)
	s.ca = bind(t, s.cloud)
	s.cfg = filepath.Join(s.dir, "idsync.yaml")
	s.writeConfig()
	return s
}

// twin returns a second site over the same forest OUs (the same data) with
// its own store and cloud directory, synchronizing in another order.
func (s *aadSite) twin(o siteOpts) *aadSite {
	s.t.Helper()
	tw := &aadSite{t: s.t, f: s.f, dir: s.t.TempDir(), tag: s.tag, opts: o, include: s.include, exclude: s.exclude}
	tw.cloud = peers.Slapd(s.t)
	tw.ca = bind(s.t, tw.cloud)
	tw.cfg = filepath.Join(tw.dir, "idsync.yaml")
	tw.writeConfig()
	return tw
}

func (s *aadSite) writeConfig() {
	s.t.Helper()
	order := s.opts.order
	if order == nil {
		order = []string{"contoso", "fabrikam"}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "dataDir: .\nconnectors:\n")
	for _, name := range []string{"contoso", "fabrikam"} {
		f := s.f[name]
		inc := append([]string{f.ou}, s.include[name]...)
		fmt.Fprintf(&b, "  - name: %s\n    type: ldap\n    config:\n      url: %s\n      caFile: %s\n      bindDN: %q\n      password: %q\n      pageSize: 200\n      containers: {include: [%s], exclude: [%s]}\n",
			name, f.srv.LDAPSURL, f.srv.CAFile, f.srv.BindDN, f.srv.Password, quoteList(inc), quoteList(s.exclude[name]))
	}
	fmt.Fprintf(&b, `  - name: cloud
    type: ldap
    config:
      url: %s
      bindDN: %q
      password: %q
      baseDN: %s
      containers: {include: ["ou=people,%s"]}
      objectTypes:
        - {objectClass: cloudUser, type: user}
        - {objectClass: cloudGroup, type: group}
        - {objectClass: cloudContact, type: contact}
outOfBox:
  cloud: cloud
  forests: [contoso, fabrikam]
  matchUsersOnMail: %v
  cloudDN: "cn={sourceAnchor},ou=people,%s"
`, s.cloud.URL, s.cloud.BindDN, s.cloud.Password, s.cloud.TargetBaseDN, s.cloud.TargetBaseDN,
		s.opts.matchOnMail, s.cloud.TargetBaseDN)
	if len(s.opts.groupFilter) > 0 {
		b.WriteString("  groupFilters:\n")
		for _, f := range []string{"contoso", "fabrikam"} {
			if g, ok := s.opts.groupFilter[f]; ok {
				fmt.Fprintf(&b, "    %s: %q\n", f, g)
			}
		}
	}
	fmt.Fprintf(&b, "scheduler: {order: [%s, cloud]}\n", strings.Join(order, ", "))
	if s.opts.staging {
		b.WriteString("stagingMode: true\n")
	}
	if s.opts.threshold > 0 {
		fmt.Fprintf(&b, "safety: {deleteThreshold: %d}\n", s.opts.threshold)
	}
	if s.opts.rules != "" {
		writeFile(s.t, filepath.Join(s.dir, "custom.yaml"), s.opts.rules)
		b.WriteString("rules: [custom.yaml]\n")
	}
	writeFile(s.t, s.cfg, b.String())
}

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, x := range l {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}

// user adds an AD user (enabled unless uac says otherwise) in the site's
// OU of the forest and returns its DN.
func (s *aadSite) user(forest, cn string, uac int, attrs ...string) string {
	s.t.Helper()
	sam := s.tag + cn
	if len(sam) > 20 {
		sam = sam[:20]
	}
	return s.add(forest, "CN="+cn, append([]string{"objectClass", "user", "sAMAccountName", sam, "userAccountControl", fmt.Sprint(uac)}, attrs...)...)
}

// add adds an entry (rdn under the forest's OU) with attribute/value pairs.
func (s *aadSite) add(forest, rdn string, attrs ...string) string {
	s.t.Helper()
	f := s.f[forest]
	dn := rdn + "," + f.ou
	req := ldap.NewAddRequest(dn, nil)
	vals := map[string][]string{}
	var order []string
	for i := 0; i+1 < len(attrs); i += 2 {
		if _, ok := vals[attrs[i]]; !ok {
			order = append(order, attrs[i])
		}
		vals[attrs[i]] = append(vals[attrs[i]], attrs[i+1])
	}
	for _, k := range order {
		req.Attribute(k, vals[k])
	}
	if err := f.a.Add(req); err != nil {
		s.t.Fatalf("add %s: %v", dn, err)
	}
	return dn
}

func (s *aadSite) modify(forest, dn string, attr string, vals ...string) {
	s.t.Helper()
	m := ldap.NewModifyRequest(dn, nil)
	m.Replace(attr, vals)
	if err := s.f[forest].a.Modify(m); err != nil {
		s.t.Fatalf("modify %s: %v", dn, err)
	}
}

// objectSid reads an AD entry's objectSid.
func (s *aadSite) objectSid(forest, dn string) string {
	s.t.Helper()
	res, err := s.f[forest].a.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"objectSid"}, nil))
	if err != nil || len(res.Entries) != 1 {
		s.t.Fatalf("read objectSid of %s: %v", dn, err)
	}
	return string(res.Entries[0].GetRawAttributeValue("objectSid"))
}

// idsync runs the binary on the site's configuration; it returns stdout
// and stderr together and the exit code.
func (s *aadSite) idsync(args ...string) (string, int) {
	s.t.Helper()
	out, errs, code := idsync(s.t, append([]string{"--config", s.cfg}, args...)...)
	return out + errs, code
}

func (s *aadSite) must(args ...string) string {
	s.t.Helper()
	out, code := s.idsync(args...)
	if code != 0 {
		s.t.Fatalf("idsync %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// cycle runs a full cycle and a confirming delta cycle, so that the cloud
// directory's confirmed state is back in the connector space.
func (s *aadSite) cycle() string {
	s.t.Helper()
	out, _ := s.idsync("cycle", "--full")
	out2, _ := s.idsync("cycle")
	return out + out2
}

// cloudObj is an entry of the cloud directory.
type cloudObj struct {
	class string
	attrs map[string][]string
}

func (c cloudObj) get(a string) string {
	if v := c.attrs[strings.ToLower(a)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// cloudObjects returns the cloud directory's objects by displayName.
func (s *aadSite) cloudObjects() map[string]cloudObj {
	s.t.Helper()
	res, err := s.ca.Search(ldap.NewSearchRequest("ou=people,"+s.cloud.TargetBaseDN, ldap.ScopeSingleLevel, 0, 0, 0, false,
		"(|(objectClass=cloudUser)(objectClass=cloudGroup)(objectClass=cloudContact))", []string{"*"}, nil))
	if err != nil {
		s.t.Fatal(err)
	}
	out := map[string]cloudObj{}
	for _, e := range res.Entries {
		o := cloudObj{attrs: map[string][]string{}}
		for _, a := range e.Attributes {
			o.attrs[strings.ToLower(a.Name)] = a.Values
		}
		for _, c := range e.GetAttributeValues("objectClass") {
			if strings.HasPrefix(c, "cloud") {
				o.class = c
			}
		}
		name := e.GetAttributeValue("displayName")
		if _, dup := out[name]; dup {
			name += "#2"
		}
		out[name] = o
	}
	return out
}

func names(m map[string]cloudObj) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+":"+strings.TrimPrefix(v.class, "cloud"))
	}
	slices.Sort(out)
	return out
}

// runErrors returns the per-object errors of the run history.
func (s *aadSite) runErrors() string {
	s.t.Helper()
	return s.must("runs", "--errors", "--limit", "0")
}
