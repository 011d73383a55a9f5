package engine

import (
	"testing"

	"github.com/idsync/idsync/model"
)

func TestEnvDNAndParameters(t *testing.T) {
	ev := env{attrs: model.Attrs{"cn": model.Str("a")}, params: map[string]string{"Domain.Netbios": "CONTOSO"},
		dn: "CN=a,OU=x,DC=contoso,DC=com", part: "DC=contoso, DC=com", conn: "contoso"}
	if v := ev.Attr("dn"); v.Type != model.String || len(v.Values) != 1 || v.Values[0] != ev.dn {
		t.Errorf("[dn] = %+v", v)
	}
	if v := (env{attrs: model.Attrs{"dn": model.Str("own")}, dn: "CN=x"}).Attr("dn"); v.Values[0] != "own" {
		t.Errorf("an attribute named dn wins: %+v", v)
	}
	for name, want := range map[string]string{
		"Domain.FQDN": "contoso.com", "Connector.Domain.Name": "contoso.com", "Domain.Netbios": "CONTOSO",
		"Connector.ID": "contoso", "Forest.FQDN": "",
	} {
		if got := ev.Param(name); got != want {
			t.Errorf("%%%s%% = %q, want %q", name, got, want)
		}
	}
	if got := (env{params: map[string]string{"Domain.FQDN": "set.example"}, part: "DC=contoso,DC=com"}).Param("Domain.FQDN"); got != "set.example" {
		t.Errorf("a configured parameter wins: %q", got)
	}
}
