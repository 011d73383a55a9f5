package file

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/idsync/idsync/model"
)

func TestLDIFParse(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		in   string
		want []*model.Object
	}{
		{
			name: "version, comments, folding, CRLF",
			in:   "# exported\r\nversion: 1\r\n\r\ndn: CN=Ann Lee,OU=IT,DC=x\r\nobjectClass: top\r\nobjectClass: user\r\n# a comment\r\n  that is folded\r\ndescription: a long value fol\r\n ded over\r\n  three lines\r\n\r\n\r\n",
			want: []*model.Object{{Anchor: "CN=Ann Lee,OU=IT,DC=x", DN: "CN=Ann Lee,OU=IT,DC=x", Type: "user", Attrs: model.Attrs{
				"objectClass": model.Str("top", "user"), "description": model.Str("a long value folded over three lines"),
			}}},
		},
		{
			name: "base64 DN and values, binary with NUL, options stripped",
			in:   "dn:: Q049Sm9zw6kgR2FyY8OtYSxEQz14\nobjectClass: contact\ncn:: Sm9zw6kgR2FyY8OtYQ==\nobjectGUID:: AAECAwAFBgcICQoLDA0ODw==\nuserCertificate;binary:: AP8=\n",
			want: []*model.Object{{Anchor: "CN=José García,DC=x", DN: "CN=José García,DC=x", Type: "contact", Attrs: model.Attrs{
				"objectClass":     model.Str("contact"),
				"cn":              model.Str("José García"),
				"objectGUID":      {Type: model.Binary, Values: []string{"\x00\x01\x02\x03\x00\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"}},
				"userCertificate": model.Str("\x00\xff"),
			}}},
		},
		{
			name: "anchor attribute, binary anchor base64, types, case-insensitive names, duplicate values",
			cfg:  Config{Anchor: "objectGUID", Types: map[string]string{"whenCreated": "datetime", "uac": "integer", "enabled": "boolean"}},
			in: `dn: CN=G,DC=x
objectClass: top
objectclass: groupOfNames
ObjectGUID:: AQID
member: CN=A,DC=x
Member: CN=B,DC=x
member: CN=A,DC=x
whenCreated: 20240102030405.0Z
uac: 0512
enabled: TRUE
empty:
`,
			want: []*model.Object{{Anchor: "AQID", DN: "CN=G,DC=x", Type: "group", Attrs: model.Attrs{
				"objectClass": model.Str("top", "groupOfNames"),
				"ObjectGUID":  {Type: model.Binary, Values: []string{"\x01\x02\x03"}},
				"member":      model.Ref("CN=A,DC=x", "CN=B,DC=x"),
				"whenCreated": {Type: model.DateTime, Values: []string{"2024-01-02T03:04:05Z"}},
				"uac":         {Type: model.Integer, Values: []string{"512"}},
				"enabled":     {Type: model.Boolean, Values: []string{"true"}},
				"empty":       model.Str(""),
			}}},
		},
		{
			name: "object type: last mapped class wins, else last class, else fixed",
			in:   "dn: CN=a\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: user\nobjectClass: extra\n\ndn: CN=b\nobjectClass: top\nobjectClass: organizationalUnit\n",
			want: []*model.Object{
				{Anchor: "CN=a", DN: "CN=a", Type: "user", Attrs: model.Attrs{"objectClass": model.Str("top", "person", "organizationalPerson", "user", "extra")}},
				{Anchor: "CN=b", DN: "CN=b", Type: "organizationalUnit", Attrs: model.Attrs{"objectClass": model.Str("top", "organizationalUnit")}},
			},
		},
		{
			name: "fixed object type, no objectClass needed",
			cfg:  Config{ObjectType: "employee", Anchor: "id"},
			in:   "dn: CN=a\nid: 7\n",
			want: []*model.Object{{Anchor: "7", DN: "CN=a", Type: "employee", Attrs: model.Attrs{"id": model.Str("7")}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSettings(t, tt.cfg)
			got, err := parse(s, []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%#v\nwant\n%#v", got, tt.want)
			}
			// Round trip: write, parse again, same objects.
			out := render(t, s, nil, got)
			again, err := parse(s, out)
			if err != nil {
				t.Fatalf("re-parse of\n%s: %v", out, err)
			}
			if !reflect.DeepEqual(byAnchor(again), byAnchor(got)) {
				t.Errorf("round trip changed the objects:\n%s", out)
			}
		})
	}
}

func TestLDIFErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		in   string
		want string
	}{
		{"changetype", Config{}, "dn: CN=a\nchangetype: modify\nreplace: cn\n", "people.ldif:2: changetype: change records are not supported"},
		{"URL value", Config{}, "version: 1\n\ndn: CN=a\nobjectClass: x\njpegPhoto:< file:///etc/passwd\n", "people.ldif:5: jpegPhoto: values read from URLs"},
		{"missing colon", Config{}, "dn: CN=a\nobjectClass: x\nbogus line\n", "people.ldif:3: missing ':'"},
		{"bad attribute name", Config{}, "dn: CN=a\nobjectClass: x\nbad name: v\n", "people.ldif:3: invalid attribute name \"bad name\""},
		{"bad base64", Config{}, "dn: CN=a\nobjectClass: x\ncn:: !!!\n", "people.ldif:3: cn: invalid base64"},
		{"no dn", Config{}, "objectClass: x\n", "people.ldif:1: expected a record starting with \"dn:\""},
		{"two dns", Config{}, "dn: CN=a\nobjectClass: x\ndn: CN=b\n", "people.ldif:3: second dn line"},
		{"continuation first", Config{}, " folded\n", "people.ldif:1: continuation line"},
		{"continuation after blank", Config{}, "dn: CN=a\nobjectClass: x\n\n folded\n", "people.ldif:4: continuation line"},
		{"version 2", Config{}, "version: 2\n", "people.ldif:1: unsupported LDIF version"},
		{"no objectClass", Config{}, "dn: CN=a\ncn: a\n", "people.ldif:1: \"CN=a\": the object has no objectClass"},
		{"empty DN as anchor", Config{}, "dn:\nobjectClass: x\n", "people.ldif:1: \"\": empty DN"},
		{"missing anchor", Config{Anchor: "employeeID"}, "dn: CN=a\nobjectClass: x\n\ndn: CN=b\nobjectClass: x\nemployeeID: 1\n\ndn: CN=c\nobjectClass: x\n", "people.ldif:1: \"CN=a\": no value for the anchor attribute \"employeeID\""},
		{"two anchor values", Config{Anchor: "id"}, "dn: CN=a\nobjectClass: x\nid: 1\nid: 2\n", "must have exactly one value, it has 2"},
		{"duplicate anchor", Config{Anchor: "id"}, "dn: CN=a\nobjectClass: x\nid: 1\n\ndn: CN=b\nobjectClass: x\nid: 1\n", "people.ldif:5: duplicate anchor \"1\" (first on line 1)"},
		{"duplicate DN", Config{Anchor: "id"}, "dn: CN=a\nobjectClass: x\nid: 1\n\ndn: cn=A\nobjectClass: x\nid: 2\n", "people.ldif:5: duplicate DN \"cn=A\" (first on line 1)"},
		{"bad integer", Config{Types: map[string]string{"n": "integer"}}, "dn: CN=a\nobjectClass: x\n\n\ndn: CN=b\nobjectClass: x\nn: 12x\n", "people.ldif:7: \"CN=b\": n: invalid integer \"12x\""},
		{"bad date", Config{Types: map[string]string{"d": "datetime"}}, "dn: CN=a\nobjectClass: x\nd: yesterday\n", "people.ldif:3: \"CN=a\": d: invalid date-time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(testSettings(t, tt.cfg), []byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestLDIFWrite(t *testing.T) {
	long := strings.Repeat("x", 100)
	tests := []struct {
		name string
		v    model.Values
		want string // the attribute's line(s)
	}{
		{"plain", model.Str("Ann Lee"), "cn: Ann Lee\n"},
		{"empty", model.Str(""), "cn:\n"},
		{"leading space", model.Str(" x"), "cn:: IHg=\n"},
		{"leading colon", model.Str(":x"), "cn:: Ong=\n"},
		{"leading <", model.Str("<x"), "cn:: PHg=\n"},
		{"trailing space", model.Str("x "), "cn:: eCA=\n"},
		{"non-ASCII", model.Str("Zoë"), "cn:: Wm/Dqw==\n"},
		{"newline", model.Str("a\nb"), "cn:: YQpi\n"},
		{"binary type, printable bytes", model.Values{Type: model.Binary, Values: []string{"abc"}}, "cn:: YWJj\n"},
		{"values in stored order", model.Str("b", "a"), "cn: b\ncn: a\n"},
		{"folded", model.Str(long), "cn: " + long[:72] + "\n " + long[72:] + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			o := &model.Object{DN: "CN=a", Attrs: model.Attrs{"cn": tt.v}}
			if err := writeLDIF(&b, slices.Values([]*model.Object{o})); err != nil {
				t.Fatal(err)
			}
			want := "version: 1\n\ndn: CN=a\n" + tt.want
			if b.String() != want {
				t.Errorf("got\n%q\nwant\n%q", b.String(), want)
			}
			for _, line := range strings.Split(b.String(), "\n") {
				if len(line) > ldifLineLen {
					t.Errorf("line longer than %d: %q", ldifLineLen, line)
				}
			}
		})
	}
}

func TestLDIFAttributeOrder(t *testing.T) {
	o := &model.Object{DN: "CN=a", Attrs: model.Attrs{"sn": model.Str("s"), "objectClass": model.Str("top", "user"), "cn": model.Str("c"), "Mail": model.Str("m")}}
	var b bytes.Buffer
	if err := writeLDIF(&b, slices.Values([]*model.Object{o})); err != nil {
		t.Fatal(err)
	}
	want := "version: 1\n\ndn: CN=a\nobjectClass: top\nobjectClass: user\nMail: m\ncn: c\nsn: s\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	o.Attrs["bad name"] = model.Str("x")
	if err := writeLDIF(&bytes.Buffer{}, slices.Values([]*model.Object{o})); err == nil {
		t.Error("invalid attribute name written")
	}
}

func TestDNSortKey(t *testing.T) {
	dns := []string{"CN=b,OU=IT,DC=x", "DC=x", "CN=Smith\\, Ann,OU=IT,DC=x", "OU=IT,DC=x", "OU=HR,DC=x", "CN=a,OU=HR,DC=x"}
	s := testSettings(t, Config{ObjectType: "x", Anchor: "id"})
	var objs []*model.Object
	for i, dn := range dns {
		objs = append(objs, &model.Object{DN: dn, Anchor: string(rune('0' + i)), Attrs: model.Attrs{}})
	}
	img := newImage(s)
	for _, o := range objs {
		img.put(o)
	}
	var got []string
	for o := range img.sorted() {
		got = append(got, o.DN)
	}
	want := []string{"DC=x", "OU=HR,DC=x", "CN=a,OU=HR,DC=x", "OU=IT,DC=x", "CN=b,OU=IT,DC=x", "CN=Smith\\, Ann,OU=IT,DC=x"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
