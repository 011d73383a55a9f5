package codec

import (
	"fmt"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// CS object flags (first field after the format byte).
const (
	csProvisioned = 1 << iota
	csPlaceholder
	csDeleted
	csHasPending
	csSyncPending
	csPendingMayExist
)

// EncodeCS appends the data blob of o to buf. The blob holds every field of
// o, so reads select it alone (reading fewer columns is much faster); the
// columns of cs_objects are copies for the indexes.
func EncodeCS(buf []byte, o *store.CSObject) []byte {
	e := encoder{b: buf}
	e.byte(formatV1)
	var flags uint64
	if o.Provisioned {
		flags |= csProvisioned
	}
	if o.Placeholder {
		flags |= csPlaceholder
	}
	if o.Deleted {
		flags |= csDeleted
	}
	if o.Pending != nil {
		flags |= csHasPending
	}
	if o.SyncPending {
		flags |= csSyncPending
	}
	if o.Pending != nil && o.Pending.MayExist {
		flags |= csPendingMayExist
	}
	e.uvarint(flags)
	e.str(o.ID)
	e.str(o.Connector)
	e.str(o.Object.Anchor)
	e.str(o.Object.DN)
	e.str(o.MVID)
	e.str(o.Partition)
	e.str(o.Object.Type)
	e.str(o.LinkRule)
	e.time(o.Modified)
	e.attrs(o.Object.Attrs)
	e.strs(o.Unconfirmed)
	if p := o.Pending; p != nil {
		e.str(p.ID)
		e.str(string(p.Op))
		e.str(p.NewDN)
		e.str(string(p.State))
		e.varint(int64(p.Attempts))
		e.str(p.Error)
		e.time(p.Created)
		e.str(p.Rule)
		encodeChanges(&e, p.Changes)
	}
	return e.b
}

func encodeChanges(e *encoder, cs []connector.AttrChange) {
	if cs == nil {
		e.uvarint(0)
		return
	}
	e.nilableLen(len(cs))
	for i := range cs {
		c := &cs[i]
		e.str(c.Name)
		e.str(string(c.Mode))
		e.byte(byte(c.Type))
		e.strs(c.Values)
	}
}

// DecodeCS decodes a blob written by EncodeCS. The strings of the object
// share data's memory.
func DecodeCS(data string) (*store.CSObject, error) {
	d := decoder{s: data}
	if v := d.byte(); v != formatV1 {
		d.fail("format version")
		return nil, d.err
	}
	o := &store.CSObject{}
	flags := d.uvarint()
	o.Provisioned = flags&csProvisioned != 0
	o.Placeholder = flags&csPlaceholder != 0
	o.Deleted = flags&csDeleted != 0
	o.SyncPending = flags&csSyncPending != 0
	o.ID = d.str()
	o.Connector = d.str()
	o.Object.Anchor = d.str()
	o.Object.DN = d.str()
	o.MVID = d.str()
	o.Partition = d.str()
	o.Object.Type = d.str()
	o.LinkRule = d.str()
	o.Modified = d.time()
	o.Object.Attrs = d.attrs()
	o.Unconfirmed = d.strs()
	if flags&csHasPending != 0 {
		p := &store.PendingExport{}
		p.ID = d.str()
		p.Op = connector.Op(d.str())
		p.NewDN = d.str()
		p.State = store.ExportState(d.str())
		p.Attempts = int(d.varint())
		p.Error = d.str()
		p.Created = d.time()
		p.Rule = d.str()
		p.Changes = decodeChanges(&d)
		p.MayExist = flags&csPendingMayExist != 0
		o.Pending = p
	}
	if err := d.done(); err != nil {
		return nil, fmt.Errorf("cs object %q: %w", o.ID, err)
	}
	return o, nil
}

func decodeChanges(d *decoder) []connector.AttrChange {
	n, ok := d.nilableLen()
	if !ok || d.err != nil {
		return nil
	}
	cs := make([]connector.AttrChange, n)
	for i := range cs {
		c := &cs[i]
		c.Name = d.str()
		c.Mode = connector.Mode(d.str())
		c.Type = model.Type(d.byte())
		c.Values = d.strs()
	}
	return cs
}

// EncodeMV appends the data blob of o to buf. Like the CS blob it holds
// every field.
func EncodeMV(buf []byte, o *store.MVObject) []byte {
	e := encoder{b: buf}
	e.byte(formatV1)
	e.str(o.ID)
	e.str(o.Type)
	e.time(o.Modified)
	e.attrs(o.Attrs)
	if o.Lineage.Len() == 0 {
		e.uvarint(0)
		return e.b
	}
	e.nilableLen(o.Lineage.Len())
	for name, c := range o.Lineage.All() {
		e.str(name)
		e.str(c.Rule)
		e.str(c.Connector)
		e.str(c.CSID)
		e.varint(int64(c.Precedence))
	}
	return e.b
}

// DecodeMV decodes a blob written by EncodeMV.
func DecodeMV(data string) (*store.MVObject, error) {
	d := decoder{s: data}
	if v := d.byte(); v != formatV1 {
		d.fail("format version")
		return nil, d.err
	}
	o := &store.MVObject{}
	o.ID = d.str()
	o.Type = d.str()
	o.Modified = d.time()
	o.Attrs = d.attrs()
	if n, ok := d.nilableLen(); ok && d.err == nil {
		var b store.LineageBuilder
		b.Grow(n)
		for range n {
			name := d.str()
			var c store.Contribution
			c.Rule = d.str()
			c.Connector = d.str()
			c.CSID = d.str()
			c.Precedence = int(d.varint())
			b.Add(name, c)
		}
		o.Lineage = b.Lineage()
	}
	if err := d.done(); err != nil {
		return nil, fmt.Errorf("mv object %q: %w", o.ID, err)
	}
	return o, nil
}

// BlobID returns the object ID of a CS (cs true) or MV blob without decoding
// the rest.
func BlobID(data string, cs bool) (string, error) {
	d := decoder{s: data}
	if v := d.byte(); v != formatV1 {
		d.fail("format version")
	}
	if cs {
		d.uvarint() // flags
	}
	id := d.str()
	return id, d.err
}
