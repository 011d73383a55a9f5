package file

import (
	"bytes"
	"context"
	"hash/maphash"
	"io"
	"iter"
	"slices"
	"strings"
	"unsafe"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// image is the content of a file held in memory while exports are applied
// to it: the file as read, with the ops of its journal replayed.
type image struct {
	s      *settings
	header []string // CSV header the file has, or will have once written
	// recs holds each object encoded (record.go), free the numbers of the
	// records removed ("" in recs), for objects added later.
	recs []string
	free []uint32
	// byAnchor and byDN index the records by anchor key and by the key of
	// their DN (dnKey), through hashes: every lookup checks the record it
	// finds, so the indexes are exact, and they hold neither the keys nor
	// a lower-cased copy of every DN.
	byAnchor, byDN recIndex
	seed           maphash.Seed
	// hashMask is ANDed to the hashes: all ones, except in tests that make
	// keys clash.
	hashMask uint64
	buf      []byte    // a lower-cased DN to hash
	attrs    attrTable // the attribute names of the records
	// stale is set when the journal replayed over the file was not written
	// for it (the file was changed by something else): the image must be
	// written before more ops are journaled.
	stale bool
}

// load reads the whole file into an image.
func (s *settings) load(ctx context.Context) (*image, scanResult, error) {
	img := newImage(s)
	res, err := s.scan(ctx, func(o *model.Object) error {
		img.put(o)
		return nil
	})
	img.header = res.header
	return img, res, err
}

// newImage returns an empty image of the file of s.
func newImage(s *settings) *image {
	return &image{s: s, seed: maphash.MakeSeed(), hashMask: ^uint64(0)}
}

// len returns the number of objects.
func (img *image) len() int { return img.byAnchor.n }

// lookup returns the number of the record of the object with the anchor
// key k.
func (img *image) lookup(k string) (uint32, bool) {
	// When the anchor is the DN, k is its dnKey, which hashes as the DN
	// does (lower-casing it again changes nothing).
	return img.byAnchor.find(img.hashAnchor(k), func(r uint32) bool {
		a, _ := recordKeys(img.recs[r])
		if img.s.anchor == "" {
			return sameDNKey(a, k)
		}
		return a == k
	})
}

// hashAnchor returns the hash of the anchor key of anchor (or of the key
// itself) in byAnchor.
func (img *image) hashAnchor(anchor string) uint64 {
	if img.s.anchor == "" {
		return img.hashDN(anchor)
	}
	return maphash.String(img.seed, anchor) & img.hashMask
}

// has reports whether there is an object with the anchor key k.
func (img *image) has(k string) bool {
	_, ok := img.lookup(k)
	return ok
}

// get returns the object with the anchor key k, decoded (nil when none).
func (img *image) get(k string) *model.Object {
	r, ok := img.lookup(k)
	if !ok {
		return nil
	}
	o, err := img.attrs.decode(img.recs[r])
	if err != nil {
		panic(err) // the image encoded it: a bug, not input
	}
	return o
}

// anchorOf returns the anchor of the object with the anchor key k.
func (img *image) anchorOf(k string) string {
	r, ok := img.lookup(k)
	if !ok {
		return ""
	}
	a, _ := recordKeys(img.recs[r])
	return a
}

// hashDN returns the hash of dnKey(dn) in byDN.
func (img *image) hashDN(dn string) uint64 {
	if !isASCII(dn) {
		return maphash.String(img.seed, dnKey(dn)) & img.hashMask
	}
	b := img.buf[:0]
	for i := 0; i < len(dn); i++ {
		c := dn[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	img.buf = b
	return maphash.Bytes(img.seed, b) & img.hashMask
}

// sameDNKey reports whether dnKey(a) == dnKey(b), without copying ASCII
// DNs.
func sameDNKey(a, b string) bool {
	if isASCII(a) && isASCII(b) {
		return strings.EqualFold(a, b)
	}
	return dnKey(a) == dnKey(b)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// lookupDN returns the anchor key of the object whose DN has the key of
// dn's.
func (img *image) lookupDN(dn string) (string, bool) {
	r, ok := img.byDN.find(img.hashDN(dn), func(r uint32) bool {
		_, d := recordKeys(img.recs[r])
		return sameDNKey(d, dn)
	})
	if !ok {
		return "", false
	}
	a, _ := recordKeys(img.recs[r])
	return img.s.anchorKey(a), true
}

// put adds o. An object with its anchor key is replaced, and one with the
// key of its DN is no longer found by DN (callers check both first).
func (img *image) put(o *model.Object) {
	img.remove(o)
	if o.DN != "" {
		h := img.hashDN(o.DN)
		if r, ok := img.byDN.find(h, func(r uint32) bool {
			_, d := recordKeys(img.recs[r])
			return sameDNKey(d, o.DN)
		}); ok {
			img.byDN.remove(h, r)
		}
	}
	rec := img.attrs.encode(o)
	var r uint32
	if n := len(img.free); n > 0 {
		r = img.free[n-1]
		img.free = img.free[:n-1]
		img.recs[r] = rec
	} else {
		r = uint32(len(img.recs))
		img.recs = append(img.recs, rec)
	}
	img.byAnchor.insert(img.hashAnchor(o.Anchor), r)
	if o.DN != "" {
		img.byDN.insert(img.hashDN(o.DN), r)
	}
}

// remove removes the object with the anchor key of o's anchor, if any.
func (img *image) remove(o *model.Object) {
	r, ok := img.lookup(img.s.anchorKey(o.Anchor))
	if !ok {
		return
	}
	a, dn := recordKeys(img.recs[r])
	img.byAnchor.remove(img.hashAnchor(a), r)
	if dn != "" {
		img.byDN.remove(img.hashDN(dn), r) // unless put dropped it
	}
	img.recs[r] = ""
	img.free = append(img.free, r)
}

// find returns the object an op addresses: by anchor, else by DN.
func (img *image) find(op connector.ExportOp) *model.Object {
	if op.Anchor != "" {
		return img.get(img.s.anchorKey(op.Anchor))
	}
	if op.DN != "" {
		if k, ok := img.lookupDN(op.DN); ok {
			return img.get(k)
		}
	}
	return nil
}

// sortedRecords returns the records of the objects ordered by DN (parents
// first, see dnSortKey), objects without DN by anchor. It sorts the records
// themselves, comparing sort keys built as they are compared (sortKeys),
// rather than a copy of every object's sort key: at a million objects those
// copies cost about as much memory as the records.
func (img *image) sortedRecords() []string {
	recs := make([]string, 0, img.len())
	for _, rec := range img.recs {
		if rec != "" {
			recs = append(recs, rec)
		}
	}
	var ks sortKeys
	slices.SortFunc(recs, ks.compare)
	return recs
}

// sorted returns the objects in the order of sortedRecords, each decoded as
// it is reached.
func (img *image) sorted() iter.Seq[*model.Object] {
	return img.objects(img.sortedRecords())
}

// objects returns the objects recs encode, each decoded as it is reached.
func (img *image) objects(recs []string) iter.Seq[*model.Object] {
	return func(yield func(*model.Object) bool) {
		for _, rec := range recs {
			o, err := img.attrs.decode(rec)
			if err != nil {
				panic(err) // the image encoded it: a bug, not input
			}
			if !yield(o) {
				return
			}
		}
	}
}

// sortKeys compares encoded objects by their sort keys: "\x00", dnSortKey
// of the DN, "\x00\x00" and the DN for an object with a DN, else "\x01"
// and the anchor. It builds the two keys of a comparison in buffers it
// reuses, and keeps the last key of each side: a sort compares one pivot
// with many records.
type sortKeys struct {
	rec   [2]string
	key   [2][]byte
	rdns  []int // start and end offsets of the RDNs of a DN
	valid [2]bool
}

func (ks *sortKeys) compare(a, b string) int {
	return bytes.Compare(ks.of(0, a), ks.of(1, b))
}

// of returns the sort key of rec, built in the buffer of side i.
func (ks *sortKeys) of(i int, rec string) []byte {
	if ks.valid[i] && unsafe.StringData(ks.rec[i]) == unsafe.StringData(rec) && len(ks.rec[i]) == len(rec) {
		return ks.key[i] // the same record: each is a string of its own
	}
	anchor, dn := recordKeys(rec)
	k := ks.key[i][:0]
	if dn == "" {
		k = append(append(k, 1), anchor...)
	} else {
		k = append(ks.appendDNSortKey(append(k, 0), dn), 0, 0)
		k = append(k, dn...)
	}
	ks.rec[i], ks.key[i], ks.valid[i] = rec, k, true
	return k
}

// appendDNSortKey appends dnSortKey(dn) to k. An ASCII DN, lower-cased
// byte by byte as strings.ToLower would, is split and joined in place; any
// other goes through dnSortKey.
func (ks *sortKeys) appendDNSortKey(k []byte, dn string) []byte {
	if !isASCII(dn) {
		return append(k, dnSortKey(dn)...)
	}
	// The RDN boundaries of splitDN: lower-casing ASCII changes none of the
	// bytes it looks at.
	rdns := ks.rdns[:0]
	start, quoted := 0, false
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case ',', ';':
			if !quoted {
				rdns = append(rdns, start, i)
				start = i + 1
			}
		}
	}
	rdns = append(rdns, start, len(dn))
	ks.rdns = rdns
	for j := len(rdns) - 2; j >= 0; j -= 2 {
		if j < len(rdns)-2 {
			k = append(k, 0)
		}
		for _, c := range []byte(strings.TrimSpace(dn[rdns[j]:rdns[j+1]])) {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			k = append(k, c)
		}
	}
	return k
}

// write writes the image in the file's format.
func (img *image) write(w io.Writer) error {
	return img.writeSorted(w, img.sortedRecords())
}

// writeSorted writes recs, the image's records in order (sortedRecords), in
// the file's format: sorted once for a caller that reads them again. A CSV
// file's two passes (its columns, its rows) decode the objects; LDIF is
// written from the records.
func (img *image) writeSorted(w io.Writer, recs []string) error {
	if img.s.format == FormatCSV {
		objs := img.objects(recs)
		img.header = img.s.csvColumns(img.header, objs)
		return img.s.writeCSV(w, img.header, objs)
	}
	return writeLDIFRecords(w, &img.attrs, recs)
}

// applyBatch applies the ops of one Export call in order, calling each (when
// set) with every op's result, and returns the ops that succeeded. A CSV
// header gains the columns of the objects the batch changed, as a rewrite
// of the file after the batch would write them, so that the columns come
// out in the same order however many batches the journal holds.
func (img *image) applyBatch(ops []connector.ExportOp, each func(i int, anchor string, err error)) []connector.ExportOp {
	var done []connector.ExportOp
	var touched []string
	for i, op := range ops {
		anchor, err := img.apply(op)
		if each != nil {
			each(i, anchor, err)
		}
		if err != nil {
			continue
		}
		done = append(done, op)
		if img.s.format == FormatCSV {
			touched = append(touched, img.s.anchorKey(anchor))
		}
	}
	if len(done) > 0 && img.s.format == FormatCSV {
		objs := make([]*model.Object, 0, len(touched))
		for _, k := range touched {
			if o := img.get(k); o != nil {
				objs = append(objs, o)
			}
		}
		img.header = img.s.csvColumns(img.header, slices.Values(objs))
	}
	return done
}
