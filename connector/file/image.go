package file

import (
	"context"
	"io"
	"slices"
	"strings"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// image is the content of a file held in memory while a batch of exports is
// applied to it.
type image struct {
	s      *settings
	header []string                 // CSV header of the file, if any
	objs   map[string]*model.Object // anchorKey → object
	byDN   map[string]string        // dnKey → anchorKey
}

// load reads the whole file into an image.
func (s *settings) load(ctx context.Context) (*image, error) {
	img := &image{s: s, objs: map[string]*model.Object{}, byDN: map[string]string{}}
	res, err := s.scan(ctx, func(o *model.Object) error {
		img.put(o)
		return nil
	})
	img.header = res.header
	return img, err
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
		return img.s.writeCSV(w, img.s.csvColumns(img.header, objs), objs)
	}
	return writeLDIF(w, objs)
}
