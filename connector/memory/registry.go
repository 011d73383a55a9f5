package memory

import (
	"context"
	"fmt"
	"sync"

	"github.com/idsync/idsync/connector"
)

// TypeName is the connector type this package registers.
const TypeName = "memory"

func init() { connector.Register(TypeName, open) }

var (
	sharedMu sync.Mutex
	shared   = map[string]*Connector{}
)

// Shared returns the connector shared under name, creating an empty one the
// first time. The registered factory returns the same connector for a
// connector configured with that name, so tests pre-populate it before the
// engine opens it and inspect it afterwards.
func Shared(name string) *Connector {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	c, ok := shared[name]
	if !ok {
		c = New(name)
		shared[name] = c
	}
	return c
}

// DropShared forgets the connector shared under name; the next Shared or
// factory call creates an empty one.
func DropShared(name string) {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	delete(shared, name)
}

// open is the registered factory. The config block takes no keys.
func open(_ context.Context, name string, decode func(any) error) (connector.Connector, error) {
	var cfg struct{}
	if err := decode(&cfg); err != nil {
		return nil, fmt.Errorf("memory connector %q: config: %w", name, err)
	}
	return Shared(name), nil
}
