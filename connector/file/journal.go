package file

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

// The export journal is a file next to the target, <path>.journal, that an
// export run appends its successful ops to instead of rewriting the target
// once per batch (see doc.go, "Export"). It is a sequence of records, each
//
//	uint32 LE length of the payload | uint32 LE CRC-32C of the payload | payload
//
// whose first byte says what it is:
//
//	'H' + 32 bytes: header, the sha256 of the target file the journal
//	    applies to (always the first record);
//	'B' + ops: one Export call's successful ops, in order;
//	'C' + 32 bytes: a rewrite of the target with this sha256 is about to
//	    replace it (written and synced before the rename).
//
// A record cut short or with a bad checksum ends the journal: only the last
// append can be incomplete (each is synced before Export returns, and the
// next append overwrites a torn tail), and its ops were never acknowledged.
const (
	recHeader    = 'H'
	recBatch     = 'B'
	recCompacted = 'C'
	// maxRecord bounds the length a record may claim.
	maxRecord = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// journalSuffix is appended to the target's path to name its journal.
const journalSuffix = ".journal"

// frame wraps a payload in a record.
func frame(dst, payload []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(payload, castagnoli))
	return append(dst, payload...)
}

// sumRecord is a header or compaction record for the hex sha256 sum.
func sumRecord(kind byte, sum string) []byte {
	b, err := hex.DecodeString(sum)
	if err != nil || len(b) != 32 {
		panic("file: bad sha256 " + sum)
	}
	return frame(nil, append([]byte{kind}, b...))
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// batchRecord encodes ops as a batch record. The op IDs are not kept: a
// replay needs only what the ops change. The record is sized before it is
// written, and framed in place: a batch of a thousand ops is some 300 KB,
// which growing by appends and copying into a frame made garbage of three
// times over.
func batchRecord(ops []connector.ExportOp) []byte {
	n := 8 + 1 + binary.MaxVarintLen64
	for i := range ops {
		for _, s := range opStrings(&ops[i]) {
			n += binary.MaxVarintLen64 + len(s)
		}
		n += binary.MaxVarintLen64
		for _, ch := range ops[i].Changes {
			n += 4*binary.MaxVarintLen64 + len(ch.Name) + len(ch.Mode)
			for _, v := range ch.Values {
				n += binary.MaxVarintLen64 + len(v)
			}
		}
	}
	p := make([]byte, 8, n)
	p = append(p, recBatch)
	p = binary.AppendUvarint(p, uint64(len(ops)))
	for i := range ops {
		op := &ops[i]
		for _, s := range opStrings(op) {
			p = appendStr(p, s)
		}
		p = binary.AppendUvarint(p, uint64(len(op.Changes)))
		for _, ch := range op.Changes {
			p = appendStr(p, ch.Name)
			p = appendStr(p, string(ch.Mode))
			p = binary.AppendUvarint(p, uint64(ch.Type))
			p = binary.AppendUvarint(p, uint64(len(ch.Values)))
			for _, v := range ch.Values {
				p = appendStr(p, v)
			}
		}
	}
	binary.LittleEndian.PutUint32(p[:4], uint32(len(p)-8))
	binary.LittleEndian.PutUint32(p[4:8], crc32.Checksum(p[8:], castagnoli))
	return p
}

// opStrings returns the strings of an op a batch record holds before its
// changes, in their order.
func opStrings(op *connector.ExportOp) [5]string {
	return [5]string{string(op.Op), op.Anchor, op.DN, op.NewDN, op.ObjectType}
}

// decoder reads the fields of a batch record.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errors.New("bad number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a number of items that each take at least one byte.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err = errors.New("bad count")
		return 0
	}
	return int(n)
}

func (d *decoder) str() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// decodeBatch decodes the payload of a batch record (after its kind byte).
func decodeBatch(p []byte) ([]connector.ExportOp, error) {
	d := &decoder{b: p}
	ops := make([]connector.ExportOp, d.count())
	for i := range ops {
		op := &ops[i]
		op.Op = connector.Op(d.str())
		op.Anchor, op.DN, op.NewDN, op.ObjectType = d.str(), d.str(), d.str(), d.str()
		if n := d.count(); n > 0 {
			op.Changes = make([]connector.AttrChange, n)
		}
		for j := range op.Changes {
			ch := &op.Changes[j]
			ch.Name, ch.Mode = d.str(), connector.Mode(d.str())
			ch.Type = model.Type(d.uvarint())
			if n := d.count(); n > 0 {
				ch.Values = make([]string, n)
			}
			for k := range ch.Values {
				ch.Values[k] = d.str()
			}
		}
		if d.err != nil {
			return nil, d.err
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errors.New("trailing bytes")
	}
	return ops, d.err
}

// journalRec is one record of a journal as read.
type journalRec struct {
	kind    byte
	sum     string // 'H' and 'C': the hex sha256
	payload []byte // 'B': the encoded ops (after the kind byte); nil in a first pass
}

// journalInfo is what reading a journal found.
type journalInfo struct {
	fi  os.FileInfo // nil when there is no journal
	end int64       // length of its valid records; 0 when it has none
}

// readJournal reads the journal at path, calling fn for each valid record
// (with the payload of batch records only when payloads is set). A missing
// journal has no records.
func readJournal(path string, payloads bool, fn func(journalRec) error) (journalInfo, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return journalInfo{}, nil
	}
	if err != nil {
		return journalInfo{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return journalInfo{}, err
	}
	info := journalInfo{fi: fi}
	r := bufio.NewReaderSize(f, 256<<10)
	var head [8]byte
	var buf []byte
	for off := int64(0); ; {
		if _, err := io.ReadFull(r, head[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return info, nil // the end, or a torn record
			}
			return info, err
		}
		n := int64(binary.LittleEndian.Uint32(head[:4]))
		if n == 0 || n > maxRecord || off+8+n > fi.Size() {
			return info, nil // torn
		}
		if int64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		p := buf[:n]
		if _, err := io.ReadFull(r, p); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return info, nil
			}
			return info, err
		}
		if crc32.Checksum(p, castagnoli) != binary.LittleEndian.Uint32(head[4:]) {
			return info, nil // torn: written but not synced
		}
		rec := journalRec{kind: p[0]}
		switch {
		case (rec.kind == recHeader || rec.kind == recCompacted) && n == 33:
			rec.sum = hex.EncodeToString(p[1:])
		case rec.kind == recBatch && off > 0:
			if payloads {
				rec.payload = p[1:]
			}
		default:
			return info, fmt.Errorf("%s: record at byte %d: unknown record %q of %d bytes", path, off, rec.kind, n)
		}
		if off == 0 && rec.kind != recHeader {
			return info, fmt.Errorf("%s: does not start with a header record", path)
		}
		if err := fn(rec); err != nil {
			return info, err
		}
		off += 8 + n
		info.end = off
	}
}

// appendJournal writes records at the end of the valid part of the journal
// at path (j, as last read or written: a torn tail is overwritten), creating
// it with mode 0600 when needed, and syncs it to disk. header is written
// first when the journal has no valid records. It returns the journal's new
// state.
func appendJournal(path string, j journalInfo, header []byte, recs ...[]byte) (journalInfo, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return journalInfo{}, err
	}
	defer f.Close()
	var buf []byte
	if j.end == 0 {
		buf = append(buf, header...)
	}
	if j.end > 0 && len(recs) == 1 {
		buf = recs[0] // the usual batch, not copied
	} else {
		for _, r := range recs {
			buf = append(buf, r...)
		}
	}
	if err := f.Truncate(j.end); err != nil {
		return journalInfo{}, err
	}
	if _, err := f.WriteAt(buf, j.end); err != nil {
		return journalInfo{}, err
	}
	if err := f.Sync(); err != nil {
		return journalInfo{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		return journalInfo{}, err
	}
	if j.fi == nil {
		syncDir(filepath.Dir(path)) // a new journal: make its name durable
	}
	return journalInfo{fi: fi, end: j.end + int64(len(buf))}, nil
}
