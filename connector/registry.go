package connector

import (
	"context"
	"fmt"
	"sort"
	"sync"
)

// Factory opens a connector from its configuration block. name is the
// connector's configured name; decode fills a type-specific config struct from
// the "config" block strictly (unknown keys are errors).
type Factory func(ctx context.Context, name string, decode func(any) error) (Connector, error)

var (
	mu       sync.RWMutex
	registry = map[string]Factory{}
)

// Register makes a connector type available under typeName. It is called from
// the init function of each connector package; registering a type twice panics.
func Register(typeName string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[typeName]; dup {
		panic("connector: Register called twice for type " + typeName)
	}
	registry[typeName] = f
}

// Lookup returns the factory for typeName.
func Lookup(typeName string) (Factory, error) {
	mu.RLock()
	defer mu.RUnlock()
	f, ok := registry[typeName]
	if !ok {
		return nil, fmt.Errorf("unknown connector type %q (known types: %v)", typeName, typesLocked())
	}
	return f, nil
}

// Types returns the registered type names, sorted.
func Types() []string {
	mu.RLock()
	defer mu.RUnlock()
	return typesLocked()
}

func typesLocked() []string {
	t := make([]string, 0, len(registry))
	for k := range registry {
		t = append(t, k)
	}
	sort.Strings(t)
	return t
}
