package expr

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Certificate functions (CertThumbprint, CertSubject, …, IsCert).
//
// The argument is the raw data of an X.509 certificate, as AD stores it in
// userCertificate: a bin value holding the DER bytes. As the Functions
// Reference allows, the data may also be Base64-encoded X.509 data, with or
// without the PEM "-----BEGIN CERTIFICATE-----" armour, given either as bin
// or as str. Every function runs on each value of a multi-valued argument
// (mvbin userCertificate gives one result per certificate; the lists that
// CertExtensionOids returns are joined into one list). A NULL argument gives
// NULL (IsCert: False).
//
// The reference describes the functions in a line each; where it is vague
// they behave like the .NET X509Certificate2 member that the original
// implementation wraps:
//
//   - CertFormat: X509Certificate.GetFormat(), always "X509".
//   - CertFriendlyName: FriendlyName is a property of a certificate store
//     entry, not of the DER data, so it is always "" (as .NET returns for a
//     certificate loaded from bytes).
//   - CertHashString, CertThumbprint: GetCertHashString() and Thumbprint, the
//     SHA-1 hash of the DER encoding in upper-case hex (40 characters).
//   - CertIssuer, CertIssuerDN, CertSubject, CertSubjectNameDN: Issuer,
//     IssuerName.Name, Subject and SubjectName.Name, which .NET formats the
//     same way (X500DistinguishedNameFlags.Reversed): the most specific RDN
//     first, ", " between RDNs, " + " inside a multi-valued RDN, the
//     CryptoAPI short names (CN, OU, O, L, S, C, E, DC, STREET, …) and
//     "OID.1.2.3=" for other attribute types, values that are empty, start
//     or end with white space or contain , + = " < > # ; or a newline in
//     double quotes (inner quotes doubled), and values that are not strings
//     as # and the hex of their DER encoding.
//   - CertIssuerOid, CertSubjectNameOid: IssuerName.Oid and SubjectName.Oid.
//     A distinguished name read from a certificate carries no OID in .NET
//     (X500DistinguishedName is built with an empty Oid), so these give NULL.
//   - CertKeyAlgorithm, CertPublicKeyOid: GetKeyAlgorithm() and
//     PublicKey.Oid, the OID of the subject public key algorithm
//     ("1.2.840.113549.1.1.1" for RSA, "1.2.840.10045.2.1" for EC).
//   - CertKeyAlgorithmParams: GetKeyAlgorithmParametersString(), the DER
//     encoding of the algorithm parameters in upper-case hex ("0500" for
//     RSA, "06082A8648CE3D030107" for EC P-256, "" when absent).
//   - CertPublicKeyParametersOid: the reference says "the Oid of the public
//     key parameters"; the parameters have an OID when they are one (the
//     named curve of an EC key: "1.2.840.10045.3.1.7" for P-256), which is
//     returned; otherwise (RSA's NULL parameters, absent parameters) NULL.
//     .NET's PublicKey.EncodedParameters.Oid would repeat the key algorithm
//     OID, which says nothing about the parameters.
//   - CertSerialNumber: SerialNumber, the serial number's DER content bytes
//     in upper-case hex, big-endian, keeping a leading 00 byte.
//   - CertSignatureAlgorithmOid: SignatureAlgorithm.Value.
//   - CertNotAfter, CertNotBefore: NotAfter and NotBefore as dt values. The
//     reference says "in local time", but dt values are UTC by definition,
//     so the instant is returned in UTC.
//   - CertVersion: Version, the X.509 version number (1, 2 or 3) as num.
//   - CertExtensionOids: as the reference says, the OIDs of the critical
//     extensions, in certificate order; NULL when there is none.
//   - CertNameInfo(cert, nameType, includesIssuerName): GetNameInfo. The
//     name type is one of SimpleName, EmailName, UpnName, DnsName,
//     DnsFromAlternativeName, UrlName (any case) or its X509NameType number
//     0 to 5; includesIssuerName (default False) reads the issuer name and
//     the issuer alternative name instead of the subject's. As CryptoAPI's
//     CertGetNameString: SimpleName is the most specific CN, else OU, O or
//     E of the name, else the first rfc822Name of the alternative name;
//     EmailName the first rfc822Name, else the E (emailAddress) attribute;
//     UpnName the first otherName of type 1.3.6.1.4.1.311.20.2.3 (UPN);
//     DnsName the first dNSName, else the CN; DnsFromAlternativeName the
//     first dNSName only; UrlName the first uniformResourceIdentifier. No
//     match gives "" as in .NET.
//   - IsCert: True when the value parses as a certificate, False otherwise
//     (never an error).
//
// Any other function given data that is not a certificate fails with an
// evaluation error.
func init() {
	register(
		fixed("IsCert", 1, 1, true, func(_ *ctx, a []value) (value, error) {
			_, err := certOf(a[0])
			return boolean(err == nil), nil
		}),
		certFn("CertFormat", func(*cert) (value, error) { return str("X509"), nil }),
		certFn("CertFriendlyName", func(*cert) (value, error) { return emptyStr, nil }),
		certFn("CertHashString", func(c *cert) (value, error) { return str(c.thumbprint()), nil }),
		certFn("CertThumbprint", func(c *cert) (value, error) { return str(c.thumbprint()), nil }),
		certFn("CertIssuer", func(c *cert) (value, error) { return dnStr(c.RawIssuer) }),
		certFn("CertIssuerDN", func(c *cert) (value, error) { return dnStr(c.RawIssuer) }),
		certFn("CertSubject", func(c *cert) (value, error) { return dnStr(c.RawSubject) }),
		certFn("CertSubjectNameDN", func(c *cert) (value, error) { return dnStr(c.RawSubject) }),
		certFn("CertIssuerOid", func(*cert) (value, error) { return null, nil }),
		certFn("CertSubjectNameOid", func(*cert) (value, error) { return null, nil }),
		certFn("CertKeyAlgorithm", func(c *cert) (value, error) {
			return str(c.spki.Algorithm.Algorithm.String()), nil
		}),
		certFn("CertPublicKeyOid", func(c *cert) (value, error) {
			return str(c.spki.Algorithm.Algorithm.String()), nil
		}),
		certFn("CertKeyAlgorithmParams", func(c *cert) (value, error) {
			return str(strings.ToUpper(hex.EncodeToString(c.spki.Algorithm.Parameters.FullBytes))), nil
		}),
		certFn("CertPublicKeyParametersOid", func(c *cert) (value, error) {
			var oid asn1.ObjectIdentifier
			p := c.spki.Algorithm.Parameters.FullBytes
			if len(p) == 0 {
				return null, nil
			}
			if rest, err := asn1.Unmarshal(p, &oid); err != nil || len(rest) > 0 {
				return null, nil //nolint:nilerr // parameters that are not an OID (RSA's NULL) give NULL, by design
			}
			return str(oid.String()), nil
		}),
		certFn("CertSerialNumber", func(c *cert) (value, error) {
			return str(strings.ToUpper(hex.EncodeToString(c.tbs.Serial.Bytes))), nil
		}),
		certFn("CertSignatureAlgorithmOid", func(c *cert) (value, error) {
			return str(c.sigAlg.Algorithm.String()), nil
		}),
		certFn("CertNotAfter", func(c *cert) (value, error) { return date(c.NotAfter), nil }),
		certFn("CertNotBefore", func(c *cert) (value, error) { return date(c.NotBefore), nil }),
		certFn("CertVersion", func(c *cert) (value, error) { return num(int64(c.Version)), nil }),
		certFn("CertExtensionOids", func(c *cert) (value, error) {
			var out []value
			for _, e := range c.Extensions {
				if e.Critical {
					out = append(out, str(e.Id.String()))
				}
			}
			return list(out), nil
		}),
		fixed("CertNameInfo", 2, 3, true, func(_ *ctx, a []value) (value, error) {
			if a[0].isNull() {
				return null, nil
			}
			c, err := certOf(a[0])
			if err != nil {
				return null, fmt.Errorf("argument 1: %w", err)
			}
			t, err := argStr(a, 1)
			if err != nil {
				return null, err
			}
			nt, ok := nameTypeOf(t)
			if !ok {
				return null, fmt.Errorf("argument 2: unknown X509NameType %q (want SimpleName, EmailName, UpnName, DnsName, DnsFromAlternativeName or UrlName)", t)
			}
			issuer := false
			if len(a) > 2 {
				if issuer, err = argBool(a, 2); err != nil {
					return null, err
				}
			}
			s, err := c.nameInfo(nt, issuer)
			if err != nil {
				return null, fmt.Errorf("argument 1: %w", err)
			}
			return str(s), nil
		}),
	)
}

// certFn makes a one-argument, per-value certificate function; NULL gives
// NULL.
func certFn(name string, f func(c *cert) (value, error)) *fnSpec {
	return fixed(name, 1, 1, true, func(_ *ctx, a []value) (value, error) {
		if a[0].isNull() {
			return null, nil
		}
		c, err := certOf(a[0])
		if err != nil {
			return null, fmt.Errorf("argument 1: %w", err)
		}
		return f(c)
	})
}

// cert is a parsed certificate with the parts crypto/x509 does not keep in
// their raw form.
type cert struct {
	*x509.Certificate
	tbs    tbsPrefix
	spki   spkiInfo
	sigAlg algID
}

type algID struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type spkiInfo struct {
	Algorithm algID
	PublicKey asn1.BitString
}

// tbsPrefix is the start of a TBSCertificate (encoding/asn1 ignores the
// elements after the last field).
type tbsPrefix struct {
	Version int `asn1:"optional,explicit,default:0,tag:0"`
	Serial  asn1.RawValue
}

type certOuter struct {
	TBS    asn1.RawValue
	SigAlg algID
}

var errNotCert = errors.New("not an X.509 certificate")

// certOf parses a bin or str value holding DER, PEM or Base64 certificate
// data.
func certOf(v value) (*cert, error) {
	if v.k != kBin && v.k != kStr {
		return nil, fmt.Errorf("%w: expected binary certificate data, got %s", errNotCert, v.k)
	}
	x, err := x509.ParseCertificate([]byte(v.s))
	if err != nil {
		// Not DER: Base64 or PEM text.
		der, derr := certText([]byte(v.s))
		if derr != nil {
			return nil, fmt.Errorf("%w: %w", errNotCert, err)
		}
		if x, err = x509.ParseCertificate(der); err != nil {
			return nil, fmt.Errorf("%w: %w", errNotCert, err)
		}
	}
	c := &cert{Certificate: x}
	var outer certOuter
	if _, err := asn1.Unmarshal(x.Raw, &outer); err != nil {
		return nil, fmt.Errorf("%w: %w", errNotCert, err)
	}
	c.sigAlg = outer.SigAlg
	if _, err := asn1.Unmarshal(x.RawTBSCertificate, &c.tbs); err != nil {
		return nil, fmt.Errorf("%w: %w", errNotCert, err)
	}
	if _, err := asn1.Unmarshal(x.RawSubjectPublicKeyInfo, &c.spki); err != nil {
		return nil, fmt.Errorf("%w: %w", errNotCert, err)
	}
	return c, nil
}

// certText decodes a PEM CERTIFICATE block or Base64 text.
func certText(b []byte) ([]byte, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "CERTIFICATE" && blk.Type != "X509 CERTIFICATE" {
			return nil, fmt.Errorf("PEM block of type %q", blk.Type)
		}
		return blk.Bytes, nil
	}
	text := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, string(b))
	if text == "" {
		return nil, errors.New("empty value")
	}
	return base64.StdEncoding.DecodeString(text)
}

func (c *cert) thumbprint() string {
	h := sha1.Sum(c.Raw)
	return strings.ToUpper(hex.EncodeToString(h[:]))
}

// Distinguished names.

type certATV struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// certRDNSET is one RDN; the SET suffix makes encoding/asn1 read a SET.
type certRDNSET []certATV

type certRDNs []certRDNSET

// x500Names are the CryptoAPI short names of attribute types.
var x500Names = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.4":                    "SN",
	"2.5.4.5":                    "SERIALNUMBER",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "S",
	"2.5.4.9":                    "STREET",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.12":                   "T",
	"2.5.4.17":                   "PostalCode",
	"2.5.4.42":                   "G",
	"2.5.4.43":                   "I",
	"2.5.4.46":                   "dnQualifier",
	"1.2.840.113549.1.9.1":       "E",
	"0.9.2342.19200300.100.1.25": "DC",
}

const (
	oidCN    = "2.5.4.3"
	oidOU    = "2.5.4.11"
	oidO     = "2.5.4.10"
	oidEmail = "1.2.840.113549.1.9.1"
)

func parseRDNs(raw []byte) (certRDNs, error) {
	var rdns certRDNs
	rest, err := asn1.Unmarshal(raw, &rdns)
	if err != nil {
		return nil, fmt.Errorf("bad distinguished name: %w", err)
	}
	if len(rest) > 0 {
		return nil, errors.New("bad distinguished name: trailing data")
	}
	return rdns, nil
}

func dnStr(raw []byte) (value, error) {
	rdns, err := parseRDNs(raw)
	if err != nil {
		return null, err
	}
	var sb strings.Builder
	for i := len(rdns) - 1; i >= 0; i-- {
		if sb.Len() > 0 {
			sb.WriteString(", ")
		}
		for j, atv := range rdns[i] {
			if j > 0 {
				sb.WriteString(" + ")
			}
			oid := atv.Type.String()
			if n, ok := x500Names[oid]; ok {
				sb.WriteString(n)
			} else {
				sb.WriteString("OID." + oid)
			}
			sb.WriteByte('=')
			if s, ok := asn1Text(atv.Value); ok {
				sb.WriteString(quoteRDN(s))
			} else {
				sb.WriteString("#" + strings.ToUpper(hex.EncodeToString(atv.Value.FullBytes)))
			}
		}
	}
	return str(sb.String()), nil
}

// quoteRDN quotes a value as .NET's X500 name encoder does.
func quoteRDN(s string) string {
	ws := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	if s != "" && !ws(s[0]) && !ws(s[len(s)-1]) && !strings.ContainsAny(s, ",+=\"\n<>#;") {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// asn1Text decodes a universal string type.
func asn1Text(v asn1.RawValue) (string, bool) {
	if v.Class != asn1.ClassUniversal {
		return "", false
	}
	b := v.Bytes
	switch v.Tag {
	case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String, asn1.TagNumericString, 26: // VisibleString
		return string(b), true
	case asn1.TagT61String: // read as Latin-1, as CryptoAPI does
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return string(r), true
	case asn1.TagBMPString:
		if len(b)%2 != 0 {
			return "", false
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = binary.BigEndian.Uint16(b[2*i:])
		}
		return string(utf16.Decode(u)), true
	case 28: // UniversalString
		if len(b)%4 != 0 {
			return "", false
		}
		r := make([]rune, len(b)/4)
		for i := range r {
			r[i] = rune(binary.BigEndian.Uint32(b[4*i:]))
		}
		return string(r), true
	}
	return "", false
}

// lastAttr returns the value of the most specific attribute of type oid.
func lastAttr(rdns certRDNs, oid string) (string, bool) {
	for i := len(rdns) - 1; i >= 0; i-- {
		for j := len(rdns[i]) - 1; j >= 0; j-- {
			if atv := rdns[i][j]; atv.Type.String() == oid {
				if s, ok := asn1Text(atv.Value); ok {
					return s, true
				}
			}
		}
	}
	return "", false
}

// Alternative names and CertNameInfo.

// X509NameType values.
const (
	ntSimple = iota
	ntEmail
	ntUPN
	ntDNS
	ntDNSAlt
	ntURL
)

var nameTypes = []string{"SimpleName", "EmailName", "UpnName", "DnsName", "DnsFromAlternativeName", "UrlName"}

func nameTypeOf(s string) (int, bool) {
	s = strings.TrimSpace(s)
	for i, n := range nameTypes {
		if strings.EqualFold(s, n) {
			return i, true
		}
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n < len(nameTypes) {
		return n, true
	}
	return 0, false
}

var (
	oidSAN = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidIAN = asn1.ObjectIdentifier{2, 5, 29, 18}
	oidUPN = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}
)

// GeneralName tags (context-specific).
const (
	gnOther  = 0
	gnRFC822 = 1
	gnDNS    = 2
	gnURI    = 6
)

// altName returns the first name of the given GeneralName tag in the
// subject (or issuer) alternative name extension; for otherName, the first
// UPN.
func (c *cert) altName(issuer bool, tag int) (string, bool, error) {
	id := oidSAN
	if issuer {
		id = oidIAN
	}
	for _, e := range c.Extensions {
		if !e.Id.Equal(id) {
			continue
		}
		var seq asn1.RawValue
		if _, err := asn1.Unmarshal(e.Value, &seq); err != nil {
			return "", false, fmt.Errorf("bad alternative name extension: %w", err)
		}
		rest := seq.Bytes
		for len(rest) > 0 {
			var gn asn1.RawValue
			var err error
			if rest, err = asn1.Unmarshal(rest, &gn); err != nil {
				return "", false, fmt.Errorf("bad alternative name: %w", err)
			}
			if gn.Class != asn1.ClassContextSpecific || gn.Tag != tag {
				continue
			}
			if tag != gnOther {
				return string(gn.Bytes), true, nil
			}
			if s, ok := upnOf(gn.Bytes); ok {
				return s, true, nil
			}
		}
	}
	return "", false, nil
}

// upnOf reads the content of an otherName: type-id, [0] EXPLICIT value.
func upnOf(b []byte) (string, bool) {
	var oid asn1.ObjectIdentifier
	rest, err := asn1.Unmarshal(b, &oid)
	if err != nil || !oid.Equal(oidUPN) {
		return "", false
	}
	var wrap, inner asn1.RawValue
	if _, err := asn1.Unmarshal(rest, &wrap); err != nil || wrap.Class != asn1.ClassContextSpecific || wrap.Tag != 0 {
		return "", false
	}
	if _, err := asn1.Unmarshal(wrap.Bytes, &inner); err != nil {
		return "", false
	}
	return asn1Text(inner)
}

func (c *cert) nameInfo(nt int, issuer bool) (string, error) {
	raw := c.RawSubject
	if issuer {
		raw = c.RawIssuer
	}
	rdns, err := parseRDNs(raw)
	if err != nil {
		return "", err
	}
	alt := func(tag int) (string, bool, error) { return c.altName(issuer, tag) }
	switch nt {
	case ntSimple:
		for _, oid := range []string{oidCN, oidOU, oidO, oidEmail} {
			if s, ok := lastAttr(rdns, oid); ok {
				return s, nil
			}
		}
		s, _, err := alt(gnRFC822)
		return s, err
	case ntEmail:
		if s, ok, err := alt(gnRFC822); ok || err != nil {
			return s, err
		}
		s, _ := lastAttr(rdns, oidEmail)
		return s, nil
	case ntUPN:
		s, _, err := alt(gnOther)
		return s, err
	case ntDNS:
		if s, ok, err := alt(gnDNS); ok || err != nil {
			return s, err
		}
		s, _ := lastAttr(rdns, oidCN)
		return s, nil
	case ntDNSAlt:
		s, _, err := alt(gnDNS)
		return s, err
	case ntURL:
		s, _, err := alt(gnURI)
		return s, err
	}
	return "", nil
}
