package ldap

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	ldap "github.com/go-ldap/ldap/v3"

	"github.com/idsync/idsync/connector"
)

var _ connector.WriteOnlyAttributer = (*Connector)(nil)

// TestPasswordNeverInClear: an export that writes unicodePwd over an
// unencrypted connection (ldap:// without startTLS) fails before anything
// is sent, with an error that says what to configure; the other ops of
// the batch go their way. Over ldaps:// and with startTLS the check lets
// the op through (here to a closed port: a connection error instead).
func TestPasswordNeverInClear(t *testing.T) {
	const closed = "127.0.0.1:1" // nothing listens on port 1
	pwd := connector.ExportOp{ID: "pwd", Op: connector.OpUpdate, DN: "CN=Ann,DC=contoso,DC=test",
		Changes: []connector.AttrChange{{Name: "UnicodePwd", Mode: connector.Replace, Values: []string{"Secr3t-Pa55!"}}}}
	other := connector.ExportOp{ID: "other", Op: connector.OpUpdate, DN: "CN=Bob,DC=contoso,DC=test",
		Changes: []connector.AttrChange{{Name: "mail", Mode: connector.Replace, Values: []string{"bob@contoso.test"}}}}
	for _, tc := range []struct {
		name    string
		cfg     Config
		refused bool
	}{
		{"ldap", Config{URL: "ldap://" + closed}, true},
		{"ldap+startTLS", Config{URL: "ldap://" + closed, StartTLS: true}, false},
		{"ldaps", Config{URL: "ldaps://" + closed}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Timeout = Duration{Duration: 2 * time.Second}
			c, err := New("aadds", tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			res := c.Export(context.Background(), []connector.ExportOp{pwd, other})
			byID := map[string]error{}
			for _, r := range res {
				byID[r.ID] = r.Err
			}
			if len(res) != 2 || byID["other"] == nil || strings.Contains(byID["other"].Error(), "not encrypted") {
				t.Fatalf("results %+v: want the other op to fail on the closed port only", res)
			}
			err = byID["pwd"]
			isRefusal := err != nil && strings.Contains(err.Error(), "not encrypted") && strings.Contains(err.Error(), "ldaps://") &&
				strings.Contains(err.Error(), "startTLS: true") && strings.Contains(err.Error(), "CN=Ann")
			if isRefusal != tc.refused {
				t.Fatalf("unicodePwd over %s: %v (want refused: %v)", tc.cfg.URL, err, tc.refused)
			}
			if err != nil && strings.Contains(err.Error(), "Secr3t") {
				t.Fatalf("the error quotes the password: %v", err)
			}
			if errors.Is(err, connector.ErrNotFound) {
				t.Fatalf("unexpected not found: %v", err)
			}
		})
	}
}

// TestPasswordNotImported: unicodePwd is declared write-only, never asked
// for, and dropped from an entry that would carry it.
func TestPasswordNotImported(t *testing.T) {
	c, err := New("aadds", Config{URL: "ldaps://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.WriteOnlyAttributes(); !slices.Equal(got, []string{"unicodePwd"}) {
		t.Errorf("WriteOnlyAttributes = %q", got)
	}
	c.s.Anchor = "objectGUID"
	if got := c.requestAttrs([]string{"mail", "unicodepwd", "UNICODEPWD", "sn"}); slices.ContainsFunc(got, func(a string) bool { return strings.EqualFold(a, "unicodePwd") }) {
		t.Errorf("requestAttrs asks for %q", got)
	}
	sc := &dirSchema{attrs: map[string]attrDef{}, classes: map[string]classDef{}}
	e := ldap.NewEntry("CN=Ann,DC=contoso,DC=test", map[string][]string{"objectGUID": {"0123456789abcdef"}, "mail": {"ann@contoso.test"}, "unicodePwd": {"\"\x00x\x00\"\x00"}})
	o, err := c.entryToObject(sc, nil, e, "user")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := o.Attrs["unicodePwd"]; ok || len(o.Attrs) != 2 {
		t.Errorf("imported attributes %v, want objectGUID and mail only", o.Attrs)
	}
}
