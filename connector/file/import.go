package file

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// objectReader yields the objects of a file with the line they start on.
type objectReader interface {
	next() (*model.Object, int, error)
}

func (s *settings) newReader(r io.Reader) objectReader {
	if s.format == FormatCSV {
		return newCSVObjects(r, s)
	}
	return newLDIFObjects(r, s)
}

// scanResult is what a scan learned besides the objects.
type scanResult struct {
	sum    string      // sha256 of the content, hex
	header []string    // CSV header, nil for LDIF or an empty file
	fi     os.FileInfo // the file read, taken when it was opened; nil when missing
}

// scan streams the objects of the file to fn, checking that anchors and DNs
// are unique. A missing file is an error, except for a target, where it
// reads as empty.
func (s *settings) scan(ctx context.Context, fn func(*model.Object) error) (scanResult, error) {
	return s.scanReport(ctx, nil, fn)
}

// scanReport is scan where, when report is set, an object whose anchor or
// DN an earlier object has is reported to it and skipped instead of failing
// the scan (an import; a target's export must see every object).
func (s *settings) scanReport(ctx context.Context, report func(anchor, dn string, err error), fn func(*model.Object) error) (scanResult, error) {
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) && s.target {
		return s.scanReaderReport(ctx, strings.NewReader(""), report, fn)
	}
	if err != nil {
		return scanResult{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return scanResult{}, err
	}
	res, err := s.scanReaderReport(ctx, f, report, fn)
	res.fi = fi
	return res, err
}

// scanReader is scan reading from r.
func (s *settings) scanReader(ctx context.Context, r io.Reader, fn func(*model.Object) error) (scanResult, error) {
	return s.scanReaderReport(ctx, r, nil, fn)
}

// scanReaderReport is scanReport reading from r.
func (s *settings) scanReaderReport(ctx context.Context, r io.Reader, report func(anchor, dn string, err error), fn func(*model.Object) error) (scanResult, error) {
	h := sha256.New()
	rd := s.newReader(io.TeeReader(r, h))
	anchors, dns := newLineSet(), newLineSet()
	for {
		if err := ctx.Err(); err != nil {
			return scanResult{}, err
		}
		o, line, err := rd.next()
		if errors.Is(err, io.EOF) {
			break
		}
		var rec *recordError
		if err != nil && report != nil && errors.As(err, &rec) {
			// A record read whole that cannot be represented: an error on
			// that object; its anchor counts as taken by it.
			report(rec.anchor, rec.dn, fmt.Errorf("%w: this object is not imported", err))
			anchors.add(s.anchorKey(rec.anchor), line)
			continue
		}
		if err != nil {
			return scanResult{}, err
		}
		ak := s.anchorKey(o.Anchor)
		if first, dup := anchors.first(ak); dup {
			err := fmt.Errorf("%s:%d: duplicate anchor %q (first on line %d)", s.name, line, clip(o.Anchor), first)
			if report == nil {
				return scanResult{}, err
			}
			report(o.Anchor, o.DN, fmt.Errorf("%w: this object is not imported, the first one is", err))
			continue
		}
		if o.DN != "" {
			dk := dnKey(o.DN)
			if first, dup := dns.first(dk); dup {
				err := fmt.Errorf("%s:%d: duplicate DN %q (first on line %d)", s.name, line, clip(o.DN), first)
				if report == nil {
					return scanResult{}, err
				}
				report(o.Anchor, o.DN, fmt.Errorf("%w: this object is not imported, the first one is", err))
				continue
			}
			dns.add(dk, line)
		}
		anchors.add(ak, line)
		if err := fn(o); err != nil {
			return scanResult{}, err
		}
	}
	res := scanResult{sum: hex.EncodeToString(h.Sum(nil))}
	if co, ok := rd.(*csvObjects); ok {
		res.header = co.header
	}
	return res, nil
}

// anchorKey is the key under which anchors are compared: DNs (the default
// LDIF anchor) case-insensitively, attribute values exactly.
func (s *settings) anchorKey(anchor string) string {
	if s.anchor == "" {
		return dnKey(anchor)
	}
	return anchor
}

// FullImport streams the objects of the file that match req, in file order,
// and returns the sha256 of the file content (hex) as watermark.
func (c *Connector) FullImport(ctx context.Context, req connector.ImportRequest, emit func(*model.Object) error) (string, error) {
	if req.Partition != "" {
		return "", fmt.Errorf("file connector %q: unknown partition %q (a file has only the partition \"\")", c.name, req.Partition)
	}
	var keep map[string]bool
	if len(req.Attributes) > 0 {
		keep = make(map[string]bool, len(req.Attributes))
		for _, a := range req.Attributes {
			keep[strings.ToLower(a)] = true
		}
	}
	var report func(anchor, dn string, err error)
	if req.ObjectError != nil {
		report = req.ObjectError
	}
	each := func(o *model.Object) error {
		if len(req.ObjectTypes) > 0 && !slices.Contains(req.ObjectTypes, o.Type) {
			return nil
		}
		if keep != nil {
			for name := range o.Attrs {
				if !keep[strings.ToLower(name)] {
					delete(o.Attrs, name)
				}
			}
		}
		return emit(o)
	}
	img, err := c.settled(ctx)
	if err != nil {
		return "", fmt.Errorf("file connector %q: import: %w", c.name, err)
	}
	if img != nil {
		sum, err := img.emit(each)
		if err != nil {
			return "", fmt.Errorf("file connector %q: import: %w", c.name, err)
		}
		return sum, nil
	}
	res, err := c.s.scanReport(ctx, report, each)
	if err != nil {
		return "", fmt.Errorf("file connector %q: import: %w", c.name, err)
	}
	return res.sum, nil
}

// emit calls fn with a copy of each object of the image, in the order a
// rewrite would write them, and returns the sha256 (hex) of what the rewrite
// would write.
func (img *image) emit(fn func(*model.Object) error) (string, error) {
	h := sha256.New()
	recs := img.sortedRecords()
	if err := img.writeSorted(h, recs); err != nil {
		return "", err
	}
	for o := range img.objects(recs) { // each a fresh copy
		if err := fn(o); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SchemaInferred reports true: a file declares at most its attribute
// names (a CSV header), never which attributes are single-valued, and its
// types come from the types key, which imported values already carry.
func (c *Connector) SchemaInferred() bool { return true }

// Schema describes the file. A CSV source with a fixed objectType declares
// its schema in its header row: every column is an attribute. Otherwise the
// schema is inferred from the data (Inferred is set): per object type the
// attributes seen, with their configured types, multi-valued when an object
// has more than one value. Object types and attributes are sorted by name. A
// target file that does not exist yet has an empty schema.
func (c *Connector) Schema(ctx context.Context) (*model.Schema, error) {
	if declared, err := c.s.csvDeclaredSchema(); err != nil || declared != nil {
		if err != nil {
			return nil, fmt.Errorf("file connector %q: schema: %w", c.name, err)
		}
		return declared, nil
	}
	types := map[string]map[string]*model.AttributeSchema{}
	img, err := c.settled(ctx)
	if err != nil {
		return nil, fmt.Errorf("file connector %q: schema: %w", c.name, err)
	}
	scan := func(fn func(*model.Object) error) error {
		if img != nil {
			_, err := img.emit(fn)
			return err
		}
		_, err := c.s.scan(ctx, fn)
		return err
	}
	err = scan(func(o *model.Object) error {
		attrs := types[o.Type]
		if attrs == nil {
			attrs = map[string]*model.AttributeSchema{}
			types[o.Type] = attrs
		}
		for name, v := range o.Attrs {
			a := attrs[name]
			if a == nil {
				a = &model.AttributeSchema{Name: name, Type: v.Type}
				attrs[name] = a
			}
			a.MultiValued = a.MultiValued || len(v.Values) > 1
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("file connector %q: schema: %w", c.name, err)
	}
	s := &model.Schema{ObjectTypes: []model.ObjectTypeSchema{}, Inferred: true}
	for t, attrs := range types {
		ot := model.ObjectTypeSchema{Name: t, Attributes: []model.AttributeSchema{}}
		for _, a := range attrs {
			ot.Attributes = append(ot.Attributes, *a)
		}
		slices.SortFunc(ot.Attributes, func(a, b model.AttributeSchema) int { return strings.Compare(a.Name, b.Name) })
		s.ObjectTypes = append(s.ObjectTypes, ot)
	}
	slices.SortFunc(s.ObjectTypes, func(a, b model.ObjectTypeSchema) int { return strings.Compare(a.Name, b.Name) })
	return s, nil
}
