package provisioning

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/connector/scim"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
)

// Errors Run returns.
var (
	// ErrQuarantined: the application is quarantined and its retry time
	// has not come (Options.Force runs it anyway).
	ErrQuarantined = errors.New("the application is quarantined")
	// ErrDeleteThreshold: the cycle would disable or delete more accounts
	// than the application's deleteThreshold; it disabled none.
	ErrDeleteThreshold = errors.New("accidental-delete guard")
	// ErrCycleFailed: the cycle could not run (connection test failed).
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
	// Only restricts the cycle to these MV object IDs ("provision this
	// user now"); accounts of other objects are left alone.
	Only []string
	// Progress, when set, is called with the objects done and in scope.
	Progress func(done, total int)
	// Connector is used instead of opening one from the app's SCIM block.
	Connector *scim.Connector
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
	// InScope is the number of accounts the cycle looked at; Done those
	// finished.
	InScope int `json:"inScope"`
	Done    int `json:"done"`

	Created   int           `json:"created"`
	Updated   int           `json:"updated"`
	Disabled  int           `json:"disabled"`
	Deleted   int           `json:"deleted"`
	Skipped   int           `json:"skipped"`
	Errors    int           `json:"errors"`
	ErrorList []ObjectError `json:"errorList,omitempty"`
	// Warnings are assignments that match nothing.
	Warnings []string `json:"warnings,omitempty"`
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
	st    store.Store
	opts  Options
	conn  *scim.Connector
	state *State
	res   *Result
	log   *activityLog
	mv    *metaverse
	now   func() time.Time
	// since: MV objects modified after it are reported even when skipped.
	since    time.Time
	attempts int
	authFail error
	mu       sync.Mutex
}

// item is one account operation planned by the cycle.
type item struct {
	mvID    string
	name    string
	act     string // ActCreate, ActUpdate, ActDisable, ActDelete
	reason  string
	op      connector.ExportOp
	hashes  map[string]string // hashes after success
	changes map[string][]string
	matched bool
	acct    *Account
	want    map[string]model.Values // the mapped values (creates)

	// Groups: k is the kind of object; members are the MV ids of the
	// members the group should have, found the resource a matching one.
	k       *kind
	members []string
	found   *model.Object
	ok      bool // recorded as done
}

// kind is what differs between provisioning users and groups.
type kind struct {
	group      bool
	objectType string
	mappings   []*Mapping
	matchers   []*Mapping
}

func (c *cycle) userKind() *kind {
	return &kind{objectType: c.app.ObjectType, mappings: c.app.Mappings, matchers: c.app.matchers}
}

func (c *cycle) groupKind() *kind {
	return &kind{group: true, objectType: c.app.GroupObjectType, mappings: c.app.GroupMappings, matchers: c.app.groupMatchers}
}

// accounts returns the state's accounts of the item's kind.
func (c *cycle) accounts(it *item) map[string]*Account {
	if it.k != nil && it.k.group {
		return c.state.Groups
	}
	return c.state.Accounts
}

// Run runs one provisioning cycle of the application: it reads the
// metaverse, creates and updates the accounts of the assigned users in
// scope, and disables (or deletes) the accounts of those no longer
// assigned or in scope. Every action goes to the activity report. The
// returned error is ErrQuarantined, ErrDeleteThreshold or ErrCycleFailed
// (wrapped), or a store or report error; per-object errors are in the
// Result only.
func Run(ctx context.Context, a *App, st store.Store, opts Options) (*Result, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.DataDir == "" {
		return nil, errors.New("provisioning: Options.DataDir is required (the activity report's directory)")
	}
	state, err := LoadState(ctx, st, a.Name)
	if err != nil {
		return nil, err
	}
	start := opts.Now()
	res := &Result{App: a.Name, Started: start, Cycle: state.Cycles + 1}
	if !a.On() {
		res.Status = StatusOff
		res.Message = fmt.Sprintf("provisioning of %s is off (provisioning: off)", a.Name)
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
	c := &cycle{app: a, st: st, opts: opts, state: state, res: res, log: lg, now: opts.Now, since: state.LastCycle}
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

func (c *cycle) skip(mvID, name, reason string, report bool) {
	c.res.Skipped++
	if report {
		c.activity(&Activity{Action: ActSkip, Object: mvID, Name: name, Reason: reason})
	}
}

func (c *cycle) run(ctx context.Context) error {
	a, res := c.app, c.res
	c.state.Cycles = res.Cycle
	c.conn = c.opts.Connector
	if c.conn == nil {
		conn, err := scim.New(a.Name, a.scimCfg)
		if err != nil {
			return err
		}
		defer func() { _ = conn.Close() }()
		c.conn = conn
	}
	c.activity(&Activity{Action: ActCycle, Reason: "started"})

	// A cycle starts with a connection test: when the endpoint is down or
	// rejects the credentials, nothing else can work.
	if err := c.conn.TestConnection(ctx); err != nil {
		c.fail("", "", "", err.Error())
		res.Status = StatusFailed
		res.Message = "test connection failed: " + err.Error()
		c.quarantine(res.Message)
		return c.finish(ctx, fmt.Errorf("%w: %s", ErrCycleFailed, res.Message))
	}

	mv, err := loadMetaverse(ctx, c.st, a)
	if err != nil {
		return err
	}
	c.mv = mv
	roles, warnings := mv.assignments(a)
	res.Warnings = warnings
	only := map[string]bool{}
	for _, id := range c.opts.Only {
		only[id] = true
	}

	uk := c.userKind()
	var creates, updates, deprov []*item
	// active: the persons whose accounts stay enabled (group members).
	active := map[string]bool{}
	ids := make([]string, 0, len(mv.persons))
	for id := range mv.persons {
		if len(only) == 0 || only[id] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := mv.persons[id]
		acct := c.state.Accounts[id]
		report := c.since.IsZero() || p.Modified.After(c.since) || len(only) > 0
		sub := &subject{mv: mv, obj: p, roles: roles[id], app: a}
		name := p.Attrs.First("accountName")
		if acct != nil && acct.Name != "" {
			name = acct.Name
		}
		reason := ""
		if len(sub.roles) == 0 {
			reason = ReasonNotAssigned
		} else if ok, err := a.Scope.Match(sub); err != nil {
			c.fail(id, name, "", "scoping filter: "+err.Error())
			continue
		} else if !ok {
			reason = ReasonOutOfScope
		}
		if reason != "" {
			if it := c.deprovision(id, acct, reason); it != nil {
				deprov = append(deprov, it)
			} else {
				c.skip(id, name, reason, report)
			}
			continue
		}
		active[id] = true
		it, err := c.plan(ctx, uk, sub, acct)
		if err != nil {
			c.fail(id, name, accountID(acct), err.Error())
			continue
		}
		switch {
		case it == nil:
			c.skip(id, name, ReasonNoChange, report)
		case it.act == ActCreate:
			creates = append(creates, it)
		default:
			updates = append(updates, it)
		}
	}
	// Accounts whose MV object left the metaverse.
	if len(only) == 0 {
		var gone []string
		for id := range c.state.Accounts {
			if mv.persons[id] == nil {
				gone = append(gone, id)
			}
		}
		sort.Strings(gone)
		for _, id := range gone {
			if it := c.deprovision(id, c.state.Accounts[id], ReasonNotAssigned+" (deleted from the metaverse)"); it != nil {
				deprov = append(deprov, it)
			}
		}
	}
	// Groups: planned after the users are exported (their members are the
	// users' SCIM ids); deletes are known now, for the guard.
	var gscope map[string][]string
	var gdel []*item
	if a.GroupsOn() && len(only) == 0 {
		gscope, gdel = c.groupScope(mv)
	}
	res.InScope = len(creates) + len(updates) + len(deprov) + len(gdel)
	c.progress()

	// Matching (R3.4): look for existing accounts before creating.
	creates = c.match(ctx, uk, creates)
	for _, it := range creates {
		if it.act == ActUpdate {
			updates = append(updates, it)
		}
	}
	var adds []*item
	for _, it := range creates {
		if it.act == ActCreate {
			adds = append(adds, it)
		}
	}

	var guardErr error
	if th := a.DeleteThreshold; th >= 0 && len(deprov)+len(gdel) > th && !c.opts.AllowDeprovision {
		what := fmt.Sprintf("%s %d accounts", a.Deprovision, len(deprov))
		if len(gdel) > 0 {
			what += fmt.Sprintf(" and delete %d groups", len(gdel))
		}
		msg := fmt.Sprintf("the cycle would %s, more than deleteThreshold %d: none was %sd; check the assignments and scoping filter, then run with --allow-deprovision",
			what, th, a.Deprovision)
		c.activity(&Activity{Action: ActError, Reason: "accidental-delete guard", Error: msg})
		res.Message = msg
		guardErr = fmt.Errorf("%w: %s", ErrDeleteThreshold, msg)
		res.Guarded = true
		deprov, gdel = nil, nil
	}

	// Users first, then groups (their members are the users' SCIM ids),
	// then the deprovisioning: a user leaves its groups before its
	// account is disabled or deleted.
	c.exportAll(ctx, append(adds, updates...))
	if gscope != nil {
		if err := c.groups(ctx, mv, gscope, active); err != nil {
			return err
		}
	}
	c.exportAll(ctx, append(gdel, deprov...))

	switch {
	case res.Errors > 0 || guardErr != nil:
		res.Status = StatusWithErrors
	default:
		res.Status = StatusSuccess
	}
	c.evaluateQuarantine()
	return c.finish(ctx, guardErr)
}

// exportAll exports items, then the follow-up updates of adds that met an
// existing account (409).
func (c *cycle) exportAll(ctx context.Context, items []*item) {
	if conflicts := c.export(ctx, items); len(conflicts) > 0 {
		c.export(ctx, conflicts)
	}
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
	if serr := SaveState(ctx, c.st, c.app.Name, c.state); serr != nil {
		return errors.Join(err, serr)
	}
	if res.Errors > 0 || res.Quarantine != nil || res.Guarded {
		if merr := notify(c.app, res); merr != nil {
			res.MailError = merr.Error()
		}
	}
	return err
}

// deprovision plans disabling or deleting the account of an MV object that
// is no longer assigned or in scope; nil when there is nothing to do.
func (c *cycle) deprovision(mvID string, acct *Account, reason string) *item {
	if acct == nil || (acct.Disabled && c.app.Deprovision == "disable") {
		return nil
	}
	it := &item{mvID: mvID, name: acct.Name, reason: reason, acct: acct, k: c.userKind()}
	it.op = connector.ExportOp{ID: mvID, Anchor: acct.ID, ObjectType: c.app.ObjectType}
	if c.app.Deprovision == "delete" {
		it.act, it.op.Op = ActDelete, connector.OpDelete
		return it
	}
	it.act, it.op.Op = ActDisable, connector.OpUpdate
	it.op.Changes = []connector.AttrChange{{Name: "active", Mode: connector.Replace, Type: model.Boolean, Values: []string{"false"}}}
	it.changes = map[string][]string{"active": {"false"}}
	it.hashes = map[string]string{"active": hashValues(model.Values{Type: model.Boolean, Values: []string{"false"}})}
	return it
}

// desired evaluates the mappings on a person: target → values. A mapping
// giving IgnoreThisFlow is left out; Null gives no values.
func (c *cycle) desired(ctx context.Context, k *kind, sub *subject, acct *Account) (map[string]model.Values, error) {
	out := map[string]model.Values{}
	hasActive := k.group // groups have no active
	for _, m := range k.mappings {
		if strings.EqualFold(m.Target, "active") {
			hasActive = true
		}
		if m.Apply == "create" && acct != nil {
			continue
		}
		switch {
		case m.Source != "":
			out[m.Target] = sub.Attr(m.Source)
		case m.Constant != "":
			out[m.Target] = model.Str(m.Constant)
		default:
			target := m.Target
			sub.unique = func(v string) (bool, error) {
				c.mu.Lock()
				c.attempts++
				c.mu.Unlock()
				o, err := c.conn.Find(ctx, k.objectType, target, v)
				if err != nil || o == nil {
					return false, err
				}
				return acct == nil || o.Anchor != acct.ID, nil
			}
			r, err := m.compiled.Eval(sub)
			sub.unique = nil
			if err != nil {
				return nil, fmt.Errorf("mapping of %s: %w", m.Target, err)
			}
			switch r.Kind {
			case rules.IgnoreThisFlow:
				continue
			case rules.Value:
				out[m.Target] = r.Values
			default:
				out[m.Target] = model.Values{}
			}
		}
	}
	if !hasActive {
		out["active"] = model.Values{Type: model.Boolean, Values: []string{"true"}}
	}
	return out, nil
}

// plan computes the create or update of an assigned person in scope; nil
// means no change.
func (c *cycle) plan(ctx context.Context, k *kind, sub *subject, acct *Account) (*item, error) {
	want, err := c.desired(ctx, k, sub, acct)
	if err != nil {
		return nil, err
	}
	id := sub.obj.ID
	it := &item{mvID: id, name: c.accountName(k, want, sub), hashes: map[string]string{}, changes: map[string][]string{}, acct: acct, k: k}
	for _, t := range sortedTargets(want) {
		v := want[t]
		h := hashValues(v)
		if acct != nil && acct.Hashes[t] == h {
			continue
		}
		if acct == nil && len(v.Values) == 0 {
			continue
		}
		it.hashes[t] = h
		it.op.Changes = append(it.op.Changes, connector.AttrChange{Name: t, Mode: connector.Replace, Type: v.Type, Values: v.Values})
		it.changes[t] = c.shown(k, t, v.Values)
	}
	it.op.ID, it.op.ObjectType = id, k.objectType
	if acct == nil {
		it.act, it.op.Op, it.op.Anchor = ActCreate, connector.OpAdd, id
		it.want = want
		return it, nil
	}
	it.act, it.op.Op, it.op.Anchor = ActUpdate, connector.OpUpdate, acct.ID
	if len(it.op.Changes) == 0 && !k.group {
		return nil, nil
	}
	if acct.Disabled {
		it.reason = "assigned and in scope again: re-enabled"
	}
	return it, nil
}

// accountName is the name of an account in reports: its first matching
// attribute's value, else userName, else the MV accountName.
func (c *cycle) accountName(k *kind, want map[string]model.Values, sub *subject) string {
	if k.group {
		if v := want["displayName"]; len(v.Values) > 0 {
			return v.Values[0]
		}
		return sub.obj.Attrs.First("displayName")
	}
	for _, m := range k.matchers {
		if v := want[m.Target]; len(v.Values) > 0 {
			return v.Values[0]
		}
	}
	if v := want["userName"]; len(v.Values) > 0 {
		return v.Values[0]
	}
	return sub.obj.Attrs.First("accountName")
}

// scrub hides, in an application's error message about an item, the
// values the item sent for redacted mappings (an initial password the
// server quotes back).
func (c *cycle) scrub(it *item, msg string) string {
	if it.k == nil {
		return msg
	}
	for _, ch := range it.op.Changes {
		for _, m := range it.k.mappings {
			if !m.redacted || !strings.EqualFold(m.Target, ch.Name) {
				continue
			}
			for _, v := range ch.Values {
				if len(v) >= 4 {
					msg = strings.ReplaceAll(msg, v, RedactedValue)
				}
			}
		}
	}
	return msg
}

// shown returns values as the activity report shows them.
func (c *cycle) shown(k *kind, target string, vals []string) []string {
	for _, m := range k.mappings {
		if m.redacted && strings.EqualFold(m.Target, target) {
			return []string{RedactedValue}
		}
	}
	if vals == nil {
		return []string{}
	}
	return vals
}

// match looks for an existing account of every planned create by the
// matching attributes, in precedence order (R3.4). A match turns the
// create into an update of the existing account (only the attributes
// that differ are sent).
func (c *cycle) match(ctx context.Context, k *kind, creates []*item) []*item {
	if len(k.matchers) == 0 || len(creates) == 0 {
		return creates
	}
	workers := c.app.scimCfg.Concurrency
	if workers <= 0 {
		workers = scim.DefaultConcurrency
	}
	var wg sync.WaitGroup
	ch := make(chan *item)
	failed := make([]bool, len(creates))
	index := map[*item]int{}
	for i, it := range creates {
		index[it] = i
	}
	for range workers {
		wg.Go(func() {
			for it := range ch {
				if err := c.matchOne(ctx, k, it); err != nil {
					c.fail(it.mvID, it.name, "", err.Error())
					failed[index[it]] = true
					c.done()
				}
			}
		})
	}
	for _, it := range creates {
		ch <- it
	}
	close(ch)
	wg.Wait()
	out := creates[:0]
	for i, it := range creates {
		if !failed[i] {
			out = append(out, it)
		}
	}
	return out
}

func (c *cycle) matchOne(ctx context.Context, k *kind, it *item) error {
	for _, m := range k.matchers {
		v := it.want[m.Target]
		if len(v.Values) == 0 || v.Values[0] == "" {
			continue
		}
		c.mu.Lock()
		c.attempts++
		c.mu.Unlock()
		o, err := c.conn.Find(ctx, k.objectType, m.Target, v.Values[0])
		if err != nil {
			c.noteAuth(err)
			return fmt.Errorf("matching by %s: %w", m.Target, err)
		}
		if o == nil {
			continue
		}
		it.matched, it.found = true, o
		what := "account"
		if k.group {
			what = "group"
		}
		it.reason = fmt.Sprintf("matched the existing %s by %s %q", what, m.Target, v.Values[0])
		it.act, it.op.Op, it.op.Anchor = ActUpdate, connector.OpUpdate, o.Anchor
		// Send only what differs from the account as it is.
		var chs []connector.AttrChange
		shown := map[string][]string{}
		for _, ch := range it.op.Changes {
			if o.Attrs[ch.Name].Equal(model.Values{Type: o.Attrs[ch.Name].Type, Values: ch.Values}) {
				continue
			}
			chs = append(chs, ch)
			shown[ch.Name] = c.shown(k, ch.Name, ch.Values)
		}
		it.op.Changes, it.changes = chs, shown
		for t, v := range it.want {
			it.hashes[t] = hashValues(v)
		}
		return nil
	}
	return nil
}

// exportBatch is the number of operations per call to the connector.
const exportBatch = 500

// export sends the planned operations and records their results. It
// returns follow-up updates for adds that met an existing account.
func (c *cycle) export(ctx context.Context, items []*item) []*item {
	var follow []*item
	for start := 0; start < len(items); start += exportBatch {
		batch := items[start:min(start+exportBatch, len(items))]
		byID := map[string]*item{}
		var ops []connector.ExportOp
		for _, it := range batch {
			if it.op.Op == connector.OpUpdate && len(it.op.Changes) == 0 {
				// A matched account that already has every value.
				c.record(it, it.op.Anchor)
				continue
			}
			byID[it.op.ID] = it
			ops = append(ops, it.op)
		}
		if len(ops) == 0 {
			continue
		}
		c.mu.Lock()
		c.attempts += len(ops)
		c.mu.Unlock()
		for _, r := range c.conn.Export(ctx, ops) {
			it := byID[r.ID]
			if it == nil {
				continue
			}
			switch {
			case r.Err == nil:
				anchor := r.Anchor
				if anchor == "" {
					anchor = it.op.Anchor
				}
				c.record(it, anchor)
			case it.act == ActCreate && errors.Is(r.Err, connector.ErrAlreadyExists) && r.Anchor != "":
				// The account exists (a uniqueness conflict on userName):
				// link it and update it with every mapped value.
				it.act, it.matched = ActUpdate, true
				it.reason = "matched the existing account the application reported as a conflict"
				it.op.Op, it.op.Anchor = connector.OpUpdate, r.Anchor
				if it.k != nil && it.k.group {
					// Keep the members the existing group has.
					it.reason = "matched the existing group the application reported as a conflict"
					for i := range it.op.Changes {
						if it.op.Changes[i].Name == "members" {
							it.op.Changes[i].Mode = connector.AddVals
						}
					}
				}
				for t, v := range it.want {
					it.hashes[t] = hashValues(v)
				}
				follow = append(follow, it)
			case (it.act == ActDisable || it.act == ActDelete) && errors.Is(r.Err, connector.ErrNotFound):
				// Gone already: nothing left to disable.
				it.reason += "; the account no longer exists in the application"
				c.record(it, it.op.Anchor)
			case it.act == ActUpdate && errors.Is(r.Err, connector.ErrNotFound):
				c.mu.Lock()
				delete(c.accounts(it), it.mvID)
				c.mu.Unlock()
				c.fail(it.mvID, it.name, it.op.Anchor, c.scrub(it, r.Err.Error())+"; the resource was deleted in the application: it is created again at the next cycle")
				c.done()
			default:
				c.noteAuth(r.Err)
				c.fail(it.mvID, it.name, it.op.Anchor, c.scrub(it, r.Err.Error()))
				c.done()
			}
		}
	}
	return follow
}

// record stores a successful operation in the state and the report.
func (c *cycle) record(it *item, anchor string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	accounts := c.accounts(it)
	acct := accounts[it.mvID]
	it.ok = true
	switch it.act {
	case ActDelete:
		delete(accounts, it.mvID)
		c.res.Deleted++
	case ActDisable:
		if acct != nil {
			acct.Disabled = true
			if acct.Hashes == nil {
				acct.Hashes = map[string]string{}
			}
			for t, h := range it.hashes {
				acct.Hashes[t] = h
			}
		}
		c.res.Disabled++
	default:
		if acct == nil {
			acct = &Account{ID: anchor, Hashes: map[string]string{}, Matched: it.matched}
			accounts[it.mvID] = acct
		}
		acct.ID, acct.Name, acct.Disabled = anchor, it.name, false
		for t, h := range it.hashes {
			acct.Hashes[t] = h
		}
		if it.act == ActCreate {
			c.res.Created++
		} else {
			c.res.Updated++
		}
	}
	c.res.Done++
	c.log.add(&Activity{Time: c.now().UTC(), App: c.app.Name, Cycle: c.res.Cycle, Action: it.act, Object: it.mvID,
		Name: it.name, SCIMID: anchor, Reason: it.reason, Changes: it.changes})
	c.progressLocked()
}

func (c *cycle) done() {
	c.mu.Lock()
	c.res.Done++
	c.progressLocked()
	c.mu.Unlock()
}

func (c *cycle) progress() {
	c.mu.Lock()
	c.progressLocked()
	c.mu.Unlock()
}

func (c *cycle) progressLocked() {
	if c.opts.Progress != nil {
		c.opts.Progress(c.res.Done, c.res.InScope)
	}
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

func accountID(a *Account) string {
	if a == nil {
		return ""
	}
	return a.ID
}

func sortedTargets(m map[string]model.Values) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
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
