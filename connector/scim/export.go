package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/idsync/idsync/connector"
)

// Export writes a batch of ops and returns one result per op.
//
// Ops run concurrently (concurrency at a time), except that an op waits for
// the adds of the same batch its reference values (members, manager) name,
// and for the earlier ops of the same object. References that form a cycle
// among adds are written in a second step, once every object exists.
func (c *Connector) Export(ctx context.Context, ops []connector.ExportOp) []connector.ExportResult {
	res := make([]connector.ExportResult, len(ops))
	for i, op := range ops {
		res[i] = connector.ExportResult{ID: op.ID, Anchor: op.Anchor}
	}
	if len(ops) == 0 {
		return res
	}
	d, err := c.discovery(ctx)
	if err != nil {
		for i := range res {
			res[i].Err = err
		}
		return res
	}
	b := &batch{c: c, d: d, ops: ops, res: res}
	b.run(ctx)
	return res
}

// batch is one Export call.
type batch struct {
	c   *Connector
	d   *discovered
	ops []connector.ExportOp
	res []connector.ExportResult

	addIdx map[string]int // proposed anchor → index of its add
	mu     sync.Mutex
	done   []bool

	deferred []deferredRefs // guarded by mu
}

// deferredRefs are reference values of op i that name adds of the same
// batch that were not done when op i ran (a cycle).
type deferredRefs struct {
	i       int
	rt      *resourceType
	id      string
	changes []connector.AttrChange
}

func (b *batch) run(ctx context.Context) {
	n := len(b.ops)
	b.done = make([]bool, n)
	b.addIdx = map[string]int{}
	for i, op := range b.ops {
		if op.Op == connector.OpAdd && op.Anchor != "" {
			b.addIdx[op.Anchor] = i
		}
	}
	// Dependencies: j before i when i references j's proposed anchor, or
	// when j is an earlier op on the same object.
	dependents := make([][]int, n)
	waiting := make([]int, n)
	last := map[string]int{}
	for i, op := range b.ops {
		deps := map[int]bool{}
		key := op.ObjectType + "\x00" + op.Anchor
		if j, ok := last[key]; ok {
			deps[j] = true
		}
		last[key] = i
		if rt := b.d.types[op.ObjectType]; rt != nil {
			for _, ch := range op.Changes {
				if ch.Mode == connector.DelVals {
					continue
				}
				if t, err := rt.m.lookup(ch.Name); err == nil && t.isRef() {
					for _, v := range ch.Values {
						if j, ok := b.addIdx[v]; ok && j != i {
							deps[j] = true
						}
					}
				}
			}
		}
		for j := range deps {
			dependents[j] = append(dependents[j], i)
			waiting[i]++
		}
	}

	var queue []int
	for i := range b.ops {
		if waiting[i] == 0 {
			queue = append(queue, i)
		}
	}
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	inflight := 0
	worker := func() {
		mu.Lock()
		defer mu.Unlock()
		for {
			for len(queue) == 0 && inflight > 0 {
				cond.Wait()
			}
			if len(queue) == 0 {
				cond.Broadcast()
				return
			}
			i := queue[0]
			queue = queue[1:]
			inflight++
			mu.Unlock()
			b.exec(ctx, i, false)
			mu.Lock()
			inflight--
			for _, d := range dependents[i] {
				if waiting[d]--; waiting[d] == 0 {
					queue = append(queue, d)
				}
			}
			cond.Broadcast()
		}
	}
	var wg sync.WaitGroup
	for w := 0; w < min(b.c.s.concurrency, n); w++ {
		wg.Add(1)
		go func() { defer wg.Done(); worker() }()
	}
	wg.Wait()

	// What is left waits on a cycle: run it in order, deferring the
	// references to adds not done yet, then write those.
	for i := range b.ops {
		if !b.isDone(i) {
			b.exec(ctx, i, true)
		}
	}
	for _, df := range b.deferred {
		if b.res[df.i].Err != nil {
			continue
		}
		chs, _, err := b.prepare(ctx, df.rt, df.changes, false)
		if err == nil {
			err = b.c.modify(ctx, b.d, df.rt, df.id, chs)
		}
		if err != nil {
			op := b.ops[df.i]
			b.res[df.i].Err = fmt.Errorf("scim connector %q: %s %s %q: set the references to objects added in the same batch: %w", b.c.name, op.Op, op.ObjectType, op.Anchor, err)
		}
	}
}

func (b *batch) isDone(i int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.done[i]
}

// exec runs op i and stores its result.
func (b *batch) exec(ctx context.Context, i int, cyclic bool) {
	op := b.ops[i]
	defer func() {
		b.mu.Lock()
		b.done[i] = true
		b.mu.Unlock()
	}()
	fail := func(err error) {
		b.res[i].Err = fmt.Errorf("scim connector %q: %s %s %q: %w", b.c.name, op.Op, op.ObjectType, op.Anchor, err)
	}
	if err := ctx.Err(); err != nil {
		fail(err)
		return
	}
	rt, err := b.d.resourceType(op.ObjectType)
	if err != nil {
		fail(err)
		return
	}
	switch op.Op {
	case connector.OpAdd:
		b.add(ctx, i, rt, cyclic, fail)
	case connector.OpUpdate, connector.OpRename:
		// SCIM has no DNs: a rename is an update of its attributes.
		b.update(ctx, i, rt, cyclic, fail)
	case connector.OpDelete:
		b.delete(ctx, i, rt, fail)
	default:
		fail(fmt.Errorf("unknown operation %q", op.Op))
	}
}

// change is an attribute change resolved against the schema, with
// reference values mapped to ids.
type change struct {
	t    *target
	mode connector.Mode
	vals []string
}

// prepare resolves the changes of an op. In a cycle, reference values that
// name adds of this batch that are not done are returned as deferred.
func (b *batch) prepare(ctx context.Context, rt *resourceType, changes []connector.AttrChange, cyclic bool) ([]change, []connector.AttrChange, error) {
	var out []change
	var deferred []connector.AttrChange
	for _, ch := range changes {
		t, err := rt.m.lookup(ch.Name)
		if err != nil {
			return nil, nil, err
		}
		if t.ro {
			return nil, nil, fmt.Errorf("attribute %s is read-only in SCIM", t.name)
		}
		switch ch.Mode {
		case connector.Replace, connector.AddVals, connector.DelVals:
		default:
			return nil, nil, fmt.Errorf("attribute %s: unknown change mode %q", t.name, ch.Mode)
		}
		vals := ch.Values
		if t.isRef() {
			if cyclic && ch.Mode != connector.DelVals {
				var now, later []string
				for _, v := range vals {
					if j, ok := b.addIdx[v]; ok && !b.isDone(j) {
						later = append(later, v)
					} else {
						now = append(now, v)
					}
				}
				if len(later) > 0 {
					mode := connector.Replace
					if t.multi {
						mode = connector.AddVals
					}
					deferred = append(deferred, connector.AttrChange{Name: t.name, Mode: mode, Type: ch.Type, Values: later})
				}
				vals = now
			}
			if vals, err = b.c.resolveRefs(ctx, b.d, t, ch.Mode, vals); err != nil {
				return nil, nil, err
			}
		}
		out = append(out, change{t: t, mode: ch.Mode, vals: vals})
	}
	return out, deferred, nil
}

// add creates the resource with POST.
func (b *batch) add(ctx context.Context, i int, rt *resourceType, cyclic bool, fail func(error)) {
	c, op := b.c, b.ops[i]
	chs, deferred, err := b.prepare(ctx, rt, op.Changes, cyclic)
	if err != nil {
		fail(err)
		return
	}
	doc := map[string]any{"schemas": []any{rt.m.core.ID}}
	for _, ch := range chs {
		if ch.mode == connector.DelVals {
			continue
		}
		if err := applyDoc(doc, ch.t, ch.mode, ch.vals); err != nil {
			fail(err)
			return
		}
	}
	// The proposed anchor goes into externalId: it finds the resource
	// again after a lost answer, and resolves references to it.
	extID, _ := doc["externalId"].(string)
	if _, set := doc["externalId"]; !set && op.Anchor != "" {
		doc["externalId"] = op.Anchor
		extID = op.Anchor
	}
	req := &request{method: http.MethodPost, path: rt.endpoint, body: doc}
	if extID != "" && b.d.filter {
		// A POST that may have reached the server is not sent again when
		// the resource is there.
		// When the lookup fails, the POST is sent again: a 409 then
		// finds the resource.
		req.recover = func(ctx context.Context) (*response, bool, error) {
			if r, err := c.findOne(ctx, b.d, rt, "externalId eq "+Quote(extID)); err == nil && r != nil {
				if body, err := json.Marshal(r); err == nil {
					return &response{status: http.StatusCreated, body: body}, true, nil
				}
			}
			return nil, false, nil
		}
	}
	resp, retries, err := c.c.do(ctx, req)
	if err != nil {
		fail(err)
		return
	}
	switch {
	case resp.ok():
		var created map[string]any
		_ = resp.decode(&created)
		id, _ := fromJSON(nil, created["id"])
		if id == "" {
			fail(fmt.Errorf("POST %s: the server answered %d without the new resource's id", rt.endpoint, resp.status))
			return
		}
		c.remember(id, extID)
		if op.Anchor != "" && op.Anchor != extID {
			// externalId was mapped: references to the object still name
			// the anchor idsync proposed.
			c.remember(id, op.Anchor)
		}
		b.res[i].Anchor = id
		if len(deferred) > 0 {
			b.mu.Lock()
			b.deferred = append(b.deferred, deferredRefs{i: i, rt: rt, id: id, changes: deferred})
			b.mu.Unlock()
		}
	case resp.status == http.StatusConflict:
		he := resp.httpError(req, retries)
		id, same, err := b.conflict(ctx, rt, doc, extID)
		switch {
		case err != nil:
			fail(fmt.Errorf("%w; finding the existing resource failed: %w", he, err))
		case id == "":
			fail(fmt.Errorf("%w; no existing resource has the same %s or externalId", he, rt.uniqueAttr()))
		case same:
			b.res[i].Anchor = id
			fail(fmt.Errorf("%w (%w, externalId %s): %w (existing id %s)", connector.ErrAlreadyExists, connector.ErrIdentityMatch, extID, he, id))
		default:
			b.res[i].Anchor = id
			fail(fmt.Errorf("%w: %w (existing id %s)", connector.ErrAlreadyExists, he, id))
		}
	default:
		fail(resp.httpError(req, retries))
	}
}

// conflict finds the resource an add clashed with: by userName (users) or
// displayName (groups), else by externalId. same reports that it carries
// this object's externalId: this object itself, not only the same name.
func (b *batch) conflict(ctx context.Context, rt *resourceType, doc map[string]any, extID string) (id string, same bool, err error) {
	var filters []string
	if u := rt.uniqueAttr(); u != "" {
		if v, ok := doc[u].(string); ok && v != "" {
			filters = append(filters, u+" eq "+Quote(v))
		}
	}
	if extID != "" {
		filters = append(filters, "externalId eq "+Quote(extID))
	}
	for _, f := range filters {
		r, err := b.c.findOne(ctx, b.d, rt, f)
		if err != nil {
			return "", false, err
		}
		if r != nil {
			id, _ := fromJSON(nil, r["id"])
			ext, _ := fromJSON(nil, r["externalId"])
			b.c.remember(id, ext)
			return id, extID != "" && ext == extID, nil
		}
	}
	return "", false, nil
}

// targetID maps an op's anchor to the resource id: the anchor itself, or
// the id of the resource the connector created with it as externalId.
func (c *Connector) targetID(anchor string) string {
	if id, ok := c.localID(anchor); ok {
		return id
	}
	return anchor
}

// update applies the changes with PATCH (PUT without PATCH support).
func (b *batch) update(ctx context.Context, i int, rt *resourceType, cyclic bool, fail func(error)) {
	op := b.ops[i]
	if op.Anchor == "" {
		fail(errors.New("the op has no anchor"))
		return
	}
	id := b.c.targetID(op.Anchor)
	b.res[i].Anchor = id
	chs, deferred, err := b.prepare(ctx, rt, op.Changes, cyclic)
	if err != nil {
		fail(err)
		return
	}
	if err := b.c.modify(ctx, b.d, rt, id, chs); err != nil {
		fail(err)
		return
	}
	if len(deferred) > 0 {
		b.mu.Lock()
		b.deferred = append(b.deferred, deferredRefs{i: i, rt: rt, id: id, changes: deferred})
		b.mu.Unlock()
	}
}

// delete removes the resource.
func (b *batch) delete(ctx context.Context, i int, rt *resourceType, fail func(error)) {
	op := b.ops[i]
	if op.Anchor == "" {
		fail(errors.New("the op has no anchor"))
		return
	}
	id := b.c.targetID(op.Anchor)
	b.res[i].Anchor = id
	req := &request{method: http.MethodDelete, path: resourcePath(rt, id)}
	resp, retries, err := b.c.c.do(ctx, req)
	switch {
	case err != nil:
		fail(err)
	case resp.ok():
		b.c.forget(id)
	case resp.status == http.StatusNotFound:
		b.c.forget(id)
		fail(fmt.Errorf("%w: %w", connector.ErrNotFound, resp.httpError(req, retries)))
	default:
		fail(resp.httpError(req, retries))
	}
}

// modify applies changes to an existing resource: with PATCH when the
// server supports it, else (or when the server cannot apply the PATCH, e.g.
// 400 noTarget for a value filter that matches nothing) by reading the
// resource, changing it and writing it back with PUT.
func (c *Connector) modify(ctx context.Context, d *discovered, rt *resourceType, id string, chs []change) error {
	if len(chs) == 0 {
		return nil
	}
	if d.patch {
		reqs, ok, err := patchRequests(chs, c.s.memberBatch)
		if err != nil {
			return err
		}
		if ok {
			for _, ops := range reqs {
				req := &request{method: http.MethodPatch, path: resourcePath(rt, id), body: patchBody{Schemas: []string{msgPatchOp}, Operations: ops}}
				resp, retries, err := c.c.do(ctx, req)
				if err != nil {
					return err
				}
				if resp.ok() {
					continue
				}
				he := resp.httpError(req, retries)
				switch {
				case resp.status == http.StatusNotFound:
					return fmt.Errorf("%w: %w", connector.ErrNotFound, he)
				case resp.status == http.StatusBadRequest && strings.EqualFold(he.ScimType, "noTarget"),
					resp.status == http.StatusNotImplemented, resp.status == http.StatusMethodNotAllowed:
					return c.put(ctx, d, rt, id, chs)
				}
				return he
			}
			return nil
		}
	}
	return c.put(ctx, d, rt, id, chs)
}

// put reads the resource, applies the changes and writes it back, with
// If-Match when the server supports ETags (retrying on 412).
func (c *Connector) put(ctx context.Context, d *discovered, rt *resourceType, id string, chs []change) error {
	for try := 0; ; try++ {
		doc, err := c.get(ctx, rt, id)
		if err != nil {
			return err
		}
		version := ""
		if meta, ok := doc["meta"].(map[string]any); ok {
			version, _ = meta["version"].(string)
		}
		delete(doc, "meta")
		for _, ch := range chs {
			if err := applyDoc(doc, ch.t, ch.mode, ch.vals); err != nil {
				return err
			}
		}
		req := &request{method: http.MethodPut, path: resourcePath(rt, id), body: doc}
		if d.etag && version != "" {
			req.header = map[string]string{"If-Match": version}
		}
		resp, retries, err := c.c.do(ctx, req)
		switch {
		case err != nil:
			return err
		case resp.ok():
			return nil
		case resp.status == http.StatusNotFound:
			return fmt.Errorf("%w: %w", connector.ErrNotFound, resp.httpError(req, retries))
		case resp.status == http.StatusPreconditionFailed && try < 3:
			continue // changed since we read it
		}
		return resp.httpError(req, retries)
	}
}
