package sample

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
)

// GenOptions says what Generate writes.
type GenOptions struct {
	// Seed makes the output: the same options give byte-identical output.
	Seed int64
	// Users, Groups and Contacts are the numbers of objects of each kind.
	Users, Groups, Contacts int
	// MembersPerGroup is the number of distinct users in each group (at most
	// Users).
	MembersPerGroup int
	// BaseDN is the directory's root; default "DC=contoso,DC=test".
	BaseDN string
	// Domain is the suffix of userPrincipalName; default "contoso.test".
	Domain string
	// OUs are the organizational units (and departments) users are spread
	// over; default DefaultOUs. Groups go to OU=Groups, contacts to
	// OU=Contacts.
	OUs []string
	// DisabledEvery disables every Nth user (userAccountControl 514 instead
	// of 512); 0 disables none.
	DisabledEvery int
	// MailDomain is the domain of users' and groups' mail; default Domain.
	MailDomain string
}

func (o *GenOptions) defaults() error {
	if o.Users < 0 || o.Groups < 0 || o.Contacts < 0 || o.MembersPerGroup < 0 || o.DisabledEvery < 0 {
		return errors.New("sample: negative count in GenOptions")
	}
	if o.BaseDN == "" {
		o.BaseDN = "DC=contoso,DC=test"
	}
	if o.Domain == "" {
		o.Domain = "contoso.test"
	}
	if o.MailDomain == "" {
		o.MailDomain = o.Domain
	}
	if len(o.OUs) == 0 {
		o.OUs = DefaultOUs
	}
	if len(o.OUs) > 1<<16 {
		return errors.New("sample: too many OUs")
	}
	for _, ou := range o.OUs {
		if ou == "" {
			return errors.New("sample: empty OU name")
		}
	}
	o.MembersPerGroup = min(o.MembersPerGroup, o.Users)
	return nil
}

// Generate writes an LDIF content file of a realistic Active Directory-like
// directory: opts.Users users, then opts.Groups groups with
// opts.MembersPerGroup members each, then opts.Contacts contacts.
//
// Users (objectClass top, person, organizationalPerson, user) live in
// "CN=<displayName>,OU=<department>,<BaseDN>" and have cn, givenName, sn,
// displayName, sAMAccountName (unique, at most 20 characters),
// userPrincipalName, mail, department, title, employeeID (unique),
// telephoneNumber, l, objectGUID (16 random bytes) and userAccountControl
// (512, or 514 for every DisabledEvery-th user). Names come from built-in
// lists; repeated names get a number (" (2)"), and about one user in 25 has a
// displayName in the form "Last, First", whose comma is escaped in the DN.
// Groups (objectClass top, group) live in OU=Groups and have cn,
// sAMAccountName, groupType -2147483646 (global security), objectGUID,
// mail for every third group, and member: the DNs of distinct random users.
// Contacts (objectClass top, person, organizationalPerson, contact) live in
// OU=Contacts and have cn, displayName, givenName, sn, mail (at a partner
// domain) and objectGUID.
//
// Output is streamed: memory use beyond the name lists is about 10 bytes per
// user, kept to name the members of groups.
func Generate(w io.Writer, opts GenOptions) error {
	if err := opts.defaults(); err != nil {
		return err
	}
	g := &generator{
		opts:   opts,
		rng:    rand.New(rand.NewPCG(uint64(opts.Seed), 0x1d5c_a11e_5eed_0001)),
		bw:     bufio.NewWriterSize(w, 64<<10),
		counts: make([]uint32, len(firstNames)*len(lastNames)),
	}
	g.lw = &ldifWriter{w: g.bw}
	g.bw.WriteString("version: 1\n")
	if opts.Groups > 0 {
		g.users = make([]userRef, 0, opts.Users)
	}
	for i := range opts.Users {
		g.user(i)
	}
	for i := range opts.Groups {
		g.group(i)
	}
	clear(g.counts)
	for i := range opts.Contacts {
		g.contact(i)
	}
	if err := g.bw.Flush(); err != nil {
		return fmt.Errorf("sample: writing LDIF: %w", err)
	}
	return nil
}

var (
	userClasses    = []string{"top", "person", "organizationalPerson", "user"}
	contactClasses = []string{"top", "person", "organizationalPerson", "contact"}
	// foldedFirst and foldedLast are the name lists folded to ASCII.
	foldedFirst = foldAll(firstNames)
	foldedLast  = foldAll(lastNames)
)

func foldAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fold(n)
	}
	return out
}

// userRef is what is kept of a user to write its DN into groups.
type userRef struct {
	first, last uint16
	dup         uint32
	ou          uint16
	lastFirst   bool
}

type generator struct {
	opts   GenOptions
	rng    *rand.Rand
	bw     *bufio.Writer
	lw     *ldifWriter
	counts []uint32 // occurrences of each (first, last) name pair
	users  []userRef
	buf    []byte
	guid   [16]byte
}

// name picks a random name and numbers it when the pair was seen before.
func (g *generator) name() (first, last uint16, dup uint32) {
	first = uint16(g.rng.IntN(len(firstNames)))
	last = uint16(g.rng.IntN(len(lastNames)))
	k := int(first)*len(lastNames) + int(last)
	g.counts[k]++
	return first, last, g.counts[k]
}

// displayName of a user or contact.
func displayName(u userRef) string {
	f, l := firstNames[u.first], lastNames[u.last]
	n := f + " " + l
	if u.lastFirst {
		n = l + ", " + f
	}
	if u.dup > 1 {
		n += " (" + strconv.FormatUint(uint64(u.dup), 10) + ")"
	}
	return n
}

func (g *generator) userDN(u userRef) string {
	return "CN=" + EscapeDNValue(displayName(u)) + ",OU=" + EscapeDNValue(g.opts.OUs[u.ou]) + "," + g.opts.BaseDN
}

// accountName is the unique sAMAccountName: first.last, numbered for
// repeated names; "u<employeeID>" in the rare case that does not fit.
func accountName(u userRef, employeeID string) string {
	n := foldedFirst[u.first] + "." + foldedLast[u.last]
	if u.dup > 1 {
		n += strconv.FormatUint(uint64(u.dup), 10)
	}
	if len(n) > 20 {
		return "u" + employeeID
	}
	return n
}

func (g *generator) objectGUID() {
	for i := 0; i < 16; i += 8 {
		v := g.rng.Uint64()
		for j := range 8 {
			g.guid[i+j] = byte(v >> (8 * j))
		}
	}
	g.lw.binary("objectGUID", string(g.guid[:]))
}

func (g *generator) user(i int) {
	f, l, dup := g.name()
	u := userRef{first: f, last: l, dup: dup, ou: uint16(g.rng.IntN(len(g.opts.OUs))), lastFirst: g.rng.IntN(25) == 0}
	if g.users != nil {
		g.users = append(g.users, u)
	}
	employeeID := strconv.Itoa(100001 + i)
	sam := accountName(u, employeeID)
	dn := displayName(u)
	lw := g.lw
	lw.w.WriteByte('\n')
	lw.attr("dn", g.userDN(u))
	for _, oc := range userClasses {
		lw.attr("objectClass", oc)
	}
	lw.attr("cn", dn)
	lw.attr("givenName", firstNames[f])
	lw.attr("sn", lastNames[l])
	lw.attr("displayName", dn)
	lw.attr("sAMAccountName", sam)
	lw.attr("userPrincipalName", sam+"@"+g.opts.Domain)
	lw.attr("mail", sam+"@"+g.opts.MailDomain)
	lw.attr("department", g.opts.OUs[u.ou])
	lw.attr("title", titles[g.rng.IntN(len(titles))])
	lw.attr("employeeID", employeeID)
	g.buf = fmt.Appendf(g.buf[:0], "+1 555 %03d %04d", g.rng.IntN(1000), g.rng.IntN(10000))
	lw.attr("telephoneNumber", string(g.buf))
	lw.attr("l", cities[g.rng.IntN(len(cities))])
	g.objectGUID()
	uac := "512"
	if n := g.opts.DisabledEvery; n > 0 && (i+1)%n == 0 {
		uac = "514"
	}
	lw.attr("userAccountControl", uac)
}

// groupName is the unique name of the i-th group: "<OU> <kind>", numbered
// after all combinations are used.
func (g *generator) groupName(i int) string {
	ous := len(g.opts.OUs)
	n := g.opts.OUs[i%ous] + " " + groupKinds[(i/ous)%len(groupKinds)]
	if round := i / (ous * len(groupKinds)); round > 0 {
		n += " " + strconv.Itoa(round+1)
	}
	return n
}

func (g *generator) group(i int) {
	name := g.groupName(i)
	sam := strings.ReplaceAll(name, " ", "-")
	lw := g.lw
	lw.w.WriteByte('\n')
	lw.attr("dn", "CN="+EscapeDNValue(name)+",OU=Groups,"+g.opts.BaseDN)
	lw.attr("objectClass", "top")
	lw.attr("objectClass", "group")
	lw.attr("cn", name)
	lw.attr("sAMAccountName", sam)
	lw.attr("groupType", "-2147483646")
	if i%3 == 0 {
		lw.attr("mail", strings.ToLower(sam)+"@"+g.opts.MailDomain)
	}
	g.objectGUID()
	for _, m := range g.members() {
		lw.attr("member", g.userDN(g.users[m]))
	}
}

// members picks MembersPerGroup distinct users (Floyd's algorithm), in the
// order picked.
func (g *generator) members() []int {
	n, k := len(g.users), g.opts.MembersPerGroup
	picked := make([]int, 0, k)
	seen := make(map[int]struct{}, k)
	for j := n - k; j < n; j++ {
		t := g.rng.IntN(j + 1)
		if _, dup := seen[t]; dup {
			t = j
		}
		seen[t] = struct{}{}
		picked = append(picked, t)
	}
	return picked
}

func (g *generator) contact(i int) {
	f, l, dup := g.name()
	c := userRef{first: f, last: l, dup: dup}
	name := displayName(c)
	local := foldedFirst[f] + "." + foldedLast[l]
	if dup > 1 {
		local += strconv.FormatUint(uint64(dup), 10)
	}
	lw := g.lw
	lw.w.WriteByte('\n')
	lw.attr("dn", "CN="+EscapeDNValue(name)+",OU=Contacts,"+g.opts.BaseDN)
	for _, oc := range contactClasses {
		lw.attr("objectClass", oc)
	}
	lw.attr("cn", name)
	lw.attr("displayName", name)
	lw.attr("givenName", firstNames[f])
	lw.attr("sn", lastNames[l])
	lw.attr("mail", local+"@"+partnerDomains[i%len(partnerDomains)])
	g.objectGUID()
}
