package file

import (
	"context"
	"io"
	"slices"
	"strings"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// image is the content of a file held in memory while exports are applied
// to it: the file as read, with the ops of its journal replayed.
type image struct {
	s      *settings
	header []string                 // CSV header the file has, or will have once written
	objs   map[string]*model.Object // anchorKey → object
	byDN   map[string]string        // dnKey → anchorKey
	// stale is set when the journal replayed over the file was not written
	// for it (the file was changed by something else): the image must be
	// written before more ops are journaled.
	stale bool
}

// load reads the whole file into an image.
func (s *settings) load(ctx context.Context) (*image, scanResult, error) {
	img := &image{s: s, objs: map[string]*model.Object{}, byDN: map[string]string{}}
	res, err := s.scan(ctx, func(o *model.Object) error {
		img.put(o)
		return nil
	})
	img.header = res.header
	return img, res, err
}

func (img *image) put(o *model.Object) {
	k := img.s.anchorKey(o.Anchor)
	img.objs[k] = o
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
		return img.objs[img.s.anchorKey(op.Anchor)]
	}
	if op.DN != "" {
		if k, ok := img.byDN[dnKey(op.DN)]; ok {
			return img.objs[k]
		}
	}
	return nil
}

// sorted returns the objects ordered by DN (parents first, see dnSortKey),
// objects without DN by anchor.
func (img *image) sorted() []*model.Object {
	type item struct {
		key string
		o   *model.Object
	}
	items := make([]item, 0, len(img.objs))
	for _, o := range img.objs {
		k := "\x01" + o.Anchor
		if o.DN != "" {
			k = "\x00" + dnSortKey(o.DN) + "\x00\x00" + o.DN
		}
		items = append(items, item{k, o})
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.key, b.key) })
	out := make([]*model.Object, len(items))
	for i, it := range items {
		out[i] = it.o
	}
	return out
}

// write writes the image in the file's format.
func (img *image) write(w io.Writer) error {
	objs := img.sorted()
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
			if o := img.objs[k]; o != nil {
				objs = append(objs, o)
			}
		}
		img.header = img.s.csvColumns(img.header, objs)
	}
	return done
}
