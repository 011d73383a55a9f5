package file

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// writeAtomic replaces the file at path with what write writes: it writes a
// temporary file in the same directory, syncs it to disk and renames it over
// path, so that readers and a crash see either the old or the new content,
// never a part. The file keeps its permissions (new files get 0600). A
// symbolic link at path is followed, so the file it points to is replaced.
// beforeRename, when set, is called with the sha256 of the new content once
// it is on disk, just before the rename; an error from it cancels the
// replacement. writeAtomic returns that sha256.
func writeAtomic(path string, wrap func(io.Writer) io.Writer, write func(io.Writer) error, beforeRename func(sum []byte) error) (sum []byte, err error) {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	mode := os.FileMode(0o600)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary file: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(mode); err != nil {
		return nil, fmt.Errorf("setting the mode of %s: %w", tmp, err)
	}
	var w io.Writer = f
	if wrap != nil {
		w = wrap(w)
	}
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, h), 256<<10)
	if err = write(bw); err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return nil, fmt.Errorf("syncing %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return nil, fmt.Errorf("closing %s: %w", tmp, err)
	}
	sum = h.Sum(nil)
	if beforeRename != nil {
		if err = beforeRename(sum); err != nil {
			return nil, err
		}
	}
	if err = os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("replacing %s: %w", path, err)
	}
	syncDir(dir)
	return sum, nil
}

// syncDir makes a rename, creation or removal in dir durable. Not every
// platform can sync a directory: it is best effort.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
