package sqlite

import (
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/internal/codec"
)

// The data column holds the encoding of package codec, shared with the
// postgres backend (an object moves between the two unchanged).

func encodeCS(buf []byte, o *store.CSObject) []byte { return codec.EncodeCS(buf, o) }
func decodeCS(data string) (*store.CSObject, error) { return codec.DecodeCS(data) }
func encodeMV(buf []byte, o *store.MVObject) []byte { return codec.EncodeMV(buf, o) }
func decodeMV(data string) (*store.MVObject, error) { return codec.DecodeMV(data) }
func blobID(data string, cs bool) (string, error)   { return codec.BlobID(data, cs) }

var errCorrupt = codec.ErrCorrupt
