package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
)

// ExportEvent is the outcome of one export operation.
type ExportEvent struct {
	Run        int64 // the run's ID
	Connector  string
	CSID       string // the connector space object
	MVID       string // the MV object it is linked to ("" if none)
	Anchor     string // the object's anchor in the target after the export
	DN         string
	ObjectType string
	Op         connector.Op           // add, update, rename, delete (as sent; an add retried as a replace stays add)
	Rule       string                 // the rule that staged it
	Changes    []connector.AttrChange // as sent
	Err        error                  // nil: success
	// Attrs are the object's attributes as idsync knows them after the
	// export (of a deleted object, the last known); read only.
	Attrs model.Attrs
}

// exportEvent is the event of t's export p with outcome err.
func exportEvent(rr *runRec, t *store.CSObject, p *store.PendingExport, err error) ExportEvent {
	return ExportEvent{Run: rr.r.ID, Connector: rr.r.Connector, CSID: t.ID, MVID: t.MVID, Anchor: t.Object.Anchor,
		DN: t.Object.DN, ObjectType: t.Object.Type, Op: p.Op, Rule: p.Rule, Changes: p.Changes, Err: err, Attrs: t.Object.Attrs}
}

// notify calls the run's export observer (RunOptions.OnExport, else
// Engine.OnExport) with each event; they are the outcomes of a batch the
// store has just recorded.
func (e *Engine) notify(rr *runRec, events []ExportEvent) {
	if rr.onExport == nil {
		return
	}
	for _, ev := range events {
		rr.onExport(ev)
	}
}

func (e *Engine) exportRun(ctx context.Context, c *Connector, o RunOptions) (*store.Run, error) {
	rr, err := e.startRun(ctx, c.Name, Export, "")
	if err != nil {
		return nil, err
	}
	rr.onExport = o.OnExport
	if rr.onExport == nil {
		rr.onExport = e.OnExport
	}
	err = e.export(ctx, rr, c, o)
	if err != nil && !errors.Is(err, ErrDeleteThreshold) {
		err = fmt.Errorf("export to %s: %w", c.Name, err)
	}
	return rr.r, rr.finish(ctx, err)
}

// export writes the pending exports of connector c. Each batch is journaled
// (state "sending", committed) before it is sent; results are committed after.
// A crash between the two leaves entries in "sending", and the next export
// replays them: connectors make every operation idempotent.
func (e *Engine) export(ctx context.Context, rr *runRec, c *Connector, o RunOptions) (err error) {
	ex, ok := c.Conn.(connector.Exporter)
	if !ok {
		return fmt.Errorf("connector %s cannot export (its type has no export capability)", c.Name)
	}
	// First pass, through the index of pending exports: the guard's count,
	// and the exports themselves while they are few enough to hold.
	var todo []*store.CSObject
	// held: exports the guard holds back (GuardHoldsDeletes).
	held := func(*store.CSObject) bool { return false }
	var guardErr error
	deletes, total := 0, int64(0)
	var classes [exportClasses]bool
	disables := e.disableRules(c.Name)
	if len(o.Only) > 0 {
		only, err := e.newOnlyExport(ctx, c.Name, o.Only)
		if err != nil {
			return err
		}
		rr.only = only
	}
	if err := e.Store.ScanCSExports(ctx, c.Name, func(t *store.CSObject) error {
		if awaitsImport(t) || !rr.only.keep(t) {
			return nil
		}
		total++
		classes[exportOrder(t)] = true
		if total <= exportHeld {
			todo = append(todo, t)
		} else {
			todo = nil
		}
		if t.Pending.Op == connector.OpDelete || isDisable(t.Pending, disables) {
			deletes++
		}
		return nil
	}); err != nil {
		return fmt.Errorf("read pending exports: %w", err)
	}
	if deletes > 0 && !o.AllowDeletes {
		// The guard weighs the deletes against the connector's objects.
		objects := 0
		if c.DeletePercent > 0 && deletes > c.DeleteMinimum && deletes <= c.DeleteThreshold {
			if err := e.Store.ScanCS(ctx, c.Name, func(t *store.CSObject) error {
				if !t.Placeholder && !t.Deleted {
					objects++
				}
				return nil
			}); err != nil {
				return fmt.Errorf("count the objects of %s: %w", c.Name, err)
			}
		}
		if err := c.deleteGuard(deletes, objects); err != nil {
			if !c.GuardHoldsDeletes {
				return err
			}
			// Only the deletes and disables are held: the rest goes out,
			// and the run ends stopped by the guard.
			held = func(t *store.CSObject) bool {
				return t.Pending.Op == connector.OpDelete || isDisable(t.Pending, disables)
			}
			guardErr = err
		}
	}
	defer func() {
		if err == nil {
			err = guardErr
		}
	}()
	if r, ok := ex.(connector.ExportRunner); ok {
		if err := r.BeginExport(ctx); err != nil {
			return fmt.Errorf("begin the export: %w", err)
		}
		defer func() {
			if ferr := r.EndExport(context.WithoutCancel(ctx)); ferr != nil && err == nil {
				err = fmt.Errorf("finish the export: %w", ferr)
			}
		}()
	}
	var done int64
	send := func(chunk []*store.CSObject) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := e.exportChunk(ctx, rr, ex, chunk); err != nil {
			return err
		}
		done += int64(len(chunk))
		rr.progress(ctx, done, total)
		return nil
	}
	if total <= exportHeld {
		todo = slices.DeleteFunc(todo, held)
		sort.SliceStable(todo, func(i, j int) bool { return exportOrder(todo[i]) < exportOrder(todo[j]) })
		for start := 0; start < len(todo); start += e.batchSize() {
			if err := send(todo[start:min(start+e.batchSize(), len(todo))]); err != nil {
				return err
			}
		}
		return nil
	}
	// Many: one more pass per kind of export, in export order, sending
	// each batch as it is read (memory holds a batch, not the export).
	// A pass sees each object once (the scan pages by ID); those it sends
	// leave the index or stay in it in another state, of the same kind.
	for class := range exportClasses {
		if !classes[class] {
			continue
		}
		var chunk []*store.CSObject
		err := e.Store.ScanCSExports(ctx, c.Name, func(t *store.CSObject) error {
			if awaitsImport(t) || exportOrder(t) != class || held(t) || !rr.only.keep(t) {
				return nil
			}
			chunk = append(chunk, t)
			if len(chunk) < e.batchSize() {
				return nil
			}
			err := send(chunk)
			chunk = nil
			return err
		})
		if err == nil && len(chunk) > 0 {
			err = send(chunk)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// guardAction says what the guard did to the export.
func (c *Connector) guardAction() string {
	if c.GuardHoldsDeletes {
		return "held back its deletes and disables and sent the rest"
	}
	return "stopped before writing anything"
}

// deleteGuard stops an export whose deletes (disables included) exceed the
// threshold (R2.4), or DeletePercent of the connector's objects once they
// number more than DeleteMinimum (as Entra provisioning and Cloud Sync do:
// a count alone leaves every target smaller than it unprotected).
func (c *Connector) deleteGuard(deletes, objects int) error {
	if c.DeleteThreshold < 0 || deletes == 0 {
		return nil
	}
	const what = "Review them with `idsync preview %s`; if they are intended, run `idsync run %s export --allow-deletes` once, or raise the threshold (%s)"
	if deletes > c.DeleteThreshold {
		return fmt.Errorf("%w: the export to %s %s: %d pending deletes and disables exceed the threshold of %d. "+what,
			ErrDeleteThreshold, c.Name, c.guardAction(), deletes, c.DeleteThreshold, c.Name, c.Name,
			"connectors[].deleteThreshold for this connector, safety.deleteThreshold for all")
	}
	if c.DeletePercent > 0 && deletes > c.DeleteMinimum && deletes*100 > c.DeletePercent*max(objects, 1) {
		return fmt.Errorf("%w: the export to %s %s: %d pending deletes and disables are %d%% of its %d objects, more than %d%%. "+what,
			ErrDeleteThreshold, c.Name, c.guardAction(), deletes, deletes*100/max(objects, 1), objects, c.DeletePercent, c.Name, c.Name,
			"connectors[].deleteThresholdPercent for this connector, safety.deleteThresholdPercent and safety.deleteThresholdMinimum for all")
	}
	return nil
}

// disableRules returns, by rule name, the outbound rules of connector conn
// that deprovision by disabling.
func (e *Engine) disableRules(conn string) map[string]*rules.Rule {
	out := map[string]*rules.Rule{}
	if e.Rules == nil {
		return out
	}
	for _, r := range e.Rules.For(conn, rules.Outbound) {
		if r.Deprovision == rules.DeprovisionDisable && r.DisableAttribute != "" {
			out[r.Name] = r
		}
	}
	return out
}

// isDisable reports whether p is the disable a deprovisioning rule computed
// (it counts as a delete for the guard).
func isDisable(p *store.PendingExport, disables map[string]*rules.Rule) bool {
	r := disables[p.Rule]
	if r == nil || p.Op != connector.OpUpdate || len(p.Changes) != 1 {
		return false
	}
	ch := p.Changes[0]
	return ch.Name == r.DisableAttribute && ch.Mode == connector.Replace && len(ch.Values) == 1 && ch.Values[0] == r.DisableValue
}

// exportClasses is the number of exportOrder's values; exportHeld is how
// many pending exports an export run holds in memory to send them in that
// order after one read (more are read again, once per kind, and sent as
// they are read).
const exportClasses = 5

var exportHeld int64 = 150000 // a variable for the tests

// exportOrder sends adds of plain objects first, then adds of objects that
// reference others (groups after their members), then updates, renames, deletes.
func exportOrder(t *store.CSObject) int {
	switch t.Pending.Op {
	case connector.OpAdd:
		for _, ch := range t.Pending.Changes {
			if ch.Type == model.Reference {
				return 1
			}
		}
		return 0
	case connector.OpUpdate:
		return 2
	case connector.OpRename:
		return 3
	default:
		return 4
	}
}

func opFor(t *store.CSObject) connector.ExportOp {
	return connector.ExportOp{ID: t.Pending.ID, Op: t.Pending.Op, Anchor: t.Object.Anchor, DN: t.Object.DN,
		NewDN: t.Pending.NewDN, ObjectType: t.Object.Type, Changes: t.Pending.Changes}
}

func (e *Engine) exportChunk(ctx context.Context, rr *runRec, ex connector.Exporter, chunk []*store.CSObject) error {
	// 1. Journal: record that these are being sent, before sending them.
	journal := &store.Batch{}
	byID := make(map[string]*store.CSObject, len(chunk))
	ops := make([]connector.ExportOp, 0, len(chunk))
	// The right to export, asked now (a high-availability lease): the
	// batch is sent under sendCtx, which ends with that right.
	sendCtx := ctx
	if e.Fence != nil {
		fctx, release, err := e.Fence(ctx)
		if err != nil {
			return fmt.Errorf("stopped before the next batch: %w", err)
		}
		defer release()
		sendCtx = fctx
	}
	// events: the outcomes recorded, for OnExport once the store has them.
	var events []ExportEvent
	for _, t := range chunk {
		if t.Pending.State == store.ExportSending {
			t.Pending.MayExist = true // a crash interrupted the last sending
		}
		if e.refuseExport(ctx, rr, journal, t) {
			// Its values break the target's schema or limits: not sent
			// (validate.go); the reason is the pending export's error.
			if rr.onExport != nil {
				events = append(events, exportEvent(rr, t, t.Pending, errors.New(t.Pending.Error)))
			}
			continue
		}
		t.Pending.State = store.ExportSending
		t.Pending.Attempts++
		journal.PutCSState = append(journal.PutCSState, t) // only its pending export changes
		byID[t.Pending.ID] = t
		ops = append(ops, rr.only.op(t))
	}
	if err := e.Store.Apply(ctx, journal); err != nil {
		return fmt.Errorf("journal exports: %w", err)
	}
	e.notify(rr, events)
	events = events[:0]
	// 2. Send.
	if err := fenced(ctx, sendCtx); err != nil {
		return err
	}
	results := ex.Export(sendCtx, ops)
	if err := fenced(ctx, sendCtx); err != nil {
		return err
	}
	// 3. Record the results. Adds the target already has are re-sent as a
	// full replace when the existing object is this one: it carries this
	// object's identity, or an earlier sending of the add may have created
	// it (replayed after a crash or a failure). An object that was there
	// before idsync first sent the add belongs to something else, and
	// idsync never touches it (R2.2): the add fails on this object.
	out := &store.Batch{}
	var added []*store.CSObject
	record := func(t *store.CSObject, res connector.ExportResult) {
		// Only an add that an earlier sending may have carried out (a
		// crash, a lost answer) can meet a copy an import brought in: a
		// first sending needs no lookup.
		if t.Pending.Op == connector.OpAdd && t.Pending.MayExist && res.Err == nil {
			added = append(added, t)
		}
		ev := e.applyResult(rr, out, t, res)
		if rr.onExport != nil {
			events = append(events, ev)
		}
	}
	var retry []connector.ExportOp
	seen := map[string]bool{}
	for _, res := range results {
		t := byID[res.ID]
		if t == nil || seen[res.ID] {
			continue
		}
		seen[res.ID] = true
		if t.Pending.Op == connector.OpAdd && errors.Is(res.Err, connector.ErrAlreadyExists) {
			if !t.Pending.MayExist && !errors.Is(res.Err, connector.ErrIdentityMatch) {
				res.Err = foreignObject(rr.r.Connector, t, res)
				record(t, res)
				continue
			}
			if res.Anchor != "" {
				t.Object.Anchor = res.Anchor
			}
			op := opFor(t)
			op.Op = connector.OpUpdate
			op.Anchor = t.Object.Anchor
			retry = append(retry, op)
			continue
		}
		record(t, res)
	}
	for id, t := range byID {
		if !seen[id] {
			record(t, connector.ExportResult{ID: id, Err: errors.New("the connector returned no result for this export; it will be retried")})
		}
	}
	if len(retry) > 0 {
		res := ex.Export(sendCtx, retry)
		if err := fenced(ctx, sendCtx); err != nil {
			return err
		}
		for _, res := range res {
			if t := byID[res.ID]; t != nil {
				res.Anchor = t.Object.Anchor
				record(t, res)
			}
		}
	}
	if err := e.replaceImportedCopies(context.WithoutCancel(ctx), rr, out, added); err != nil {
		return err
	}
	if err := e.Store.Apply(context.WithoutCancel(ctx), out); err != nil {
		return fmt.Errorf("record export results: %w", err)
	}
	e.notify(rr, events)
	return nil
}

// fenced returns an error when the right to export (Engine.Fence) ended
// while ctx, the run's, goes on: the batch's outcomes are not recorded;
// it stays journaled as being sent and is replayed by the next export, as
// after a crash (an outcome cut short by the end of the right is no
// outcome of the target's).
func fenced(ctx, sendCtx context.Context) error {
	if sendCtx != ctx && sendCtx.Err() != nil && ctx.Err() == nil {
		return fmt.Errorf("stopped exporting, the batch being sent is left to the next export: %w", context.Cause(sendCtx))
	}
	return nil
}

// replaceImportedCopies handles the adds whose object an import already
// brought in: an add sent before a crash (or whose answer was lost)
// created the object, an import then read it as an object of its own (a
// disconnector: with no DN, the target's anchor is all it has), and the
// replayed add found the object again (by the identity the connector gave
// it, SCIM's externalId). The object is the one idsync created, linked to
// its identity: the imported copy goes. A copy linked to another identity
// is an error on the add (two identities claim one object), left pending.
func (e *Engine) replaceImportedCopies(ctx context.Context, rr *runRec, out *store.Batch, added []*store.CSObject) error {
	var drop map[string]bool
	for _, t := range added {
		other, err := e.Store.GetCSByAnchor(ctx, t.Connector, t.Object.Anchor)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue
		case err != nil:
			return fmt.Errorf("record export results: %w", err)
		case other.ID == t.ID:
			continue
		case other.MVID == "" && !other.Provisioned:
			out.DeleteCS = append(out.DeleteCS, other.ID)
			continue
		}
		rr.objectError(objName(t), t.ID, fmt.Errorf("add: the object it created (anchor %s) is also %s, linked to metaverse object %s; "+
			"two identities claim one object in %s: fix the join rules or the duplicate, then export again", t.Object.Anchor, objName(other), other.MVID, t.Connector))
		if drop == nil {
			drop = map[string]bool{}
		}
		drop[t.ID] = true
	}
	if drop != nil {
		out.PutCS = slices.DeleteFunc(out.PutCS, func(t *store.CSObject) bool { return drop[t.ID] })
	}
	return nil
}

// foreignObject is the error of an add that met, on its first sending, an
// object idsync did not create.
func foreignObject(conn string, t *store.CSObject, res connector.ExportResult) error {
	what := "an object"
	if res.Anchor != "" {
		what = fmt.Sprintf("an object (anchor %s)", res.Anchor)
	}
	return &foreignError{err: res.Err, msg: fmt.Sprintf("%s already has %s that idsync did not create, where this one would go (%v). "+
		"idsync never changes or deletes objects something else created: remove or rename that object in %s, "+
		"or have a rule on %s join it to this identity; the next export tries again", conn, what, res.Err, conn, conn)}
}

// foreignError is the error of an add refused by foreignObject: that
// sending created nothing.
type foreignError struct {
	err error
	msg string
}

func (e *foreignError) Error() string { return e.msg }
func (e *foreignError) Unwrap() error { return e.err }

// applyResult updates the CS object with an export's outcome: on success the
// exported values become the object's (unconfirmed) state and the pending
// export is cleared; on failure the entry keeps the target's message. It
// returns the outcome as an event (a delete of an object already gone is a
// success).
func (e *Engine) applyResult(rr *runRec, b *store.Batch, t *store.CSObject, res connector.ExportResult) ExportEvent {
	p := t.Pending
	if p.Op == connector.OpDelete && (res.Err == nil || errors.Is(res.Err, connector.ErrNotFound)) {
		b.DeleteCS = append(b.DeleteCS, t.ID)
		rr.r.Counts.Deletes++
		return exportEvent(rr, t, p, nil)
	}
	partial, isPartial := rr.only.partialOf(t)
	if res.Err != nil {
		p.State = store.ExportError
		p.Error = res.Err.Error()
		// A failed add may still have created the object (a lost answer, a
		// half-done operation), unless it was refused for meeting one
		// idsync did not create.
		var foreign *foreignError
		if p.Op == connector.OpAdd && !errors.As(res.Err, &foreign) {
			p.MayExist = true
		}
		b.PutCSState = append(b.PutCSState, t) // only its pending export changed
		rr.objectError(objName(t), t.ID, fmt.Errorf("%s: %w", p.Op, res.Err))
		ev := exportEvent(rr, t, p, res.Err)
		if isPartial {
			ev.Changes = partial
		}
		return ev
	}
	switch p.Op {
	case connector.OpAdd:
		rr.r.Counts.Adds++
	case connector.OpRename:
		rr.r.Counts.Renames++
	default:
		rr.r.Counts.Updates++
	}
	if res.Anchor != "" {
		t.Object.Anchor = res.Anchor
	}
	t.Placeholder = false
	if p.NewDN != "" {
		t.Object.DN = p.NewDN
	}
	if t.Object.Attrs == nil {
		t.Object.Attrs = model.Attrs{}
	}
	unconfirmed := map[string]bool{}
	for _, u := range t.Unconfirmed {
		unconfirmed[u] = true
	}
	changes := p.Changes
	if isPartial {
		changes = partial
	}
	for _, ch := range changes {
		applyChange(t.Object.Attrs, ch)
		unconfirmed[ch.Name] = true
	}
	t.Unconfirmed = slices.Sorted(maps.Keys(unconfirmed))
	t.Pending = nil
	if isPartial {
		t.Pending = rr.only.remaining(t, p) // the rest waits for the next export
	}
	t.Modified = time.Now().UTC()
	b.PutCS = append(b.PutCS, t)
	ev := exportEvent(rr, t, p, nil)
	ev.Changes = changes
	return ev
}

// applyChange applies one attribute change to attrs.
func applyChange(attrs model.Attrs, ch connector.AttrChange) {
	switch ch.Mode {
	case connector.AddVals:
		cur := attrs[ch.Name]
		have := map[string]bool{}
		for _, v := range cur.Values {
			have[v] = true
		}
		for _, v := range ch.Values {
			if !have[v] {
				cur.Values = append(cur.Values, v)
				have[v] = true
			}
		}
		cur.Type = ch.Type
		attrs.Set(ch.Name, cur)
	case connector.DelVals:
		cur := attrs[ch.Name]
		drop := map[string]bool{}
		for _, v := range ch.Values {
			drop[v] = true
		}
		var keep []string
		for _, v := range cur.Values {
			if !drop[v] {
				keep = append(keep, v)
			}
		}
		attrs.Set(ch.Name, model.Values{Type: cur.Type, Values: keep})
	default:
		attrs.Set(ch.Name, model.Values{Type: ch.Type, Values: append([]string(nil), ch.Values...)})
	}
}
