package provisioning

import (
	"fmt"

	"github.com/idsync/idsync/connector/scim"
	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/rules"
)

// RuleFile returns the generated rules of every application (see Rules),
// as an out-of-box rules file: they are never edited in place, only
// disabled (or cloned into a user rules file). Merge it with the
// directory rules into the engine's one rule set.
func (f *File) RuleFile() (*rules.File, error) {
	rf := &rules.File{Name: f.Path, Immutable: true}
	for i, a := range f.Applications {
		rs, err := a.Rules(i)
		if err != nil {
			return nil, err
		}
		rf.Rules = append(rf.Rules, rs...)
	}
	return rf, nil
}

// Connector opens the application's connector for the engine: its SCIM
// connector, named after the application, guarded by its
// deleteThreshold (the guard holds back the disables and deletes; the
// creates and updates go on). The caller sets the import-shrink guard and limits of
// the installation.
func (a *App) Connector() (*engine.Connector, error) {
	conn, err := scim.New(a.Name, a.scimCfg)
	if err != nil {
		return nil, fmt.Errorf("application %s: %w", a.Name, err)
	}
	return &engine.Connector{Name: a.Name, Conn: conn, DeleteThreshold: a.DeleteThreshold, Parameters: a.Parameters,
		GuardHoldsDeletes: true}, nil
}
