package sqlite

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

func codecCS() []*store.CSObject {
	full := benchUser(7, uuid.NewString)
	full.Partition = "DC=p"
	full.MVID = "mv"
	full.Object.DN = "CN=x\x00\xff"
	full.LinkRule = "r"
	full.Provisioned, full.Placeholder, full.Deleted = true, true, true
	full.Unconfirmed = []string{}
	full.Object.Attrs["empty"] = model.Values{Type: model.Reference, Values: []string{}}
	full.Object.Attrs["nil"] = model.Values{Type: model.DateTime}
	full.Object.Attrs["bin"] = model.Values{Type: model.Binary, Values: []string{"\x00", "\xff\xfe", ""}}
	full.Modified = time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)
	full.Pending = &store.PendingExport{ID: "p", Op: connector.OpRename, NewDN: "x", State: store.ExportSending,
		Attempts: -2, MayExist: true, Error: "e", Created: time.Date(2300, 1, 1, 0, 0, 0, 999999999, time.UTC), Rule: "r",
		Changes: []connector.AttrChange{{Name: "a", Mode: connector.DelVals, Type: model.Boolean, Values: []string{}}, {}},
	}
	return []*store.CSObject{
		full,
		{},
		{Object: model.Object{Attrs: model.Attrs{}}, Unconfirmed: []string{}, Pending: &store.PendingExport{Changes: []connector.AttrChange{}}},
	}
}

// TestCodecExact checks that the blob encoding round-trips exactly, down to
// nil versus empty slices and maps.
func TestCodecExact(t *testing.T) {
	for i, want := range codecCS() {
		got, err := decodeCS(string(encodeCS(nil, want)))
		if err != nil {
			t.Fatalf("cs %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("cs %d:\n got %#v\nwant %#v", i, got, want)
		}
	}
	mvs := []*store.MVObject{
		{ID: "m", Type: "person", Attrs: benchUser(1, uuid.NewString).Object.Attrs, Modified: time.Unix(-5, 3).UTC(),
			Lineage: store.NewLineage(map[string]store.Contribution{"a": {Rule: "r", Connector: "c", CSID: "x", Precedence: -9}})},
		{},
		{Attrs: model.Attrs{}, Lineage: store.NewLineage(map[string]store.Contribution{})},
	}
	for i, want := range mvs {
		got, err := decodeMV(string(encodeMV(nil, want)))
		if err != nil {
			t.Fatalf("mv %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("mv %d:\n got %#v\nwant %#v", i, got, want)
		}
	}
}

func TestCodecCorrupt(t *testing.T) {
	blob := encodeCS(nil, codecCS()[0])
	for _, data := range [][]byte{nil, {}, {99}, blob[:len(blob)-1], append(blob, 0)} {
		if _, err := decodeCS(string(data)); !errors.Is(err, errCorrupt) {
			t.Errorf("decodeCS(%d bytes) = %v, want errCorrupt", len(data), err)
		}
	}
}

// FuzzDecodeCS checks that no input makes the decoder panic or allocate
// without bound.
func FuzzDecodeCS(f *testing.F) {
	for _, o := range codecCS() {
		f.Add(encodeCS(nil, o))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		decodeCS(string(data))
		decodeMV(string(data))
		blobID(string(data), true)
	})
}

func BenchmarkDecodeCS(b *testing.B) {
	blob := string(encodeCS(nil, benchUser(1, uuid.NewString)))
	b.ReportAllocs()
	for range b.N {
		if _, err := decodeCS(blob); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeCS(b *testing.B) {
	o := benchUser(1, uuid.NewString)
	var buf []byte
	b.ReportAllocs()
	for range b.N {
		buf = encodeCS(buf[:0], o)
	}
	b.ReportMetric(float64(len(buf)), "bytes")
}
