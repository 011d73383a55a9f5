package conformance

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/idsync/idsync/store"
)

// The Tenants group: tenants and their domains (R5). Every domain query
// names its tenant, and a domain is verified for at most one tenant.

func putTenant(t *testing.T, s store.Store, id string) *store.Tenant {
	t.Helper()
	tn := &store.Tenant{ID: id, Name: "Tenant " + id, Settings: `{"extensionStart":1000}`, Created: ts, Modified: ts.Add(time.Second)}
	if err := s.PutTenant(t.Context(), tn); err != nil {
		t.Fatalf("PutTenant(%q): %v", id, err)
	}
	return tn
}

func pendingDomain(tenant, name string, next time.Time) *store.Domain {
	deadline := ts.Add(time.Hour)
	return &store.Domain{Tenant: tenant, Name: name, Token: "tok-" + tenant + "-" + name, State: store.DomainPending,
		Added: ts, NextCheck: &next, Deadline: &deadline}
}

func putDomain(t *testing.T, s store.Store, d *store.Domain) {
	t.Helper()
	if err := s.PutDomain(t.Context(), d); err != nil {
		t.Fatalf("PutDomain(%s/%s): %v", d.Tenant, d.Name, err)
	}
}

func domainNames(ds []*store.Domain) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Tenant+"/"+d.Name)
	}
	return out
}

var tenantTests = []testCase{
	{"TenantRoundTrip", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		want := putTenant(t, s, "contoso")
		putTenant(t, s, "fabrikam")
		got, err := s.GetTenant(ctx, "contoso")
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != want.ID || got.Name != want.Name || got.Settings != want.Settings || got.Domain != "" {
			t.Errorf("GetTenant = %+v, want %+v", got, want)
		}
		checkTime(t, "Created", got.Created, want.Created)
		checkTime(t, "Modified", got.Modified, want.Modified)
		got.Domain, got.Name = "contoso.example", "Contoso Ltd"
		if err := s.PutTenant(ctx, got); err != nil {
			t.Fatal(err)
		}
		list, err := s.Tenants(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].ID != "contoso" || list[0].Domain != "contoso.example" || list[0].Name != "Contoso Ltd" || list[1].ID != "fabrikam" {
			t.Errorf("Tenants = %+v", list)
		}
		_, err = s.GetTenant(ctx, "nobody")
		wantNotFound(t, "GetTenant(nobody)", err)
		wantNotFound(t, "DeleteTenant(nobody)", s.DeleteTenant(ctx, "nobody"))
	}},
	{"DomainRoundTrip", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		putTenant(t, s, "contoso")
		d := pendingDomain("contoso", "Contoso.Example", ts.Add(time.Minute))
		putDomain(t, s, d)
		got, err := s.GetDomain(ctx, "contoso", "CONTOSO.example")
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "contoso.example" || got.Token != d.Token || got.State != store.DomainPending || got.Attempts != 0 || got.LastCheck != nil || got.Verified != nil {
			t.Errorf("GetDomain = %+v", got)
		}
		checkTime(t, "Added", got.Added, d.Added)
		checkTime(t, "NextCheck", *got.NextCheck, *d.NextCheck)
		checkTime(t, "Deadline", *got.Deadline, *d.Deadline)
		now := ts.Add(2 * time.Minute)
		got.State, got.Attempts, got.LastCheck, got.NextCheck, got.Verified = store.DomainVerified, 3, &now, nil, &now
		putDomain(t, s, got)
		again, err := s.GetDomain(ctx, "contoso", "contoso.example")
		if err != nil {
			t.Fatal(err)
		}
		if again.State != store.DomainVerified || again.Attempts != 3 || again.NextCheck != nil || again.Verified == nil {
			t.Errorf("after verification: %+v", again)
		}
		checkTime(t, "Verified", *again.Verified, now)
		err = s.PutDomain(ctx, pendingDomain("nobody", "x.example", ts))
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("PutDomain of an unknown tenant = %v, want ErrNotFound", err)
		}
		wantNotFound(t, "DeleteDomain(absent)", s.DeleteDomain(ctx, "contoso", "absent.example"))
		if err := s.DeleteDomain(ctx, "contoso", "CONTOSO.EXAMPLE"); err != nil {
			t.Fatal(err)
		}
		_, err = s.GetDomain(ctx, "contoso", "contoso.example")
		wantNotFound(t, "GetDomain after delete", err)
	}},
	{"DomainsIsolated", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		putTenant(t, s, "a")
		putTenant(t, s, "b")
		putDomain(t, s, pendingDomain("a", "shared.example", ts))
		putDomain(t, s, pendingDomain("a", "a.example", ts))
		putDomain(t, s, pendingDomain("b", "shared.example", ts))
		for tenant, want := range map[string][]string{"a": {"a/a.example", "a/shared.example"}, "b": {"b/shared.example"}, "c": nil} {
			got, err := s.Domains(ctx, tenant)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(domainNames(got), want) {
				t.Errorf("Domains(%s) = %v, want %v", tenant, domainNames(got), want)
			}
		}
		_, err := s.GetDomain(ctx, "b", "a.example")
		wantNotFound(t, "GetDomain(b, a's domain)", err)
		wantNotFound(t, "DeleteDomain(b, a's domain)", s.DeleteDomain(ctx, "b", "a.example"))
		if _, err := s.GetDomain(ctx, "a", "a.example"); err != nil {
			t.Errorf("a's domain after b's delete attempt: %v", err)
		}
		// Deleting a tenant deletes its domains only.
		if err := s.DeleteTenant(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Domains(ctx, "a"); len(got) != 0 {
			t.Errorf("a's domains after DeleteTenant: %v", domainNames(got))
		}
		if got, _ := s.Domains(ctx, "b"); len(got) != 1 {
			t.Errorf("b's domains after deleting a: %v", domainNames(got))
		}
	}},
	{"DomainVerifiedOnce", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		putTenant(t, s, "a")
		putTenant(t, s, "b")
		da, db := pendingDomain("a", "shared.example", ts), pendingDomain("b", "shared.example", ts)
		putDomain(t, s, da)
		putDomain(t, s, db)
		if who, err := s.DomainVerifiedBy(ctx, "shared.example"); err != nil || who != "" {
			t.Errorf("DomainVerifiedBy before = %q, %v", who, err)
		}
		da.State = store.DomainVerified
		putDomain(t, s, da)
		db.State = store.DomainVerified
		if err := s.PutDomain(ctx, db); !errors.Is(err, store.ErrAlreadyExists) {
			t.Errorf("verifying a domain another tenant verified = %v, want ErrAlreadyExists", err)
		}
		if who, err := s.DomainVerifiedBy(ctx, "SHARED.example"); err != nil || who != "a" {
			t.Errorf("DomainVerifiedBy = %q, %v, want a", who, err)
		}
		if got, _ := s.GetDomain(ctx, "b", "shared.example"); got == nil || got.State != store.DomainPending {
			t.Errorf("b's claim after the refused verification: %+v", got)
		}
	}},
	{"DomainsToCheck", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		putTenant(t, s, "a")
		putTenant(t, s, "b")
		putDomain(t, s, pendingDomain("a", "late.example", ts.Add(10*time.Minute)))
		putDomain(t, s, pendingDomain("b", "second.example", ts.Add(2*time.Minute)))
		putDomain(t, s, pendingDomain("a", "first.example", ts.Add(time.Minute)))
		v := pendingDomain("a", "done.example", ts)
		v.State, v.NextCheck = store.DomainVerified, nil
		putDomain(t, s, v)
		f := pendingDomain("b", "failed.example", ts)
		f.State = store.DomainFailed
		putDomain(t, s, f)
		got, err := s.DomainsToCheck(ctx, ts.Add(2*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"a/first.example", "b/second.example"}; !slices.Equal(domainNames(got), want) {
			t.Errorf("DomainsToCheck = %v, want %v", domainNames(got), want)
		}
	}},
}
