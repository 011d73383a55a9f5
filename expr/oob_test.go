package expr

import (
	"testing"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
)

// Expressions of the Azure AD Connect out-of-box rules.
const (
	oobCloudFiltered   = `IIF(IsPresent([isCriticalSystemObject]) || IsPresent([sAMAccountName]) = False || [sAMAccountName] = "SUPPORT_388945a0" || Left([mailNickname], 14) = "SystemMailbox{" || Left([sAMAccountName], 4) = "AAD_" || (Left([mailNickname], 4) = "CAS_" && (InStr([mailNickname], "}") > 0)) || (Left([sAMAccountName], 4) = "CAS_" && (InStr([sAMAccountName], "}") > 0)) || Left([sAMAccountName], 5) = "MSOL_" || CBool(IIF(IsPresent([msExchRecipientTypeDetails]),BitAnd([msExchRecipientTypeDetails],&H21C07000) > 0,NULL)) || CBool(InStr(DNComponent(CRef([dn]),1),"\\0ACNF:")>0), True, NULL)`
	oobSourceAnchor    = `IIF(IsPresent([mS-DS-ConsistencyGuid]),[mS-DS-ConsistencyGuid],[objectGUID])`
	oobSourceAnchorB64 = `ConvertToBase64(IIF(IsPresent([mS-DS-ConsistencyGuid]),[mS-DS-ConsistencyGuid],[objectGUID]))`
	oobUPN             = `IIF(IsPresent([userPrincipalName]),[userPrincipalName], IIF(IsPresent([sAMAccountName]),([sAMAccountName]&"@"&%Domain.FQDN%),Error("AccountName is not present")))`
	oobAccountEnabled  = `IIF(BitAnd([userAccountControl],2)=0,True,False)`
	oobMailEnabled     = `IIF(( (IsPresent([proxyAddresses]) = True) && (Contains([proxyAddresses], "SMTP:") > 0) && (InStr(Item([proxyAddresses], Contains([proxyAddresses], "SMTP:")), "@") > 0)) || (IsPresent([mail]) = True && (InStr([mail], "@") > 0)), True, False)`
	oobPwdLastSet      = `IIF(IsPresent([pwdLastSet]),CStr(FormatDateTime(DateFromNum([pwdLastSet]),"yyyyMMddHHmmss.0Z")),NULL)`
	oobSecurityEnabled = `IIF(BitAnd([groupType],&H80000000)=&H80000000,True,False)`
	oobDisplayName     = `IIF(IsNullOrEmpty([displayName]),IIF(IsNullOrEmpty([cn]),NULL,[cn]),[displayName])`
)

func TestOutOfBoxRules(t *testing.T) {
	user := func(kv ...any) testEnv {
		e := testEnv{attrs: model.Attrs{}, params: map[string]string{"Domain.FQDN": "contoso.com"}}
		for i := 0; i < len(kv); i += 2 {
			switch v := kv[i+1].(type) {
			case string:
				e.attrs[kv[i].(string)] = model.Str(v)
			case model.Values:
				e.attrs[kv[i].(string)] = v
			}
		}
		return e
	}
	integer := func(s string) model.Values { return model.Values{Type: model.Integer, Values: []string{s}} }
	guid := model.Values{Type: model.Binary, Values: []string{mustHex("d4c3b2a1f6e58947abcdef0123456789")}}
	tests := []struct {
		name, src string
		env       testEnv
		want      string
	}{
		{"cloudFiltered normal user", oobCloudFiltered, user("sAMAccountName", "jdoe", "dn", model.Ref("CN=John,DC=x")), "NULL"},
		{"cloudFiltered no sAMAccountName", oobCloudFiltered, user("dn", model.Ref("CN=John,DC=x")), "true"},
		{"cloudFiltered critical", oobCloudFiltered, user("sAMAccountName", "krbtgt", "isCriticalSystemObject", model.Values{Type: model.Boolean, Values: []string{"true"}}), "true"},
		{"cloudFiltered SUPPORT", oobCloudFiltered, user("sAMAccountName", "SUPPORT_388945a0"), "true"},
		{"cloudFiltered SystemMailbox", oobCloudFiltered, user("sAMAccountName", "SM_1", "mailNickname", "SystemMailbox{1f05a927}"), "true"},
		{"cloudFiltered AAD_", oobCloudFiltered, user("sAMAccountName", "AAD_12345"), "true"},
		{"cloudFiltered CAS_", oobCloudFiltered, user("sAMAccountName", "x", "mailNickname", "CAS_{abc}"), "true"},
		{"cloudFiltered CAS_ without brace", oobCloudFiltered, user("sAMAccountName", "x", "mailNickname", "CAS_abc"), "NULL"},
		{"cloudFiltered MSOL_", oobCloudFiltered, user("sAMAccountName", "MSOL_abc"), "true"},
		{"cloudFiltered arbitration mailbox", oobCloudFiltered, user("sAMAccountName", "x", "msExchRecipientTypeDetails", integer("8388608")), "true"},
		{"cloudFiltered user mailbox", oobCloudFiltered, user("sAMAccountName", "x", "msExchRecipientTypeDetails", integer("1")), "NULL"},
		{"cloudFiltered conflict object", oobCloudFiltered, user("sAMAccountName", "x", "dn", model.Ref(`CN=John\0ACNF:4c6d4a6e-1234,OU=x,DC=y`)), "true"},
		{"sourceAnchor objectGUID", oobSourceAnchor, user("objectGUID", guid), "bin d4c3b2a1f6e58947abcdef0123456789"},
		{"sourceAnchor consistency guid", oobSourceAnchor, user("objectGUID", guid, "mS-DS-ConsistencyGuid", model.Values{Type: model.Binary, Values: []string{"0123456789abcdef"}}), "bin 30313233343536373839616263646566"},
		{"sourceAnchor base64", oobSourceAnchorB64, user("objectGUID", guid), `"1MOyofbliUerze8BI0VniQ=="`},
		{"UPN present", oobUPN, user("userPrincipalName", "john@contoso.com", "sAMAccountName", "jdoe"), `"john@contoso.com"`},
		{"UPN from sAMAccountName", oobUPN, user("sAMAccountName", "jdoe"), `"jdoe@contoso.com"`},
		{"UPN missing", oobUPN, user(), "error: AccountName is not present"},
		{"accountEnabled", oobAccountEnabled, user("userAccountControl", integer("512")), "true"},
		{"accountDisabled", oobAccountEnabled, user("userAccountControl", integer("514")), "false"},
		{"mailEnabled proxy", oobMailEnabled, user("proxyAddresses", model.Str("smtp:a@x.com", "SMTP:b@x.com")), "true"},
		{"mailEnabled no primary", oobMailEnabled, user("proxyAddresses", model.Str("smtp:a@x.com")), "false"},
		{"mailEnabled mail", oobMailEnabled, user("mail", "a@x.com"), "true"},
		{"mailEnabled none", oobMailEnabled, user(), "false"},
		{"pwdLastSet", oobPwdLastSet, user("pwdLastSet", integer("130543784930000000")), `"20140905081453.0Z"`},
		{"pwdLastSet absent", oobPwdLastSet, user(), "NULL"},
		{"securityEnabled global security", oobSecurityEnabled, user("groupType", integer("-2147483646")), "true"},
		{"securityEnabled distribution", oobSecurityEnabled, user("groupType", integer("2")), "false"},
		{"displayName", oobDisplayName, user("displayName", "John Doe", "cn", "jdoe"), `"John Doe"`},
		{"displayName from cn", oobDisplayName, user("cn", "jdoe"), `"jdoe"`},
		{"displayName none", oobDisplayName, user(), "NULL"},
	}
	for _, tt := range tests {
		want := tt.want
		if got := evalString(tt.src, tt.env); got != want {
			t.Errorf("%s: got %s, want %s", tt.name, got, want)
		}
	}
}

func BenchmarkCloudFiltered(b *testing.B) {
	c, err := Compile(oobCloudFiltered)
	if err != nil {
		b.Fatal(err)
	}
	// The environment is put in its interface once, outside the loop, as
	// the engine does for an object's flows.
	var env rules.Env = sampleUser()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Eval(env); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOutOfBox evaluates each out-of-box expression on a typical user.
func BenchmarkOutOfBox(b *testing.B) {
	for _, tt := range []struct{ name, src string }{
		{"sourceAnchor", oobSourceAnchorB64}, {"userPrincipalName", oobUPN},
		{"accountEnabled", oobAccountEnabled}, {"mailEnabled", oobMailEnabled},
		{"pwdLastSet", oobPwdLastSet}, {"displayName", oobDisplayName},
	} {
		c, err := Compile(tt.src)
		if err != nil {
			b.Fatal(err)
		}
		var env rules.Env = sampleUser()
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Eval(env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
