package tenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/idsync/idsync/connector/graph"
	"github.com/idsync/idsync/store"
)

// ConsentStore keeps the pending admin-consent requests of the Entra ID
// admin-consent flow (graph.Consent) in the provider's store, as settings
// "consent.<SHA-256 of the state token>": the token itself is never
// stored. Take is atomic within one process (idsync serve), which is
// where callbacks arrive.
type ConsentStore struct {
	St store.Store
	mu sync.Mutex
}

var _ graph.ConsentStore = (*ConsentStore)(nil)

func consentKey(key string) string { return "consent." + key }

// Put records a pending request.
func (c *ConsentStore) Put(ctx context.Context, st graph.ConsentState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return c.St.SetSetting(ctx, consentKey(st.Key), string(b))
}

// Peek returns the pending request with the key without taking it.
func (c *ConsentStore) Peek(ctx context.Context, key string) (graph.ConsentState, bool, error) {
	v, err := c.St.Setting(ctx, consentKey(key))
	if errors.Is(err, store.ErrNotFound) || err == nil && v == "" {
		return graph.ConsentState{}, false, nil
	}
	if err != nil {
		return graph.ConsentState{}, false, err
	}
	var st graph.ConsentState
	if err := json.Unmarshal([]byte(v), &st); err != nil {
		return graph.ConsentState{}, false, fmt.Errorf("pending consent request: %w", err)
	}
	return st, true, nil
}

// Take removes the pending request with the key and returns it.
func (c *ConsentStore) Take(ctx context.Context, key string) (graph.ConsentState, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok, err := c.Peek(ctx, key)
	if err != nil || !ok {
		return st, ok, err
	}
	return st, true, c.St.SetSetting(ctx, consentKey(key), "")
}
