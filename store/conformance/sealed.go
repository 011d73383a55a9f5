package conformance

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/internal/secret"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/sealed"
)

// The Sealed group runs the backend under store/sealed, the layer that
// keeps secret attribute values encrypted at rest whatever the backend: the
// backend must keep the sealed text exactly, and reading it directly (as
// anyone with the database file would) must never give the clear value.

const sealedPlain = "S3cret-Pa55word!"

func testSealer(t *testing.T, b byte) *secret.Sealer {
	t.Helper()
	s, err := secret.NewSealer(bytes.Repeat([]byte{b}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// secretUser is fullUser with a password and a pending password change.
func secretUser(id string) *store.CSObject {
	o := fullUser(id, "ad", "anchor-"+id)
	o.Object.Attrs["userPassword"] = model.Str(sealedPlain)
	o.Object.Attrs["unicodePwd"] = model.Values{Type: model.Binary, Values: []string{"\"\x00p\x00w\x00\"\x00" + sealedPlain}}
	o.Pending.Changes = append(o.Pending.Changes, connector.AttrChange{Name: "userPassword", Mode: connector.Replace, Values: []string{sealedPlain}})
	o.Pending.Error = "server refused password " + sealedPlain
	return o
}

// noClear fails when any value of a holds the clear secret.
func noClear(t *testing.T, what string, a model.Attrs, changes []connector.AttrChange) {
	t.Helper()
	check := func(name string, vals []string) {
		for _, v := range vals {
			if strings.Contains(v, sealedPlain) {
				t.Errorf("%s: the backend holds %s in clear: %q", what, name, v)
			}
		}
	}
	for n, v := range a {
		check(n, v.Values)
	}
	for _, c := range changes {
		check(c.Name, c.Values)
	}
}

var sealedTests = []testCase{
	{"SecretsSealedAtRest", func(t *testing.T, s store.Store) {
		m := secret.NewMasker()
		ss := sealed.Wrap(s, sealed.Options{Sealer: testSealer(t, 1), Masker: m})
		o := secretUser("cs-1")
		want := secretUser("cs-1")
		mv := mvUser("mv-1")
		mv.Attrs["password"] = model.Str(sealedPlain)
		apply(t, ss, &store.Batch{PutCS: []*store.CSObject{o}, PutMV: []*store.MVObject{mv}})
		if !reflect.DeepEqual(o, want) || mv.Attrs.First("password") != sealedPlain {
			t.Errorf("Apply changed the caller's objects")
		}
		want.Pending.Error = "server refused password " + secret.Redacted

		sameCS(t, "GetCS through the sealing store", getCS(t, ss, "cs-1"), want)
		raw := getCS(t, s, "cs-1")
		noClear(t, "cs object", raw.Object.Attrs, raw.Pending.Changes)
		if !secret.IsSealed(raw.Object.Attrs.First("userPassword")) {
			t.Errorf("stored userPassword %q is not sealed", raw.Object.Attrs.First("userPassword"))
		}
		if strings.Contains(raw.Pending.Error, sealedPlain) {
			t.Errorf("pending export error holds the secret: %q", raw.Pending.Error)
		}
		rawMV, err := s.GetMV(t.Context(), "mv-1")
		if err != nil {
			t.Fatal(err)
		}
		noClear(t, "mv object", rawMV.Attrs, nil)
		got, err := ss.GetMV(t.Context(), "mv-1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Attrs.First("password") != sealedPlain {
			t.Errorf("GetMV password = %q, want the clear value", got.Attrs.First("password"))
		}
		n := 0
		err = ss.ScanCS(t.Context(), "ad", func(o *store.CSObject) error {
			n++
			if o.Object.Attrs.First("userPassword") != sealedPlain {
				t.Errorf("ScanCS userPassword = %q", o.Object.Attrs.First("userPassword"))
			}
			return nil
		})
		if err != nil || n != 1 {
			t.Fatalf("ScanCS: %d objects, %v", n, err)
		}

		// Run messages and per-object errors are masked.
		r := &store.Run{Connector: "ad", Profile: "export", Started: ts, Status: store.RunFailed, Message: "bind failed for " + sealedPlain}
		if err := ss.StartRun(t.Context(), r); err != nil || r.ID == 0 {
			t.Fatalf("StartRun: id %d, %v", r.ID, err)
		}
		if err := ss.AddRunErrors(t.Context(), []store.RunError{{RunID: r.ID, Object: "x", Message: "rejected " + sealedPlain, Time: ts}}); err != nil {
			t.Fatal(err)
		}
		errs, err := s.RunErrors(t.Context(), r.ID)
		if err != nil || len(errs) != 1 || strings.Contains(errs[0].Message, sealedPlain) {
			t.Errorf("run errors %+v, %v: want one, masked", errs, err)
		}
		runs, err := s.Runs(t.Context(), store.RunFilter{})
		if err != nil || len(runs) != 1 || strings.Contains(runs[0].Message, sealedPlain) {
			t.Errorf("runs %+v, %v: want one, masked", runs, err)
		}
		// So are audit details; the entry gets its ID and time.
		e := &store.AuditEntry{User: "ann", Action: "run-profile", Detail: "failed: " + sealedPlain, Outcome: store.AuditFailed}
		if err := ss.AddAudit(t.Context(), e); err != nil || e.ID == 0 || e.Time.IsZero() {
			t.Fatalf("AddAudit: %+v, %v", e, err)
		}
		if e.Detail != "failed: "+sealedPlain {
			t.Errorf("AddAudit changed the caller's entry: %q", e.Detail)
		}
		es, err := s.Audit(t.Context(), store.AuditFilter{})
		if err != nil || len(es) != 1 || es[0].Detail != "failed: "+secret.Redacted {
			t.Errorf("audit entries %+v, %v: want one, masked", es, err)
		}
	}},
	{"PrefixedClearValuesRoundTrip", func(t *testing.T, s store.Store) {
		ss := sealed.Wrap(s, sealed.Options{})
		o := user("cs-1", "ad", "a1")
		o.Object.Attrs["description"] = model.Str("idsync-secret:v1:deadbeef:AAAA", "idsync-secret:raw:x")
		want := user("cs-1", "ad", "a1")
		want.Object.Attrs["description"] = model.Str("idsync-secret:v1:deadbeef:AAAA", "idsync-secret:raw:x")
		putCS(t, ss, o)
		sameCS(t, "a value that looks sealed", getCS(t, ss, "cs-1"), want)
	}},
	{"NoKeyRefusesSecrets", func(t *testing.T, s store.Store) {
		ss := sealed.Wrap(s, sealed.Options{})
		err := ss.Apply(t.Context(), &store.Batch{PutCS: []*store.CSObject{user("cs-0", "ad", "a0"), secretUser("cs-1")}})
		if !errors.Is(err, secret.ErrNoKey) || !strings.Contains(err.Error(), "secretKey") {
			t.Fatalf("Apply of a password without a key: %v, want secret.ErrNoKey naming security.secretKey", err)
		}
		wantCount(t, s, "", 0)
		putCS(t, ss, user("cs-2", "ad", "a2")) // no secrets: fine without a key
		wantCount(t, s, "", 1)
	}},
	{"WrongKeyFailsReads", func(t *testing.T, s store.Store) {
		putCS(t, sealed.Wrap(s, sealed.Options{Sealer: testSealer(t, 1)}), secretUser("cs-1"))
		if _, err := sealed.Wrap(s, sealed.Options{Sealer: testSealer(t, 2)}).GetCS(t.Context(), "cs-1"); !errors.Is(err, secret.ErrUnknownKey) {
			t.Errorf("GetCS with another key: %v, want secret.ErrUnknownKey", err)
		}
		if _, err := sealed.Wrap(s, sealed.Options{}).GetCS(t.Context(), "cs-1"); !errors.Is(err, secret.ErrNoKey) {
			t.Errorf("GetCS without a key: %v, want secret.ErrNoKey", err)
		}
	}},
	{"ResealRotatesKeys", func(t *testing.T, s store.Store) {
		k1, k2 := bytes.Repeat([]byte{1}, secret.KeySize), bytes.Repeat([]byte{2}, secret.KeySize)
		old := testSealer(t, 1)
		putCS(t, sealed.Wrap(s, sealed.Options{Sealer: old}), secretUser("cs-1"))
		legacy := user("cs-2", "ad", "a2") // written in clear before sealing existed
		legacy.Object.Attrs["userPassword"] = model.Str(sealedPlain)
		putCS(t, s, legacy)
		rot, err := secret.NewSealer(k2, k1)
		if err != nil {
			t.Fatal(err)
		}
		ss := sealed.Wrap(s, sealed.Options{Sealer: rot})
		inv, err := ss.Inventory(t.Context())
		if err != nil || inv.Sealed[old.KeyID()] != 3 || inv.Clear != 1 || inv.Objects != 2 {
			t.Fatalf("Inventory before: %+v, %v; want 3 values under the old key, 1 in clear, 2 objects", inv, err)
		}
		n, err := ss.Reseal(t.Context(), 1)
		if err != nil || n != 2 {
			t.Fatalf("Reseal: %d, %v; want 2 objects", n, err)
		}
		inv, err = ss.Inventory(t.Context())
		if err != nil || inv.Sealed[rot.KeyID()] != 4 || len(inv.Sealed) != 1 || inv.Clear != 0 || inv.Objects != 0 {
			t.Fatalf("Inventory after: %+v, %v; want 4 values under the new key only", inv, err)
		}
		only, err := secret.NewSealer(k2)
		if err != nil {
			t.Fatal(err)
		}
		want := secretUser("cs-1")
		sameCS(t, "after the reseal, with the new key only", getCS(t, sealed.Wrap(s, sealed.Options{Sealer: only}), "cs-1"), want)
		sameCS(t, "the legacy object after the reseal", getCS(t, sealed.Wrap(s, sealed.Options{Sealer: only}), "cs-2"), legacy)
		raw := getCS(t, s, "cs-2")
		noClear(t, "the legacy object", raw.Object.Attrs, nil)
	}},
	{"MaskedView", func(t *testing.T, s store.Store) {
		o := secretUser("cs-1")
		o.Object.Attrs["employeeSecret"] = model.Str("in clear, written before it was marked")
		putCS(t, sealed.Wrap(s, sealed.Options{Sealer: testSealer(t, 1)}), o)
		v := sealed.Masked(s, secret.NewPolicy("employeeSecret"))
		got := getCS(t, v, "cs-1")
		for _, a := range []string{"userPassword", "unicodePwd", "employeeSecret"} {
			if x := got.Object.Attrs[a]; len(x.Values) != 1 || x.Values[0] != secret.Redacted {
				t.Errorf("masked %s = %+v, want [secret]", a, x)
			}
		}
		if got.Object.Attrs.First("cn") != "anchor-cs-1" {
			t.Errorf("masked view changed cn: %q", got.Object.Attrs.First("cn"))
		}
		for _, c := range got.Pending.Changes {
			if c.Name == "userPassword" && (len(c.Values) != 1 || c.Values[0] != secret.Redacted) {
				t.Errorf("masked pending change %+v", c)
			}
		}
		if err := v.Apply(t.Context(), &store.Batch{DeleteCS: []string{"cs-1"}}); err == nil {
			t.Error("a masked view accepted a write")
		}
	}},
	{"SecretsNotSearched", func(t *testing.T, s store.Store) {
		ss := sealed.Wrap(s, sealed.Options{Sealer: testSealer(t, 1), Policy: secret.NewPolicy("badgePin")})
		if err := ss.SetSearchAttrs(t.Context(), []string{"displayName", "BadgePin", "userPassword"}); err != nil {
			t.Fatalf("SetSearchAttrs: %v", err)
		}
		if got, err := s.SearchAttrs(t.Context()); err != nil || !slices.Equal(got, []string{"displayName"}) {
			t.Fatalf("attributes indexed behind the sealing store = %q, %v; want only displayName", got, err)
		}
		mv := mvUser("mv-1")
		mv.Attrs["badgePin"] = model.Str(sealedPlain)
		apply(t, ss, &store.Batch{PutMV: []*store.MVObject{mv}})
		if _, _, err := ss.SearchMV(t.Context(), store.MVQuery{Attr: "badgePin", Value: sealedPlain}); !errors.Is(err, store.ErrNotSearchable) {
			t.Fatalf("search by a secret attribute: %v, want store.ErrNotSearchable", err)
		}
	}},
}
