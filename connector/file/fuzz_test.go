package file

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/idsync/idsync/model"
)

// roundTrip checks that data, when it parses, writes to a file that parses
// to the same objects and is written again byte for byte the same.
func roundTrip(t *testing.T, s *settings, data []byte) {
	objs, err := parse(s, data)
	if err != nil {
		return
	}
	res, _ := s.scanReader(t.Context(), bytes.NewReader(data), func(*model.Object) error { return nil })
	out := render(t, s, res.header, objs)
	again, err := parse(s, out)
	if err != nil {
		t.Fatalf("written output does not parse: %v\ninput:\n%q\noutput:\n%q", err, data, out)
	}
	if !reflect.DeepEqual(byAnchor(again), byAnchor(objs)) {
		t.Fatalf("round trip changed the objects\ninput:\n%q\noutput:\n%q\nbefore: %#v\nafter:  %#v", data, out, objs, again)
	}
	res2, _ := s.scanReader(t.Context(), bytes.NewReader(out), func(*model.Object) error { return nil })
	if out2 := render(t, s, res2.header, again); !bytes.Equal(out, out2) {
		t.Fatalf("second write differs:\n%q\n%q", out, out2)
	}
}

func FuzzParseLDIF(f *testing.F) {
	for _, seed := range []string{
		baseLDIF,
		"version: 1\n\ndn: CN=a\nobjectClass: user\ncn: a\n",
		"# c\ndn:: Q049Sm9zw6k=\nobjectClass: contact\nobjectGUID:: AAECAw==\ndescription: fol\n ded\n",
		"dn: CN=a\r\nobjectClass: top\r\nobjectclass: group\r\nmember: CN=b\r\nMember: CN=c\r\ncn;lang-en: x\r\n\r\n",
		"dn: CN=a\nobjectClass: x\nempty:\n\n\n\ndn: CN=b\nobjectClass: y\n",
		"dn: CN=a\nchangetype: add\n",
	} {
		f.Add([]byte(seed))
	}
	dnAnchor := testSettings(f, Config{})
	attrAnchor := testSettings(f, Config{Anchor: "objectGUID", Types: map[string]string{"n": "integer", "d": "datetime", "b": "boolean"}})
	f.Fuzz(func(t *testing.T, data []byte) {
		roundTrip(t, dnAnchor, data)
		roundTrip(t, attrAnchor, data)
	})
}

func FuzzParseCSV(f *testing.F) {
	for _, seed := range []string{
		"id,mail,proxy\n1,a@x,p1;p2\n2,,\n",
		"\uFEFFid,dn,kind,photo\n1,\"CN=a\\, b\",user,AAEC\n2,CN=c,,\n",
		"id,note\n1,\"multi\nline, \"\"quoted\"\"\"\n",
		"id\n1\n1\n",
		"id,x\n1\n",
	} {
		f.Add([]byte(seed))
	}
	s := testSettings(f, Config{Format: FormatCSV, Anchor: "id", DNColumn: "dn", ObjectTypeColumn: "kind", Types: map[string]string{"photo": "binary", "n": "integer"}})
	f.Fuzz(func(t *testing.T, data []byte) {
		roundTrip(t, s, data)
	})
}
