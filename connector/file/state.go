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
	"path/filepath"
	"time"
)

// journalCompactMin is the size below which the journal of an export run is
// not folded into the file before the run ends: beyond it, the file is
// rewritten once the journal is larger than the file (so the rewrites of a
// run that keeps growing the file cost about as much as writing it twice).
const journalCompactMin = 64 << 20

// racyMargin bounds the resolution of file modification times: a file
// whose modification time is closer than this to when the connector last
// read or wrote it may have been changed again without its time changing
// (coarse kernel clocks, filesystems with 1-2 s timestamps), so its content
// is compared too (git's "racily clean" entries).
const racyMargin = 2 * time.Second

// diskState is what the connector last read or wrote of the file and its
// journal.
type diskState struct {
	file    os.FileInfo // the file as read or written; nil when missing
	seen    time.Time   // when file was known to hold the content of sum
	sum     string      // sha256 of the file's content, hex
	journal journalInfo // the journal as read or written
}

func (c *Connector) journalPath() string { return c.s.path + journalSuffix }

// sameFile reports whether a and b describe the same, unchanged file.
func sameFile(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// fresh reports whether the file and its journal are as d describes them:
// the same files (device and inode), of the same size and modification
// time, and, when that time is too recent to tell, the same content.
func (c *Connector) fresh(d *diskState) bool {
	fi, err := os.Stat(c.s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if d.file != nil {
			return false
		}
	case err != nil || d.file == nil || !sameFile(d.file, fi):
		return false
	case d.seen.Sub(fi.ModTime()) < racyMargin:
		now := time.Now()
		if sum, err := fileSum(c.s.path); err != nil || sum != d.sum {
			return false
		}
		d.seen = now
	}
	ji, err := os.Stat(c.journalPath())
	if errors.Is(err, fs.ErrNotExist) {
		return d.journal.fi == nil
	}
	return err == nil && d.journal.fi != nil && sameFile(d.journal.fi, ji)
}

// fileSum returns the sha256 (hex) of the file at path.
func fileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// load reads the file and replays its journal over it. The journal is
// replayed from its last checkpoint (its header, or the mark of a rewrite)
// that names the file's content; when none does, the file was changed by
// something else since the journal was written, and every op of the journal
// is applied again, in order, to what the file holds now (those that no
// longer apply are dropped) and the image is marked stale.
func (c *Connector) load(ctx context.Context) (*image, diskState, error) {
	seen := time.Now()
	img, res, err := c.s.load(ctx)
	if err != nil {
		return nil, diskState{}, err
	}
	d := diskState{file: res.fi, seen: seen, sum: res.sum}
	jp := c.journalPath()
	start, n := -1, 0
	d.journal, err = readJournal(jp, false, func(r journalRec) error {
		if r.sum == res.sum {
			start = n
		}
		n++
		return nil
	})
	if err != nil {
		return nil, diskState{}, fmt.Errorf("reading the journal: %w", err)
	}
	if d.journal.end == 0 {
		return img, d, nil
	}
	i := 0
	if _, err := readJournal(jp, true, func(r journalRec) error {
		i++
		if err := ctx.Err(); err != nil {
			return err
		}
		if r.kind != recBatch || i-1 < start || i > n {
			return nil
		}
		ops, err := decodeBatch(r.payload)
		if err != nil {
			return fmt.Errorf("%s: record %d: %w", jp, i, err)
		}
		img.applyBatch(ops, nil)
		return nil
	}); err != nil {
		return nil, diskState{}, fmt.Errorf("reading the journal: %w", err)
	}
	img.stale = start < 0
	return img, d, nil
}

// current returns the image of the file with its journal replayed: the
// cached one while the file and the journal are as the connector left them,
// else read again (and, when the journal was not written for the file, the
// file rewritten from it). The caller holds c.mu and decides whether to keep
// the image in c.img.
func (c *Connector) current(ctx context.Context) (*image, error) {
	if c.img != nil && c.fresh(&c.disk) {
		return c.img, nil
	}
	c.img = nil
	img, d, err := c.load(ctx)
	if err != nil {
		return nil, err
	}
	c.disk = d
	if img.stale && c.s.target {
		if err := c.compact(img); err != nil {
			return nil, fmt.Errorf("writing the ops of the journal to the file: %w", err)
		}
	}
	return img, nil
}

// compact rewrites the file from img (the file and its journal) and removes
// the journal. The order makes every crash recoverable: the new file is
// written and synced under a temporary name; a record naming its sha256 is
// appended to the journal and synced; the file is renamed over the target;
// the journal is removed. A crash before the rename leaves the old file
// and the whole journal; after it, the journal's last record names the
// file, so a load replays nothing of it. On an error the cached image is
// dropped: the next call reads the disk again.
func (c *Connector) compact(img *image) (err error) {
	defer func() {
		if err != nil {
			c.img = nil
		}
	}()
	jp := c.journalPath()
	sum, err := writeAtomic(c.s.path, c.wrapWriter, img.write, func(sum []byte) error {
		if c.disk.journal.end > 0 {
			j, err := appendJournal(jp, c.disk.journal, nil, sumRecord(recCompacted, hex.EncodeToString(sum)))
			if err != nil {
				return fmt.Errorf("writing the journal %s: %w", jp, err)
			}
			c.disk.journal = j
		}
		return c.hook("marked")
	})
	if err != nil {
		return err
	}
	seen := time.Now()
	if err := c.hook("renamed"); err != nil {
		return err
	}
	if c.disk.journal.fi != nil {
		if err := os.Remove(jp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing the journal: %w", err)
		}
		syncDir(filepath.Dir(jp))
	}
	fi, err := os.Stat(c.s.path)
	if err != nil {
		return err
	}
	c.disk = diskState{file: fi, seen: seen, sum: hex.EncodeToString(sum)}
	img.stale = false
	return nil
}

// hook calls the test hook at a point of a rewrite; an error it returns
// stops the rewrite there, as a crash would.
func (c *Connector) hook(point string) error {
	if c.testHook != nil {
		return c.testHook(point)
	}
	return nil
}

// flush folds the journal, if there is one, into the file. The caller holds
// c.mu.
func (c *Connector) flush(ctx context.Context) error {
	if !c.s.target {
		return nil
	}
	if _, err := os.Stat(c.journalPath()); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	img, err := c.current(ctx)
	if err != nil {
		return err
	}
	if c.disk.journal.fi == nil {
		return nil
	}
	return c.compact(img)
}

// settled makes the file hold what its journal holds, for a reader: a
// target is rewritten (and the journal removed); for a source (only a
// configuration changed since the export can leave it a journal) the image
// to read instead is returned. It returns nil when the file is to be read.
func (c *Connector) settled(ctx context.Context) (*image, error) {
	if _, err := os.Stat(c.journalPath()); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sessions == 0 {
		defer func() { c.img = nil }()
	}
	if c.s.target {
		return nil, c.flush(ctx)
	}
	img, err := c.current(ctx)
	if err != nil || c.disk.journal.end == 0 {
		return nil, err
	}
	return img, nil
}

// BeginExport starts an export run: until EndExport, the ops of each
// Export call are appended to the journal instead of rewriting the file.
func (c *Connector) BeginExport(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sessions++
	return nil
}

// EndExport ends an export run: the file is rewritten once with the ops of
// the run, and the journal removed.
func (c *Connector) EndExport(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sessions > 0 {
		c.sessions--
	}
	if c.sessions > 0 {
		return nil
	}
	defer func() { c.img = nil }()
	if err := c.flush(ctx); err != nil {
		return fmt.Errorf("file connector %q: writing the file: %w", c.name, err)
	}
	return nil
}
