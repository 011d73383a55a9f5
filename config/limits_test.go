package config

import (
	"slices"
	"strings"
	"testing"
)

func TestLimits(t *testing.T) {
	c, err := Parse("idsync.yaml", []byte(`
connectors:
  - name: hr
    type: file
    limits:
      maxValues: 50
      singleValued: [employeeID]
  - name: ad
    type: ldap
limits:
  maxStringBytes: 0
  maxReferences: 2000000
  singleValued: [department]
`))
	if err != nil {
		t.Fatal(err)
	}
	hr, ad := c.LimitsFor("hr"), c.LimitsFor("ad")
	if hr.MaxValues != 50 || ad.MaxValues != DefaultMaxValues {
		t.Errorf("maxValues: hr %d, ad %d", hr.MaxValues, ad.MaxValues)
	}
	if hr.MaxStringBytes != 0 || ad.MaxStringBytes != 0 || hr.MaxBinaryBytes != DefaultMaxBinaryBytes || ad.MaxReferences != 2000000 {
		t.Errorf("limits: hr %+v, ad %+v", hr, ad)
	}
	if !slices.Equal(hr.SingleValued, []string{"department", "employeeID"}) || !slices.Equal(ad.SingleValued, []string{"department"}) {
		t.Errorf("singleValued: hr %v, ad %v", hr.SingleValued, ad.SingleValued)
	}
	if d := Default().LimitsFor("x"); d.MaxStringBytes != 1<<20 || d.MaxBinaryBytes != 4<<20 || d.MaxValues != 10000 || d.MaxReferences != 1000000 {
		t.Errorf("defaults: %+v", d)
	}
	_, err = Parse("idsync.yaml", []byte("limits: {maxValues: -1}\nconnectors: [{name: a, type: file, limits: {maxBinaryBytes: -2, singleValued: ['']}}]\n"))
	for _, want := range []string{"limits.maxValues must be ≥ 0", `connector "a": limits.maxBinaryBytes must be ≥ 0`, "singleValued: an attribute name is empty"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to contain %q", err, want)
		}
	}
}
