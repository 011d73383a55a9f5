package codec

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// The exhaustive codec tests (exact round trips, corrupt input, fuzzing)
// are store/sqlite's codec_test.go, which runs this code; these check the
// exported entry points.

func TestRoundTrip(t *testing.T) {
	cs := &store.CSObject{ID: "cs\x00", Connector: "ad", MVID: "mv", SyncPending: true,
		Object:   model.Object{Anchor: "\x00\xff", DN: "CN=a", Attrs: model.Attrs{"b": {Type: model.Binary, Values: []string{"\xfe"}}}},
		Pending:  &store.PendingExport{ID: "p", Op: connector.OpAdd, State: store.ExportSending, MayExist: true},
		Modified: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)}
	got, err := DecodeCS(string(EncodeCS(nil, cs)))
	if err != nil || !reflect.DeepEqual(got, cs) {
		t.Fatalf("DecodeCS = %#v, %v; want %#v", got, err, cs)
	}
	if id, err := BlobID(string(EncodeCS(nil, cs)), true); err != nil || id != cs.ID {
		t.Fatalf("BlobID(cs) = %q, %v", id, err)
	}
	mv := &store.MVObject{ID: "m", Type: "person", Attrs: model.Attrs{"x": model.Str("y")},
		Lineage: store.NewLineage(map[string]store.Contribution{"x": {Rule: "r", Connector: "ad", CSID: "cs", Precedence: -1}})}
	gotMV, err := DecodeMV(string(EncodeMV(nil, mv)))
	if err != nil || !reflect.DeepEqual(gotMV, mv) {
		t.Fatalf("DecodeMV = %#v, %v; want %#v", gotMV, err, mv)
	}
	if id, err := BlobID(string(EncodeMV(nil, mv)), false); err != nil || id != mv.ID {
		t.Fatalf("BlobID(mv) = %q, %v", id, err)
	}
	for _, bad := range []string{"", "\x02", string(EncodeMV(nil, mv)) + "x", string(EncodeCS(nil, cs))[:10]} {
		if _, err := DecodeCS(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("DecodeCS(%q) = %v, want ErrCorrupt", bad, err)
		}
	}
}
