package file

import (
	"context"
	"io"
	"iter"
	"slices"
	"strings"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// image is the content of a file held in memory while exports are applied
// to it: the file as read, with the ops of its journal replayed.
type image struct {
	s      *settings
	header []string          // CSV header the file has, or will have once written
	objs   map[string]string // anchorKey → object, encoded (record.go)
	byDN   map[string]string // dnKey → anchorKey
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
	return &image{s: s, objs: map[string]string{}, byDN: map[string]string{}}
}

// get returns the object with the anchor key k, decoded (nil when none).
func (img *image) get(k string) *model.Object {
	rec, ok := img.objs[k]
	if !ok {
		return nil
	}
	o, err := decodeObject(rec)
	if err != nil {
		panic(err) // the image encoded it: a bug, not input
	}
	return o
}

// anchorOf returns the anchor of the object with the anchor key k.
func (img *image) anchorOf(k string) string {
	a, _ := recordKeys(img.objs[k])
	return a
}

func (img *image) put(o *model.Object) {
	k := img.s.anchorKey(o.Anchor)
	img.objs[k] = encodeObject(o)
	if o.DN != "" {
		img.byDN[dnKey(o.DN)] = k
	}
}

func (img *image) remove(o *model.Object) {
	delete(img.objs, img.s.anchorKey(o.Anchor))
	if o.DN != "" {
		delete(img.byDN, dnKey(o.DN))
	}
}

// find returns the object an op addresses: by anchor, else by DN.
func (img *image) find(op connector.ExportOp) *model.Object {
	if op.Anchor != "" {
		return img.get(img.s.anchorKey(op.Anchor))
	}
	if op.DN != "" {
		if k, ok := img.byDN[dnKey(op.DN)]; ok {
			return img.get(k)
		}
	}
	return nil
}

// sorted returns the objects ordered by DN (parents first, see dnSortKey),
// objects without DN by anchor, each decoded as it is reached.
func (img *image) sorted() iter.Seq[*model.Object] {
	type item struct{ key, rec string }
	items := make([]item, 0, len(img.objs))
	for _, rec := range img.objs {
		anchor, dn := recordKeys(rec)
		k := "\x01" + anchor
		if dn != "" {
			k = "\x00" + dnSortKey(dn) + "\x00\x00" + dn
		}
		items = append(items, item{k, rec})
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.key, b.key) })
	return func(yield func(*model.Object) bool) {
		for _, it := range items {
			o, err := decodeObject(it.rec)
			if err != nil {
				panic(err) // the image encoded it: a bug, not input
			}
			if !yield(o) {
				return
			}
		}
	}
}

// write writes the image in the file's format.
func (img *image) write(w io.Writer) error {
	return img.writeSorted(w, img.sorted())
}

// writeSorted writes objs, the image's objects in order (sorted), in the
// file's format: sorted once for a CSV file's two passes (its columns, its
// rows) or for a caller that reads them again.
func (img *image) writeSorted(w io.Writer, objs iter.Seq[*model.Object]) error {
	if img.s.format == FormatCSV {
		img.header = img.s.csvColumns(img.header, objs)
		return img.s.writeCSV(w, img.header, objs)
	}
	return writeLDIF(w, objs)
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
