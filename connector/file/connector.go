package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/idsync/idsync/connector"
)

// TypeName is the connector type this package registers.
const TypeName = "file"

func init() { connector.Register(TypeName, open) }

// Compile-time checks of the capabilities the connector offers. It is
// deliberately not a connector.DeltaImporter: a file has no change log, so
// the engine runs a full import every time.
var (
	_ connector.Connector       = (*Connector)(nil)
	_ connector.Tester          = (*Connector)(nil)
	_ connector.SchemaDescriber = (*Connector)(nil)
	_ connector.FullImporter    = (*Connector)(nil)
	_ connector.Exporter        = (*Connector)(nil)
	_ connector.ExportRunner    = (*Connector)(nil)
)

// Connector reads and writes one LDIF or CSV file. It is safe for concurrent
// use; exports are serialized.
type Connector struct {
	name string
	s    *settings

	mu       sync.Mutex // serializes exports; guards the fields below
	sessions int        // BeginExport calls not yet ended
	// img is the file with its journal replayed, kept between the Export
	// calls of an export run while disk says the files are unchanged.
	img  *image
	disk diskState
	// compactAt, when set (by tests), replaces journalCompactMin.
	compactAt int64
	// wrapWriter, when set (by tests), wraps the writer of the temporary
	// file an export writes.
	wrapWriter func(io.Writer) io.Writer
	// testHook, when set (by tests), is called at points of a rewrite; an
	// error stops the rewrite there.
	testHook func(point string) error
}

// open is the registered factory.
func open(_ context.Context, name string, decode func(any) error) (connector.Connector, error) {
	var cfg Config
	if err := decode(&cfg); err != nil {
		return nil, fmt.Errorf("file connector %q: config: %w", name, err)
	}
	return New(name, cfg)
}

// New returns a file connector named name (used in error messages) for cfg.
// It checks the configuration only: TestConnection checks the file.
func New(name string, cfg Config) (*Connector, error) {
	s, err := newSettings(cfg)
	if err != nil {
		return nil, fmt.Errorf("file connector %q: config: %w", name, err)
	}
	return &Connector{name: name, s: s}, nil
}

// Close folds the journal an unfinished export run left, if any, into the
// file. The connector keeps no file open between calls.
func (c *Connector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sessions = 0
	defer func() { c.img = nil }()
	if err := c.flush(context.Background()); err != nil {
		return fmt.Errorf("file connector %q: writing the file: %w", c.name, err)
	}
	return nil
}

// TestConnection checks that the file can be read (a missing file is fine
// for a target, it is created by the first export) and, for a target, that
// its directory is writable.
func (c *Connector) TestConnection(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.Open(c.s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && c.s.target:
	case err != nil:
		return fmt.Errorf("file connector %q: cannot read the file: %w", c.name, err)
	default:
		_, err = f.Read(make([]byte, 1))
		f.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("file connector %q: cannot read the file %s: %w", c.name, c.s.path, err)
		}
	}
	if !c.s.target {
		return nil
	}
	dir := filepath.Dir(c.s.path)
	tmp, err := os.CreateTemp(dir, ".idsync-write-test-*")
	if err != nil {
		return fmt.Errorf("file connector %q: the directory of the target file is not writable: %w", c.name, err)
	}
	tmp.Close()
	os.Remove(tmp.Name())
	return nil
}
