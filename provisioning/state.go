package provisioning

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/idsync/idsync/store"
)

// State is what provisioning remembers of an application between cycles,
// beside the engine (which keeps the accounts: the application's connector
// space): the quarantine and the cycles. It is one JSON store setting per
// application (SettingKey).
type State struct {
	// Accounts and Groups are the state of versions before the engine
	// (MV object ID → account); the first cycle turns them into links of
	// the connector space and drops them (migrate).
	Accounts map[string]*Account `json:"accounts,omitempty"`
	Groups   map[string]*Account `json:"groups,omitempty"`
	// Quarantine is set while the application is quarantined.
	Quarantine *Quarantine `json:"quarantine,omitempty"`
	// LastCycle is when the last completed cycle started ("" before the
	// first one) and LastStatus its outcome.
	LastCycle  time.Time `json:"lastCycle,omitzero"`
	LastStatus string    `json:"lastStatus,omitempty"`
	// Cycles counts the cycles run.
	Cycles int64 `json:"cycles"`
	// RulesHash identifies the rules the last full synchronization of the
	// application applied (RulesHash): when they change (assignments,
	// scope, mappings …), the next cycle synchronizes fully.
	RulesHash string `json:"rulesHash,omitempty"`
}

// Account is one account (or group) of the application linked to an MV
// object, as versions before the engine kept it.
type Account struct {
	// ID is the SCIM id.
	ID string `json:"id"`
	// Name is the account's userName (or first matching attribute), for
	// reports.
	Name string `json:"name,omitempty"`
	// Hashes are the hashes of the values last exported, by target
	// attribute.
	Hashes map[string]string `json:"h,omitempty"`
	// Disabled is set once the account was disabled (deprovisioned).
	Disabled bool `json:"disabled,omitempty"`
	// Matched is set when the account existed before idsync provisioned it.
	Matched bool `json:"matched,omitempty"`
	// Members (groups only) are the SCIM ids of the members idsync last
	// exported, sorted.
	Members []string `json:"members,omitempty"`
}

// Quarantine records a quarantined application.
type Quarantine struct {
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
	Level  int       `json:"level"`
	Reason string    `json:"reason"`
}

// SettingKey is the store setting that holds an application's state.
func SettingKey(app string) string { return "provisioning/" + app }

// LoadState reads an application's state (empty when none).
func LoadState(ctx context.Context, st store.Store, app string) (*State, error) {
	s := &State{}
	v, err := st.Setting(ctx, SettingKey(app))
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("read the provisioning state of %q: %w", app, err)
	default:
		if err := json.Unmarshal([]byte(v), s); err != nil {
			return nil, fmt.Errorf("read the provisioning state of %q: %w", app, err)
		}
	}
	if s.Accounts == nil {
		s.Accounts = map[string]*Account{}
	}
	if s.Groups == nil {
		s.Groups = map[string]*Account{}
	}
	return s, nil
}

// SaveState writes an application's state.
func SaveState(ctx context.Context, st store.Store, app string, s *State) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := st.SetSetting(ctx, SettingKey(app), string(b)); err != nil {
		return fmt.Errorf("save the provisioning state of %q: %w", app, err)
	}
	return nil
}
