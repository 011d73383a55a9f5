// Package snapshot records what the configuration looked like at the last
// sync cycle — every sync rule, and a fingerprint of every connector's
// settings (partitions, containers, filters …) — so that before the next
// cycle an admin can see what changed (`idsync config diff`, R2.5), and so
// that a change is followed by the runs it needs: a changed connector gets a
// full import and a full synchronization, a changed inbound rule a full
// synchronization of its connector, a changed outbound rule a full
// synchronization of every connector (R2.9).
package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
)

// Key is the store setting that holds the snapshot of the last cycle.
const Key = "config.snapshot"

// Snapshot is the configuration as far as synchronization results depend on
// it. Connector settings are kept as hashes: they may hold secrets.
type Snapshot struct {
	Rules      map[string]json.RawMessage `json:"rules"`
	Connectors map[string]string          `json:"connectors"`
}

// Take builds the snapshot of a configuration and its merged rule set.
func Take(cfg *config.Config, rs *rules.RuleSet) (*Snapshot, error) {
	s := &Snapshot{Rules: map[string]json.RawMessage{}, Connectors: map[string]string{}}
	for _, r := range rs.Rules {
		c := *r
		c.Source = "" // where a rule is defined does not change what it does
		b, err := json.Marshal(c)
		if err != nil {
			return nil, fmt.Errorf("snapshot rule %q: %w", r.Name, err)
		}
		s.Rules[r.Name] = b
	}
	for _, cc := range cfg.Connectors {
		h := sha256.New()
		fmt.Fprintf(h, "type=%s\npartitions=%q\nparameters=%v\nunique=%q\nconfig=%s", cc.Type, cc.Partitions,
			sortedMap(cc.Parameters), cc.UniqueAttributes, cc.Config.Text())
		s.Connectors[cc.Name] = hex.EncodeToString(h.Sum(nil))
	}
	return s, nil
}

func sortedMap(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
	}
	return out
}

// Load reads the snapshot of the last cycle; nil when there is none.
func Load(ctx context.Context, st store.Store) (*Snapshot, error) {
	v, err := st.Setting(ctx, Key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s Snapshot
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return nil, fmt.Errorf("read the configuration snapshot: %w", err)
	}
	return &s, nil
}

// Save stores the snapshot as that of the last cycle.
func (s *Snapshot) Save(ctx context.Context, st store.Store) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return st.SetSetting(ctx, Key, string(b))
}

// Change is one difference between two snapshots.
type Change struct {
	Kind   string // "rule added", "rule removed", "rule changed", "connector changed", "connector added", "connector removed"
	Name   string
	Fields []string // for a changed rule: the keys that differ (scope, flows, disabled …)
	// Connector of a rule, and its direction.
	Connector string
	Outbound  bool
}

func (c Change) String() string {
	s := c.Kind + ": " + c.Name
	if len(c.Fields) > 0 {
		s += " (" + strings.Join(c.Fields, ", ") + ")"
	}
	return s
}

// Diff lists what changed from old to cur, rules first, in name order.
func Diff(old, cur *Snapshot) []Change {
	var out []Change
	if old == nil {
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(keys(old.Rules, cur.Rules))) {
		a, inOld := old.Rules[name]
		b, inCur := cur.Rules[name]
		switch {
		case !inOld:
			out = append(out, ruleChange("rule added", name, b, nil))
		case !inCur:
			out = append(out, ruleChange("rule removed", name, a, nil))
		case string(a) != string(b):
			out = append(out, ruleChange("rule changed", name, b, fieldDiff(a, b)))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(keys(old.Connectors, cur.Connectors))) {
		a, inOld := old.Connectors[name]
		b, inCur := cur.Connectors[name]
		switch {
		case !inOld:
			out = append(out, Change{Kind: "connector added", Name: name})
		case !inCur:
			out = append(out, Change{Kind: "connector removed", Name: name})
		case a != b:
			out = append(out, Change{Kind: "connector changed", Name: name})
		}
	}
	return out
}

// keys returns the keys of a and b.
func keys[V any](a, b map[string]V) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func ruleChange(kind, name string, raw json.RawMessage, fields []string) Change {
	var r struct {
		Connector string `json:"connector"`
		Direction string `json:"direction"`
	}
	_ = json.Unmarshal(raw, &r)
	return Change{Kind: kind, Name: name, Fields: fields, Connector: r.Connector, Outbound: r.Direction == string(rules.Outbound)}
}

// fieldDiff names the top-level keys of two rule JSON objects that differ.
func fieldDiff(a, b json.RawMessage) []string {
	var ma, mb map[string]json.RawMessage
	_ = json.Unmarshal(a, &ma)
	_ = json.Unmarshal(b, &mb)
	var out []string
	for k := range keys(ma, mb) {
		if string(ma[k]) != string(mb[k]) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// Needs says which runs a list of changes calls for: connectors to import in
// full, and connectors to synchronize in full.
func Needs(changes []Change, connectors []string) (fullImport, fullSync map[string]bool) {
	fullImport, fullSync = map[string]bool{}, map[string]bool{}
	for _, c := range changes {
		switch {
		case strings.HasPrefix(c.Kind, "connector"):
			fullImport[c.Name], fullSync[c.Name] = true, true
		case c.Outbound:
			for _, n := range connectors {
				fullSync[n] = true
			}
		case c.Connector != "":
			// An inbound rule may read an attribute no rule read before:
			// only a full import brings its values.
			fullImport[c.Connector], fullSync[c.Connector] = true, true
		}
	}
	return fullImport, fullSync
}

// Record notes in the stored snapshot that a run applied part of the current
// configuration: a full import of a connector (of every partition) applies
// its settings; a full synchronization applies its inbound rules. Without a
// stored snapshot (no cycle yet) it does nothing.
func Record(ctx context.Context, st store.Store, cur *Snapshot, connector string, fullImport bool) error {
	old, err := Load(ctx, st)
	if err != nil || old == nil {
		return err
	}
	if fullImport {
		if h, ok := cur.Connectors[connector]; ok {
			old.Connectors[connector] = h
		}
	} else {
		for name, raw := range cur.Rules {
			if c := ruleChange("", name, raw, nil); c.Connector == connector && !c.Outbound {
				old.Rules[name] = raw
			}
		}
		for name, raw := range old.Rules {
			if _, still := cur.Rules[name]; !still {
				if c := ruleChange("", name, raw, nil); c.Connector == connector && !c.Outbound {
					delete(old.Rules, name)
				}
			}
		}
	}
	return old.Save(ctx, st)
}
