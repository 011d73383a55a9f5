package conformance

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// checkTime requires got to equal want to the microsecond and to be in UTC
// (the zero time must stay zero).
func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if want.IsZero() {
		if !got.IsZero() {
			t.Errorf("%s = %v, want the zero time", what, got)
		}
		return
	}
	d := got.Sub(want)
	if d < 0 {
		d = -d
	}
	if d >= time.Microsecond {
		t.Errorf("%s = %v, want %v (within 1µs)", what, got, want)
	}
	if got.Location() != time.UTC {
		t.Errorf("%s is in %v, want UTC", what, got.Location())
	}
}

// sameCS fails the test unless got equals want. Times are checked with
// checkTime; nil and empty slices and maps count as equal; everything else,
// including the order of values and nil versus non-nil Pending, must match.
func sameCS(t *testing.T, what string, got, want *store.CSObject) {
	t.Helper()
	if got == nil || want == nil {
		if got != want {
			t.Fatalf("%s: got %v, want %v", what, got, want)
		}
		return
	}
	checkTime(t, what+": Modified", got.Modified, want.Modified)
	if (got.Pending == nil) != (want.Pending == nil) {
		t.Fatalf("%s: Pending = %+v, want %+v", what, got.Pending, want.Pending)
	}
	if want.Pending != nil {
		checkTime(t, what+": Pending.Created", got.Pending.Created, want.Pending.Created)
	}
	g, w := normCS(got), normCS(want)
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s: mismatch\n got: %s\nwant: %s", what, describeCS(g), describeCS(w))
	}
}

func normCS(o *store.CSObject) store.CSObject {
	c := *o
	c.Modified = time.Time{}
	c.Object.Attrs = normAttrs(o.Object.Attrs)
	c.Unconfirmed = normStrs(o.Unconfirmed)
	if o.Pending != nil {
		p := *o.Pending
		p.Created = time.Time{}
		p.Changes = nil
		for _, ch := range o.Pending.Changes {
			ch.Values = normStrs(ch.Values)
			p.Changes = append(p.Changes, ch)
		}
		c.Pending = &p
	}
	return c
}

func describeCS(o store.CSObject) string {
	s := fmt.Sprintf("%+v", o)
	if o.Pending != nil {
		s += fmt.Sprintf("\n      Pending: %+v", *o.Pending)
	}
	return s
}

// sameMV is sameCS for MV objects.
func sameMV(t *testing.T, what string, got, want *store.MVObject) {
	t.Helper()
	checkTime(t, what+": Modified", got.Modified, want.Modified)
	g, w := *got, *want
	g.Modified, w.Modified = time.Time{}, time.Time{}
	g.Attrs, w.Attrs = normAttrs(g.Attrs), normAttrs(w.Attrs)
	if g.Lineage.Len() == 0 {
		g.Lineage = store.Lineage{}
	}
	if w.Lineage.Len() == 0 {
		w.Lineage = store.Lineage{}
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s: mismatch\n got: %+v\nwant: %+v", what, g, w)
	}
}

func normAttrs(a model.Attrs) model.Attrs {
	if len(a) == 0 {
		return nil
	}
	c := make(model.Attrs, len(a))
	for k, v := range a {
		c[k] = model.Values{Type: v.Type, Values: normStrs(v.Values)}
	}
	return c
}

func normStrs(v []string) []string {
	if len(v) == 0 {
		return nil
	}
	return v
}
