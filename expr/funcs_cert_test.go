package expr

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idsync/idsync/model"
)

// testSAN encodes a subjectAltName with an rfc822Name, a dNSName, a URI and
// a UPN otherName (crypto/x509 cannot write otherName itself).
func testSAN(t *testing.T) pkix.Extension {
	t.Helper()
	upn, err := asn1.MarshalWithParams("jane@contoso.onmicrosoft.com", "utf8")
	if err != nil {
		t.Fatal(err)
	}
	oid, err := asn1.Marshal(oidUPN)
	if err != nil {
		t.Fatal(err)
	}
	val, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: upn})
	if err != nil {
		t.Fatal(err)
	}
	names := []asn1.RawValue{
		{Class: asn1.ClassContextSpecific, Tag: gnOther, IsCompound: true, Bytes: append(oid, val...)},
		{Class: asn1.ClassContextSpecific, Tag: gnRFC822, Bytes: []byte("jane@contoso.com")},
		{Class: asn1.ClassContextSpecific, Tag: gnDNS, Bytes: []byte("jane.contoso.com")},
		{Class: asn1.ClassContextSpecific, Tag: gnURI, Bytes: []byte("https://contoso.com/jane")},
	}
	der, err := asn1.Marshal(names)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidSAN, Value: der}
}

var (
	certOnce       sync.Once
	ecDER, rsaDER  []byte
	errCertsCreate error
)

// testCerts creates the two self-signed test certificates once.
func testCerts(t *testing.T) (ec, rs []byte) {
	t.Helper()
	certOnce.Do(func() {
		ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			errCertsCreate = err
			return
		}
		ecTmpl := &x509.Certificate{
			SerialNumber: big.NewInt(0x8F1234), // DER keeps a leading 00
			Subject: pkix.Name{
				Country:            []string{"US"},
				Organization:       []string{"Contoso, Ltd"},
				OrganizationalUnit: []string{"Sales"},
				CommonName:         "Jane Doe",
			},
			NotBefore:             time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
			NotAfter:              time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
			KeyUsage:              x509.KeyUsageDigitalSignature,
			BasicConstraintsValid: true,
			ExtraExtensions:       []pkix.Extension{testSAN(t)},
		}
		if ecDER, err = x509.CreateCertificate(rand.Reader, ecTmpl, ecTmpl, &ecKey.PublicKey, ecKey); err != nil {
			errCertsCreate = err
			return
		}
		rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			errCertsCreate = err
			return
		}
		rsaTmpl := &x509.Certificate{
			SerialNumber: big.NewInt(0x1234),
			Subject: pkix.Name{
				CommonName: "server01",
				ExtraNames: []pkix.AttributeTypeAndValue{
					{Type: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, Value: "com"},
					{Type: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, Value: "contoso"},
					{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, Value: "admin@contoso.com"},
				},
			},
			NotBefore: time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC),
			NotAfter:  time.Date(2033, 6, 1, 0, 0, 0, 0, time.UTC),
		}
		rsaDER, errCertsCreate = x509.CreateCertificate(rand.Reader, rsaTmpl, rsaTmpl, &rsaKey.PublicKey, rsaKey)
	})
	if errCertsCreate != nil {
		t.Fatal(errCertsCreate)
	}
	return ecDER, rsaDER
}

func certEnv(t *testing.T) testEnv {
	ec, rs := testCerts(t)
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ec}))
	return testEnv{attrs: model.Attrs{
		"ec":    {Type: model.Binary, Values: []string{string(ec)}},
		"rsa":   {Type: model.Binary, Values: []string{string(rs)}},
		"certs": {Type: model.Binary, Values: []string{string(ec), string(rs)}},
		"mixed": {Type: model.Binary, Values: []string{string(ec), "\x30\x03\x02\x01\x01"}},
		"junk":  {Type: model.Binary, Values: []string{mustHex("d4c3b2a1f6e58947abcdef0123456789")}},
		"b64":   model.Str(base64.StdEncoding.EncodeToString(ec)),
		"pem":   model.Str(pemText),
		"name":  model.Str("Jane"),
	}}
}

func thumb(der []byte) string {
	h := sha1.Sum(der)
	return strings.ToUpper(hex.EncodeToString(h[:]))
}

func TestCertFunctions(t *testing.T) {
	ec, rs := testCerts(t)
	env := certEnv(t)
	ecTP, rsTP := thumb(ec), thumb(rs)
	cases := []struct{ src, want string }{
		// IsCert never fails.
		{`IsCert([ec])`, `true`},
		{`IsCert([rsa])`, `true`},
		{`IsCert([b64])`, `true`},
		{`IsCert([pem])`, `true`},
		{`IsCert([junk])`, `false`},
		{`IsCert([name])`, `false`},
		{`IsCert(42)`, `false`},
		{`IsCert([missing])`, `false`},
		{`IsCert([certs])`, `[true, true]`},
		{`IsCert([mixed])`, `[true, false]`},

		{`CertFormat([ec])`, `"X509"`},
		{`CertFriendlyName([ec])`, `""`},
		{`CertThumbprint([ec])`, `"` + ecTP + `"`},
		{`CertHashString([ec])`, `"` + ecTP + `"`},
		{`CertThumbprint([b64])`, `"` + ecTP + `"`},
		{`CertThumbprint([pem])`, `"` + ecTP + `"`},
		{`CertThumbprint(CBin([b64]))`, `"` + ecTP + `"`},
		{`CertThumbprint([rsa])`, `"` + rsTP + `"`},

		{`CertSubject([ec])`, `"CN=Jane Doe, OU=Sales, O=\"Contoso, Ltd\", C=US"`},
		{`CertSubjectNameDN([ec])`, `"CN=Jane Doe, OU=Sales, O=\"Contoso, Ltd\", C=US"`},
		{`CertIssuer([ec])`, `"CN=Jane Doe, OU=Sales, O=\"Contoso, Ltd\", C=US"`},
		{`CertIssuerDN([ec])`, `"CN=Jane Doe, OU=Sales, O=\"Contoso, Ltd\", C=US"`},
		{`CertSubject([rsa])`, `"E=admin@contoso.com, DC=contoso, DC=com, CN=server01"`},
		{`CertIssuerOid([ec])`, `NULL`},
		{`CertSubjectNameOid([ec])`, `NULL`},

		{`CertKeyAlgorithm([ec])`, `"1.2.840.10045.2.1"`},
		{`CertPublicKeyOid([ec])`, `"1.2.840.10045.2.1"`},
		{`CertKeyAlgorithmParams([ec])`, `"06082A8648CE3D030107"`},
		{`CertPublicKeyParametersOid([ec])`, `"1.2.840.10045.3.1.7"`},
		{`CertKeyAlgorithm([rsa])`, `"1.2.840.113549.1.1.1"`},
		{`CertPublicKeyOid([rsa])`, `"1.2.840.113549.1.1.1"`},
		{`CertKeyAlgorithmParams([rsa])`, `"0500"`},
		{`CertPublicKeyParametersOid([rsa])`, `NULL`},

		{`CertSerialNumber([ec])`, `"008F1234"`},
		{`CertSerialNumber([rsa])`, `"1234"`},
		{`CertSignatureAlgorithmOid([ec])`, `"1.2.840.10045.4.3.2"`},    // ecdsa-with-SHA256
		{`CertSignatureAlgorithmOid([rsa])`, `"1.2.840.113549.1.1.11"`}, // sha256WithRSAEncryption
		{`CertNotBefore([ec])`, `dt 2024-01-02T03:04:05Z`},
		{`CertNotAfter([ec])`, `dt 2026-01-02T03:04:05Z`},
		{`CertNotAfter([rsa]) > CertNotAfter([ec])`, `true`},
		{`CertVersion([ec])`, `3`},
		{`CertVersion([rsa])`, `3`},
		// keyUsage and basicConstraints are critical; the SAN is not.
		{`CertExtensionOids([ec])`, `["2.5.29.15", "2.5.29.19"]`},
		{`CertExtensionOids([rsa])`, `NULL`},
		{`Count(CertExtensionOids([ec]))`, `2`},

		{`CertNameInfo([ec], "SimpleName", False)`, `"Jane Doe"`},
		{`CertNameInfo([ec], "SimpleName")`, `"Jane Doe"`},
		{`CertNameInfo([ec], "EmailName", False)`, `"jane@contoso.com"`},
		{`CertNameInfo([ec], "UpnName", False)`, `"jane@contoso.onmicrosoft.com"`},
		{`CertNameInfo([ec], "DnsName", False)`, `"jane.contoso.com"`},
		{`CertNameInfo([ec], "DnsFromAlternativeName", False)`, `"jane.contoso.com"`},
		{`CertNameInfo([ec], "UrlName", False)`, `"https://contoso.com/jane"`},
		{`CertNameInfo([ec], "dnsname", False)`, `"jane.contoso.com"`},
		{`CertNameInfo([ec], 2, False)`, `"jane@contoso.onmicrosoft.com"`},
		// The issuer name: no issuer alternative name extension.
		{`CertNameInfo([ec], "SimpleName", True)`, `"Jane Doe"`},
		{`CertNameInfo([ec], "UpnName", True)`, `""`},
		{`CertNameInfo([ec], "DnsName", True)`, `"Jane Doe"`},
		// No SAN: DnsName falls back to the CN, EmailName to the E attribute.
		{`CertNameInfo([rsa], "SimpleName", False)`, `"server01"`},
		{`CertNameInfo([rsa], "DnsName", False)`, `"server01"`},
		{`CertNameInfo([rsa], "DnsFromAlternativeName", False)`, `""`},
		{`CertNameInfo([rsa], "EmailName", False)`, `"admin@contoso.com"`},
		{`CertNameInfo([rsa], "UpnName", True)`, `""`},
		{`CertNameInfo([certs], "SimpleName", False)`, `["Jane Doe", "server01"]`},
		{`CertNameInfo([ec], "Nickname", False)`, `error: unknown X509NameType "Nickname"`},
		{`CertNameInfo([junk], "SimpleName", False)`, `error: not an X.509 certificate`},
		{`CertNameInfo([missing], "SimpleName", False)`, `NULL`},

		// Multi-valued input runs per value.
		{`CertThumbprint([certs])`, `["` + ecTP + `", "` + rsTP + `"]`},
		{`CertSubject([certs])`, `["CN=Jane Doe, OU=Sales, O=\"Contoso, Ltd\", C=US", "E=admin@contoso.com, DC=contoso, DC=com, CN=server01"]`},
		{`CertVersion([certs])`, `[3, 3]`},
		{`CertNotBefore([certs])`, `[dt 2024-01-02T03:04:05Z, dt 2023-06-01T00:00:00Z]`},
		{`CertExtensionOids([certs])`, `["2.5.29.15", "2.5.29.19"]`},
		{`Join(CertSerialNumber([certs]), ";")`, `"008F1234;1234"`},
		{`Where($c, [mixed], IsCert($c))`, `bin ` + hex.EncodeToString(ec)},

		// NULL in, NULL out; anything else that is not a certificate fails.
		{`CertThumbprint([missing])`, `NULL`},
		{`CertSubject([missing])`, `NULL`},
		{`CertThumbprint([junk])`, `error: CertThumbprint: argument 1: not an X.509 certificate`},
		{`CertSubject([name])`, `error: not an X.509 certificate`},
		{`CertVersion(42)`, `error: expected binary certificate data, got num`},
		{`CertThumbprint([mixed])`, `error: not an X.509 certificate`},
		{`CertFormat(CBin("not a cert"))`, `error: not an X.509 certificate`},
	}
	for _, tc := range cases {
		got := evalString(tc.src, env)
		ok := got == tc.want
		if strings.HasPrefix(tc.want, "error: ") {
			ok = strings.HasPrefix(got, "error: ") && strings.Contains(got, strings.TrimPrefix(tc.want, "error: "))
		}
		if !ok {
			t.Errorf("%s\n got: %s\nwant: %s", tc.src, got, tc.want)
		}
	}
}

// TestCertDNQuoting checks the .NET-style DN text for values needing quotes,
// unknown attribute types and non-string values.
func TestCertDNQuoting(t *testing.T) {
	rdns := pkix.RDNSequence{
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 6}, Value: "US"}},
		{
			{Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: `Say "hi"`},
			{Type: asn1.ObjectIdentifier{2, 5, 4, 11}, Value: " lead"},
		},
		{{Type: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: "x"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: 7}},
	}
	raw, err := asn1.Marshal(rdns)
	if err != nil {
		t.Fatal(err)
	}
	v, err := dnStr(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := `CN=#020107, OID.1.2.3.4=x, OU=" lead" + O="Say ""hi""", C=US` // a SET sorts by encoding
	if v.s != want {
		t.Errorf("got  %s\nwant %s", v.s, want)
	}
	if _, err := dnStr([]byte{0x31, 0x00}); err == nil {
		t.Error("a SET is not a DN")
	}
}
