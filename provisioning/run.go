package provisioning

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/connector/scim"
	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// Errors Run returns.
var (
	// ErrQuarantined: the application is quarantined and its retry time
	// has not come (Options.Force runs it anyway).
	ErrQuarantined = errors.New("the application is quarantined")
	// ErrDeleteThreshold: the cycle would disable or delete more accounts
	// than the application's deleteThreshold; it disabled none. It wraps
	// the engine's engine.ErrDeleteThreshold.
	ErrDeleteThreshold = fmt.Errorf("accidental-delete guard: %w", engine.ErrDeleteThreshold)
	// ErrCycleFailed: the cycle could not run (connection test, import or
	// synchronization failed).
	ErrCycleFailed = errors.New("the provisioning cycle failed")
)

// Options tune one cycle.
type Options struct {
	// DataDir holds the activity reports (required).
	DataDir string
	// Force runs a quarantined application before its retry time.
	Force bool
	// AllowDeprovision lets this cycle disable or delete more accounts
	// than the threshold.
	AllowDeprovision bool
	// Only restricts the cycle's export to these MV objects ("provision
	// this user now"): their accounts, and their memberships in the groups
	// the application has (a group not created yet is created with them);
	// everything else stays pending for the next cycle.
	Only []string
	// Full synchronizes the application fully even when its rules did not
	// change since the last full synchronization (every MV object is
	// evaluated again, not only those changed since).
	Full bool
	// Progress, when set, is called with the operations done and planned.
	Progress func(done, total int)
	// Now returns the time (tests); default time.Now.
	Now func() time.Time
}

// Result is the outcome of one cycle.
type Result struct {
	App     string    `json:"app"`
	Cycle   int64     `json:"cycle"`
	Started time.Time `json:"started"`
	// Status: off, quarantined, success, completed-with-errors, failed.
	Status string `json:"status"`
	// FullSync is set when the cycle synchronized the application fully
	// (its first cycle, its rules changed, or Options.Full).
	FullSync bool `json:"fullSync,omitempty"`
	// InScope is the number of operations the cycle's export had to send;
	// Done those finished (sent, or failed).
	InScope int `json:"inScope"`
	Done    int `json:"done"`

	Created  int `json:"created"`
	Updated  int `json:"updated"`
	Disabled int `json:"disabled"`
	Deleted  int `json:"deleted"`
	// Skipped counts the accounts and groups the application has from
	// idsync that needed no change.
	Skipped   int           `json:"skipped"`
	Errors    int           `json:"errors"`
	ErrorList []ObjectError `json:"errorList,omitempty"`
	// Runs are the engine runs of the cycle (import, synchronization,
	// export), as `idsync runs` lists them.
	Runs []int64 `json:"runs,omitempty"`
	// Quarantine is set when the application is (still or newly)
	// quarantined.
	Quarantine *Quarantine `json:"quarantine,omitempty"`
	// Message explains a failed, stopped or quarantined cycle.
	Message string `json:"message,omitempty"`
	// Guarded is set when the accidental-delete guard stopped the
	// cycle's disables and deletes.
	Guarded bool `json:"guarded,omitempty"`
	// MailError is set when the notification could not be sent.
	MailError string `json:"mailError,omitempty"`
}

// ObjectError is one failed object.
type ObjectError struct {
	Object  string `json:"object"`
	Message string `json:"message"`
}

// Statuses.
const (
	StatusOff         = "off"
	StatusQuarantined = "quarantined"
	StatusSuccess     = "success"
	StatusWithErrors  = "completed-with-errors"
	StatusFailed      = "failed"
)

// cycle is the state of one running cycle.
type cycle struct {
	app   *App
	e     *engine.Engine
	opts  Options
	state *State
	res   *Result
	log   *activityLog
	now   func() time.Time
	// attempts counts the operations tried (for the quarantine ratio) and
	// authFail remembers a credentials or reachability failure.
	attempts int
	authFail error
	mu       sync.Mutex
}

// Run runs one provisioning cycle of the application as runs of the sync
// engine e, which must have the application's connector and rules
// (App.Connector, File.RuleFile): a full import of the application (what
// exists there, for matching and drift), a synchronization of it (full —
// every MV object against the application's rules — on the first cycle,
// when the rules changed, or with Options.Full; else delta), and an export of its pending exports — journaled before they are sent,
// counted by the accidental-delete guard, recorded in the run history.
// Every export goes to the activity report. The returned error is
// ErrQuarantined, ErrDeleteThreshold or ErrCycleFailed (wrapped), or a
// store or report error; per-object errors are in the Result (and in the
// runs' history).
func Run(ctx context.Context, e *engine.Engine, a *App, opts Options) (*Result, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.DataDir == "" {
		return nil, errors.New("provisioning: Options.DataDir is required (the activity report's directory)")
	}
	if e.Connectors[a.Name] == nil {
		return nil, fmt.Errorf("provisioning: application %s is not installed in the engine (provisioning.Install)", a.Name)
	}
	state, err := LoadState(ctx, e.Store, a.Name)
	if err != nil {
		return nil, err
	}
	start := opts.Now()
	res := &Result{App: a.Name, Started: start, Cycle: state.Cycles + 1}
	if !a.On() {
		res.Status = StatusOff
		res.Message = fmt.Sprintf("provisioning of %s is off (provisioning: off, in provisioning.yaml or set from the console; turn it on with idsync provisioning enable %s)", a.Name, a.Name)
		return res, nil
	}
	if q := state.Quarantine; q != nil && start.Before(q.Until) && !opts.Force {
		res.Status, res.Quarantine, res.Cycle = StatusQuarantined, q, state.Cycles
		res.Message = fmt.Sprintf("%s is quarantined since %s: %s; next retry at %s (or run with --force once fixed)",
			a.Name, q.Since.UTC().Format(time.RFC3339), q.Reason, q.Until.UTC().Format(time.RFC3339))
		return res, fmt.Errorf("%w: %s", ErrQuarantined, res.Message)
	}
	lg, err := openActivityLog(LogPath(opts.DataDir, a.Name))
	if err != nil {
		return nil, err
	}
	c := &cycle{app: a, e: e, opts: opts, state: state, res: res, log: lg, now: opts.Now}
	runErr := c.run(ctx)
	if err := lg.close(); err != nil && runErr == nil {
		runErr = err
	}
	return res, runErr
}

func (c *cycle) activity(act *Activity) {
	act.Time = c.now().UTC()
	act.App = c.app.Name
	act.Cycle = c.res.Cycle
	c.log.add(act)
}

func (c *cycle) fail(object, name, scimID, msg string) {
	c.mu.Lock()
	c.res.Errors++
	c.res.ErrorList = append(c.res.ErrorList, ObjectError{Object: or(name, object), Message: msg})
	c.mu.Unlock()
	c.activity(&Activity{Action: ActError, Object: object, Name: name, SCIMID: scimID, Error: msg})
}

// failCycle ends a cycle that could not run: the application is
// quarantined.
func (c *cycle) failCycle(ctx context.Context, msg string) error {
	c.fail("", "", "", msg)
	c.res.Status = StatusFailed
	c.res.Message = msg
	c.quarantine(msg)
	return c.finish(ctx, fmt.Errorf("%w: %s", ErrCycleFailed, msg))
}

func (c *cycle) run(ctx context.Context) error {
	a, res := c.app, c.res
	c.state.Cycles = res.Cycle
	c.activity(&Activity{Action: ActCycle, Reason: "started"})

	// A cycle starts with a connection test: when the endpoint is down or
	// rejects the credentials, nothing else can work.
	if tc, ok := c.e.Connectors[a.Name].Conn.(connector.Tester); ok {
		if err := tc.TestConnection(ctx); err != nil {
			c.noteAuth(err)
			return c.failCycle(ctx, "test connection failed: "+err.Error())
		}
	}
	if err := c.migrate(ctx); err != nil {
		return err
	}
	// The directory synchronizations stage the application's changes as
	// they go (its rules are in the one rule set): a delta synchronization
	// of the application then only takes in what its import changed. A full
	// one evaluates every MV object again: on the first cycle, when the
	// application's rules changed, or when asked.
	hash, err := a.RulesHash()
	if err != nil {
		return err
	}
	res.FullSync = c.opts.Full || c.state.RulesHash != hash || c.state.LastCycle.IsZero()
	sync := engine.DeltaSync
	if res.FullSync {
		sync = engine.FullSync
	}
	for _, p := range []engine.Profile{engine.FullImport, sync} {
		runs, err := c.e.Run(ctx, a.Name, p, engine.RunOptions{})
		c.collect(ctx, runs)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			c.noteAuth(err)
			return c.failCycle(ctx, fmt.Sprintf("%s: %v", p, err))
		}
	}
	if res.FullSync {
		c.state.RulesHash = hash
	}
	runs, err := c.e.Run(ctx, a.Name, engine.Export, engine.RunOptions{AllowDeletes: c.opts.AllowDeprovision, OnExport: c.exported, Only: c.opts.Only})
	c.collect(ctx, runs)
	var guardErr error
	switch {
	case errors.Is(err, engine.ErrDeleteThreshold):
		res.Guarded = true
		res.Message = fmt.Sprintf("accidental-delete guard (deleteThreshold %d): %v; for an application: check the assignments and scoping filter, then run `idsync provisioning run %s --allow-deprovision`",
			a.DeleteThreshold, strings.TrimPrefix(err.Error(), engine.ErrDeleteThreshold.Error()+": "), a.Name)
		c.activity(&Activity{Action: ActError, Reason: "accidental-delete guard", Error: res.Message})
		guardErr = fmt.Errorf("%w: %s", ErrDeleteThreshold, res.Message)
	case err != nil && ctx.Err() != nil:
		return err
	case err != nil:
		c.noteAuth(err)
		return c.failCycle(ctx, fmt.Sprintf("export: %v", err))
	}
	if n, err := c.e.Store.CountCS(ctx, a.Name); err == nil && len(c.opts.Only) == 0 {
		res.Skipped = max(0, int(n)-res.Created-res.Updated-res.Disabled-res.Deleted-res.Errors)
	}
	if res.Errors > 0 || guardErr != nil {
		res.Status = StatusWithErrors
	} else {
		res.Status = StatusSuccess
	}
	c.evaluateQuarantine()
	return c.finish(ctx, guardErr)
}

// collect records the cycle's engine runs and their per-object errors
// (the export's errors come through exported).
func (c *cycle) collect(ctx context.Context, runs []*store.Run) {
	for _, r := range runs {
		if r == nil || r.ID == 0 {
			continue
		}
		c.res.Runs = append(c.res.Runs, r.ID)
		if r.Profile == string(engine.Export) {
			continue
		}
		errs, err := c.e.Store.RunErrors(ctx, r.ID)
		if err != nil {
			continue
		}
		for _, re := range errs {
			c.fail(re.CSID, re.Object, "", fmt.Sprintf("%s: %s", r.Profile, re.Message))
		}
	}
}

// exported turns one export outcome into the cycle's counts and activity
// report.
func (c *cycle) exported(ev engine.ExportEvent) {
	act := &Activity{Object: ev.MVID, SCIMID: ev.Anchor, Changes: c.shown(ev)}
	act.Name = c.objectName(ev)
	c.mu.Lock()
	c.attempts++
	c.res.InScope++
	c.res.Done++
	c.mu.Unlock()
	if ev.Err != nil {
		c.noteAuth(ev.Err)
		c.fail(ev.MVID, act.Name, ev.Anchor, fmt.Sprintf("%s: %s", opName(ev.Op), c.scrub(ev, ev.Err.Error())))
		c.progress()
		return
	}
	c.mu.Lock()
	switch {
	case ev.Op == connector.OpAdd:
		act.Action = ActCreate
		c.res.Created++
	case ev.Op == connector.OpDelete:
		act.Action, act.Changes, act.Reason = ActDelete, nil, ReasonDeprovisioned
		c.res.Deleted++
	case c.isDisable(ev):
		act.Action, act.Reason = ActDisable, ReasonDeprovisioned
		c.res.Disabled++
	default:
		act.Action = ActUpdate
		c.res.Updated++
	}
	c.mu.Unlock()
	c.activity(act)
	c.progress()
}

func opName(op connector.Op) string {
	switch op {
	case connector.OpAdd:
		return ActCreate
	case connector.OpDelete:
		return ActDelete
	}
	return ActUpdate
}

// isDisable reports whether an update is the users rule's deprovisioning:
// active set to false by the engine because the user left the scope.
func (c *cycle) isDisable(ev engine.ExportEvent) bool {
	if c.app.Deprovision != "disable" || ev.Op != connector.OpUpdate || len(ev.Changes) != 1 {
		return false
	}
	ch := ev.Changes[0]
	return strings.EqualFold(ch.Name, "active") && len(ch.Values) == 1 && strings.EqualFold(ch.Values[0], "false")
}

// objectName is the name of an exported object in reports: its first
// matching attribute's value, else userName or displayName.
func (c *cycle) objectName(ev engine.ExportEvent) string {
	matchers := c.app.matchers
	if strings.EqualFold(ev.ObjectType, c.app.GroupObjectType) {
		matchers = c.app.groupMatchers
	}
	find := func(name string) string {
		for _, ch := range ev.Changes {
			if strings.EqualFold(ch.Name, name) && len(ch.Values) > 0 {
				return ch.Values[0]
			}
		}
		return ""
	}
	for _, n := range append(targets(matchers), "userName", "displayName") {
		if v := find(n); v != "" {
			return v
		}
		if v := ev.Attrs.First(n); v != "" {
			return v
		}
	}
	return ev.Anchor
}

func targets(ms []*Mapping) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.Target)
	}
	return out
}

// mappingsOf returns the mappings of the exported object's kind.
func (c *cycle) mappingsOf(ev engine.ExportEvent) []*Mapping {
	if strings.EqualFold(ev.ObjectType, c.app.GroupObjectType) && !strings.EqualFold(ev.ObjectType, c.app.ObjectType) {
		return c.app.GroupMappings
	}
	return c.app.Mappings
}

// shown returns an export's changes as the activity report shows them:
// redacted mappings' values hidden, member changes named.
func (c *cycle) shown(ev engine.ExportEvent) map[string][]string {
	if len(ev.Changes) == 0 {
		return nil
	}
	ms := c.mappingsOf(ev)
	out := map[string][]string{}
	for _, ch := range ev.Changes {
		name := ch.Name
		switch ch.Mode {
		case connector.AddVals:
			name += " (added)"
		case connector.DelVals:
			name += " (removed)"
		}
		vals := ch.Values
		if len(vals) > maxShownValues {
			vals = append(slices.Clone(vals[:maxShownValues]), fmt.Sprintf("… %d more", len(ch.Values)-maxShownValues))
		}
		switch {
		case redacted(ms, ch.Name):
			vals = []string{RedactedValue}
		case ch.Type == model.Reference:
			vals = c.memberNames(vals)
		}
		if vals == nil {
			vals = []string{}
		}
		out[name] = vals
	}
	return out
}

// memberNames names the accounts and groups that reference values (the
// ids of members) stand for: their userName or displayName.
func (c *cycle) memberNames(vals []string) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = v
		if i == maxShownValues {
			break // "… n more"
		}
		o, err := c.e.Store.GetCSByAnchor(context.Background(), c.app.Name, v)
		if err != nil {
			continue
		}
		if n := or(o.Object.Attrs.First("userName"), o.Object.Attrs.First("displayName")); n != "" {
			out[i] = n
		}
	}
	return out
}

// maxShownValues is how many values of one attribute an activity entry
// lists (a group's members).
const maxShownValues = 50

func redacted(ms []*Mapping, target string) bool {
	for _, m := range ms {
		if m.redacted && strings.EqualFold(m.Target, target) {
			return true
		}
	}
	return false
}

// scrub hides, in an application's error message about an export, the
// values it sent for redacted mappings (an initial password the server
// quotes back).
func (c *cycle) scrub(ev engine.ExportEvent, msg string) string {
	ms := c.mappingsOf(ev)
	for _, ch := range ev.Changes {
		if !redacted(ms, ch.Name) {
			continue
		}
		for _, v := range ch.Values {
			if len(v) >= 4 {
				msg = strings.ReplaceAll(msg, v, RedactedValue)
			}
		}
	}
	return msg
}

func (c *cycle) progress() {
	if c.opts.Progress == nil {
		return
	}
	c.mu.Lock()
	done, total := c.res.Done, c.res.InScope
	c.mu.Unlock()
	c.opts.Progress(done, total)
}

// finish saves the state, records the cycle and sends the notification.
func (c *cycle) finish(ctx context.Context, err error) error {
	res := c.res
	if res.Status != StatusFailed && len(c.opts.Only) == 0 {
		c.state.LastCycle = res.Started
	}
	c.state.LastStatus = res.Status
	c.activity(&Activity{Action: ActCycle, Reason: "finished: " + res.Status,
		Error: map[bool]string{true: res.Message}[res.Status != StatusSuccess]})
	if serr := SaveState(ctx, c.e.Store, c.app.Name, c.state); serr != nil {
		return errors.Join(err, serr)
	}
	if res.Errors > 0 || res.Quarantine != nil || res.Guarded {
		if merr := notify(c.app, res); merr != nil {
			res.MailError = merr.Error()
		}
	}
	return err
}

// noteAuth remembers a credentials or reachability failure, which
// quarantines the application whatever the failure ratio.
func (c *cycle) noteAuth(err error) {
	if errors.Is(err, scim.ErrCredentials) || errors.Is(err, scim.ErrUnreachable) {
		c.mu.Lock()
		if c.authFail == nil {
			c.authFail = err
		}
		c.mu.Unlock()
	}
}

// evaluateQuarantine quarantines the application when most operations of
// the cycle failed, and lifts the quarantine after a good cycle.
func (c *cycle) evaluateQuarantine() {
	p := c.app.Quarantine
	failed := c.res.Errors
	switch {
	case c.authFail != nil:
		c.quarantine(c.authFail.Error())
	case c.attempts >= p.MinAttempts && float64(failed) >= p.FailureRatio*float64(c.attempts):
		c.quarantine(fmt.Sprintf("%d of %d operations failed (first error: %s)", failed, c.attempts, c.res.ErrorList[0].Message))
	default:
		if q := c.state.Quarantine; q != nil {
			c.activity(&Activity{Action: ActQuarantine, Reason: "lifted: the cycle succeeded"})
		}
		c.state.Quarantine = nil
	}
}

// quarantine puts the application in quarantine: the next cycle waits
// FirstRetry, doubled at every failed retry, up to MaxRetry.
func (c *cycle) quarantine(reason string) {
	p := c.app.Quarantine
	now := c.now()
	q := &Quarantine{Since: now, Level: 1, Reason: reason}
	if prev := c.state.Quarantine; prev != nil {
		q.Since, q.Level = prev.Since, prev.Level+1
	}
	wait := p.FirstRetry.Duration
	for i := 1; i < q.Level && wait < p.MaxRetry.Duration; i++ {
		wait *= 2
	}
	wait = min(wait, p.MaxRetry.Duration)
	q.Until = now.Add(wait)
	c.state.Quarantine = q
	c.res.Quarantine = q
	if c.res.Status != StatusFailed {
		c.res.Status = StatusQuarantined
	}
	msg := fmt.Sprintf("quarantined (retry %d in %s, at %s): %s", q.Level, wait, q.Until.UTC().Format(time.RFC3339), reason)
	if c.res.Message == "" {
		c.res.Message = msg
	} else {
		c.res.Message += "; " + msg
	}
	c.activity(&Activity{Action: ActQuarantine, Reason: "retry " + strconv.Itoa(q.Level) + " at " + q.Until.UTC().Format(time.RFC3339), Error: reason})
}

// migrate turns the state an earlier version kept (MV id → SCIM id of
// every account and group, one JSON store setting) into links of the
// application's connector space, once: each account becomes a
// connector-space object anchored on its SCIM id, joined to its MV object
// by the generated rule, so that the engine neither creates it again nor
// matches it anew. The full import that follows fills in its values.
// Accounts whose MV object is gone are left unlinked (reported): the
// engine never deletes what it has no link for.
func (c *cycle) migrate(ctx context.Context) error {
	s := c.state
	if len(s.Accounts) == 0 && len(s.Groups) == 0 {
		return nil
	}
	st, a := c.e.Store, c.app
	b := &store.Batch{}
	n := 0
	link := func(accounts map[string]*Account, objType, rule string) error {
		for _, mvid := range slices.Sorted(maps.Keys(accounts)) {
			acct := accounts[mvid]
			if acct == nil || acct.ID == "" {
				continue
			}
			cs, err := st.GetCSByAnchor(ctx, a.Name, acct.ID)
			switch {
			case errors.Is(err, store.ErrNotFound):
				cs = &store.CSObject{ID: uuid.NewString(), Connector: a.Name, Modified: c.now().UTC()}
				cs.Object.Anchor, cs.Object.Type = acct.ID, objType
			case err != nil:
				return fmt.Errorf("migrate the provisioning state of %s: %w", a.Name, err)
			}
			if cs.MVID != "" {
				continue // linked already
			}
			if _, err := st.GetMV(ctx, mvid); err != nil {
				c.activity(&Activity{Action: ActSkip, Object: mvid, Name: acct.Name, SCIMID: acct.ID,
					Reason: "migration: the metaverse object of this account is gone; the account is left as it is"})
				continue
			}
			cs.MVID, cs.LinkRule, cs.Provisioned = mvid, rule, !acct.Matched
			b.PutCS = append(b.PutCS, cs)
			n++
		}
		return nil
	}
	if err := link(s.Accounts, a.ObjectType, UsersRuleName(a.Name)); err != nil {
		return err
	}
	if err := link(s.Groups, a.GroupObjectType, GroupsRuleName(a.Name)); err != nil {
		return err
	}
	if err := st.Apply(ctx, b); err != nil {
		return fmt.Errorf("migrate the provisioning state of %s: %w", a.Name, err)
	}
	s.Accounts, s.Groups = nil, nil
	if err := SaveState(ctx, st, a.Name, s); err != nil {
		return err
	}
	c.activity(&Activity{Action: ActCycle, Reason: fmt.Sprintf("migration: %d accounts and groups of the earlier provisioning state linked in the connector space", n)})
	return nil
}

// TestConnection checks the application's SCIM endpoint (R3.2): the error
// wraps scim.ErrUnreachable, scim.ErrCredentials or scim.ErrDiscovery and
// says what to check.
func TestConnection(ctx context.Context, a *App) error {
	conn, err := scim.New(a.Name, a.scimCfg)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	return conn.TestConnection(ctx)
}

// Problem names the part of a failed connection test: reachability,
// credentials or schema.
func Problem(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, scim.ErrUnreachable):
		return "reachability"
	case errors.Is(err, scim.ErrCredentials):
		return "credentials"
	case errors.Is(err, scim.ErrDiscovery):
		return "schema"
	}
	return "other"
}
