// Package sealed keeps secret attribute values (passwords) encrypted at
// rest in any store.Store backend. Wrap returns a store.Store that seals the
// values of secret attributes (internal/secret's Policy) on the way in —
// connector space and metaverse attributes, and the values of pending
// exports — and opens them on the way out, so the engine, rules and
// connectors see the clear values and the backend only ever holds
// ciphertext ("idsync-secret:v1:…"). Run messages, per-object error
// messages, pending-export errors and audit details are masked on the way
// in: a secret value the process has handled is replaced by [secret].
//
// Sealing is done here, above the backends, so that every backend (SQLite
// today, PostgreSQL next) shares one mechanism and stores sealed values as
// ordinary text; the backends and the conformance suite know nothing of it.
//
// A value of a non-secret attribute that happens to start with the sealed
// prefix (a hostile source could send one) is stored escaped
// ("idsync-secret:raw:…") and given back as it came, so every value with the
// prefix in a store is one this package wrote.
//
// Masked returns a read-only view for display (preview, mv get, cs get):
// secret values come out as [secret] without being decrypted, so it needs
// no key.
package sealed

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/internal/secret"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// rawPrefix marks an escaped value: the rest is the value as it came.
const rawPrefix = secret.Prefix + "raw:"

// Options configure a sealing store.
type Options struct {
	// Sealer seals and opens values; nil means no key is configured, and a
	// secret value to store is an error (secret.ErrNoKey).
	Sealer *secret.Sealer
	// KeyErr, when Sealer is nil, is why there is no key (a key that does
	// not parse, an unset environment variable): it is the error instead
	// of secret.ErrNoKey.
	KeyErr error
	// Policy says which attributes are secret (nil: the defaults).
	Policy *secret.Policy
	// Masker, if set, learns every secret value sealed or opened and masks
	// them in run and error messages.
	Masker *secret.Masker
}

// Store is a store.Store that seals secret values in the store it wraps.
// Methods that neither take nor return objects or messages are the wrapped
// store's (embedded).
type Store struct {
	store.Store
	o Options
}

// Wrap returns st sealing secret values.
func Wrap(st store.Store, o Options) *Store { return &Store{Store: st, o: o} }

// Sealer returns the sealer (nil when no key is configured).
func (s *Store) Sealer() *secret.Sealer { return s.o.Sealer }

// Unwrap returns the wrapped store.
func (s *Store) Unwrap() store.Store { return s.Store }

// codec turns values into their stored form and back.
type codec struct {
	o Options
	// mask: reading for display: secret and sealed values become [secret].
	mask bool
}

// needsSeal reports whether the values of attribute name must be stored
// sealed or escaped.
func (c *codec) needsSeal(name string, vals []string) bool {
	if len(vals) == 0 {
		return false
	}
	if c.o.Policy.IsSecret(name) {
		return true
	}
	for _, v := range vals {
		if secret.IsSealed(v) {
			return true
		}
	}
	return false
}

// seal returns the stored form of an attribute's values.
func (c *codec) seal(name string, vals []string) ([]string, error) {
	out := make([]string, len(vals))
	if !c.o.Policy.IsSecret(name) {
		for i, v := range vals {
			out[i] = v
			if secret.IsSealed(v) {
				out[i] = rawPrefix + v
			}
		}
		return out, nil
	}
	if c.o.Sealer == nil {
		return nil, c.noKey()
	}
	c.o.Masker.Add(vals...)
	for i, v := range vals {
		s, err := c.o.Sealer.Seal(v)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

func (c *codec) noKey() error {
	if c.o.KeyErr != nil {
		return c.o.KeyErr
	}
	return secret.ErrNoKey
}

// open turns stored values back, in place.
func (c *codec) open(name string, v *model.Values) error {
	if c.mask && c.o.Policy.IsSecret(name) && len(v.Values) > 0 {
		*v = model.Values{Type: model.String, Values: []string{secret.Redacted}}
		return nil
	}
	for i, x := range v.Values {
		if !secret.IsSealed(x) {
			continue
		}
		if raw, ok := strings.CutPrefix(x, rawPrefix); ok {
			v.Values[i] = raw
			continue
		}
		if c.mask {
			*v = model.Values{Type: model.String, Values: []string{secret.Redacted}}
			return nil
		}
		if c.o.Sealer == nil {
			return fmt.Errorf("attribute %s holds a sealed secret value: %w", name, c.noKey())
		}
		p, err := c.o.Sealer.Open(x)
		if err != nil {
			return fmt.Errorf("attribute %s: %w", name, err)
		}
		c.o.Masker.Add(p)
		v.Values[i] = p
	}
	return nil
}

// sealAttrs returns a in stored form: a itself (changed false) when
// nothing changes, else a copy.
func (c *codec) sealAttrs(a model.Attrs) (_ model.Attrs, changed bool, err error) {
	var out model.Attrs
	for name, v := range a {
		if !c.needsSeal(name, v.Values) {
			continue
		}
		s, err := c.seal(name, v.Values)
		if err != nil {
			return nil, false, fmt.Errorf("attribute %s: %w", name, err)
		}
		if out == nil {
			out = make(model.Attrs, len(a))
			for k, w := range a {
				out[k] = w
			}
		}
		out[name] = model.Values{Type: v.Type, Values: s}
	}
	if out == nil {
		return a, false, nil
	}
	return out, true, nil
}

func (c *codec) openAttrs(a model.Attrs) error {
	for name, v := range a {
		if err := c.open(name, &v); err != nil {
			return err
		}
		a[name] = v
	}
	return nil
}

// sealCS returns o in stored form: o itself when nothing changes, else a
// copy (the caller's object keeps its clear values).
func (c *codec) sealCS(o *store.CSObject) (*store.CSObject, error) {
	if o == nil {
		return o, nil
	}
	attrs, attrsChanged, err := c.sealAttrs(o.Object.Attrs)
	if err != nil {
		return nil, fmt.Errorf("%s object %s: %w", o.Connector, objName(o), err)
	}
	var changes []connector.AttrChange
	var perr string
	if p := o.Pending; p != nil {
		for i, ch := range p.Changes {
			if !c.needsSeal(ch.Name, ch.Values) {
				continue
			}
			s, err := c.seal(ch.Name, ch.Values)
			if err != nil {
				return nil, fmt.Errorf("%s object %s: pending %s of attribute %s: %w", o.Connector, objName(o), p.Op, ch.Name, err)
			}
			if changes == nil {
				changes = slices.Clone(p.Changes)
			}
			changes[i].Values = s
		}
		perr = c.o.Masker.Mask(p.Error)
	}
	changed := changes != nil || (o.Pending != nil && perr != o.Pending.Error)
	if !changed && !attrsChanged {
		return o, nil
	}
	cp := *o
	cp.Object.Attrs = attrs
	if changed {
		p := *o.Pending
		if changes != nil {
			p.Changes = changes
		}
		p.Error = perr
		cp.Pending = &p
	}
	return &cp, nil
}

func (c *codec) openCS(o *store.CSObject) error {
	if o == nil {
		return nil
	}
	if err := c.openAttrs(o.Object.Attrs); err != nil {
		return fmt.Errorf("%s object %s: %w", o.Connector, objName(o), err)
	}
	if p := o.Pending; p != nil {
		for i := range p.Changes {
			ch := &p.Changes[i]
			v := model.Values{Type: ch.Type, Values: ch.Values}
			if err := c.open(ch.Name, &v); err != nil {
				return fmt.Errorf("%s object %s: pending %s: %w", o.Connector, objName(o), p.Op, err)
			}
			ch.Type, ch.Values = v.Type, v.Values
		}
	}
	return nil
}

func (c *codec) sealMV(o *store.MVObject) (*store.MVObject, error) {
	if o == nil {
		return o, nil
	}
	attrs, changed, err := c.sealAttrs(o.Attrs)
	if err != nil {
		return nil, fmt.Errorf("metaverse object %s: %w", o.ID, err)
	}
	if !changed {
		return o, nil
	}
	cp := *o
	cp.Attrs = attrs
	return &cp, nil
}

func (c *codec) openMV(o *store.MVObject) error {
	if o == nil {
		return nil
	}
	if err := c.openAttrs(o.Attrs); err != nil {
		return fmt.Errorf("metaverse object %s: %w", o.ID, err)
	}
	return nil
}

func objName(o *store.CSObject) string {
	if o.Object.DN != "" {
		return o.Object.DN
	}
	if o.Object.Anchor != "" {
		return o.Object.Anchor
	}
	return o.ID
}

// Apply seals the batch's secret values, masks pending-export errors, and
// applies it. The caller's objects are not changed.
func (s *Store) Apply(ctx context.Context, b *store.Batch) error {
	nb, err := (&codec{o: s.o}).sealBatch(b)
	if err != nil {
		return fmt.Errorf("apply batch: %w", err)
	}
	return s.Store.Apply(ctx, nb)
}

func (c *codec) sealBatch(b *store.Batch) (*store.Batch, error) {
	if b == nil {
		return nil, nil
	}
	nb := *b
	var err error
	if nb.PutCS, err = sealAll(b.PutCS, c.sealCS); err != nil {
		return nil, err
	}
	if nb.PutCSState, err = sealAll(b.PutCSState, c.sealCS); err != nil {
		return nil, err
	}
	if nb.PutMV, err = sealAll(b.PutMV, c.sealMV); err != nil {
		return nil, err
	}
	return &nb, nil
}

// sealAll returns objs with each object sealed, copying the slice only
// when an object changed (the caller's objects are never changed).
func sealAll[T any](objs []*T, seal func(*T) (*T, error)) ([]*T, error) {
	out, copied := objs, false
	for i, o := range objs {
		so, err := seal(o)
		if err != nil {
			return nil, err
		}
		if so != o {
			if !copied {
				out, copied = slices.Clone(objs), true
			}
			out[i] = so
		}
	}
	return out, nil
}

// GetCS opens the object's sealed values.
func (s *Store) GetCS(ctx context.Context, id string) (*store.CSObject, error) {
	return readCS(s.Store.GetCS(ctx, id))(&codec{o: s.o})
}

// GetCSByAnchor opens the object's sealed values.
func (s *Store) GetCSByAnchor(ctx context.Context, conn, anchor string) (*store.CSObject, error) {
	return readCS(s.Store.GetCSByAnchor(ctx, conn, anchor))(&codec{o: s.o})
}

func readCS(o *store.CSObject, err error) func(*codec) (*store.CSObject, error) {
	return func(c *codec) (*store.CSObject, error) {
		if err != nil {
			return nil, err
		}
		if err := c.openCS(o); err != nil {
			return nil, err
		}
		return o, nil
	}
}

// ScanCS opens every object's sealed values before fn sees it.
func (s *Store) ScanCS(ctx context.Context, conn string, fn func(*store.CSObject) error) error {
	return scanCS(ctx, s.Store, &codec{o: s.o}, conn, fn)
}

// ScanCSSyncPending opens every object's sealed values before fn sees it.
func (s *Store) ScanCSSyncPending(ctx context.Context, conn string, fn func(*store.CSObject) error) error {
	return openEach(s.Store.ScanCSSyncPending, &codec{o: s.o})(ctx, conn, fn)
}

// ScanCSExports opens every object's sealed values before fn sees it.
func (s *Store) ScanCSExports(ctx context.Context, conn string, fn func(*store.CSObject) error) error {
	return openEach(s.Store.ScanCSExports, &codec{o: s.o})(ctx, conn, fn)
}

type csScan func(ctx context.Context, conn string, fn func(*store.CSObject) error) error

// openEach returns scan opening every object's values before fn sees it.
func openEach(scan csScan, c *codec) csScan {
	return func(ctx context.Context, conn string, fn func(*store.CSObject) error) error {
		return scan(ctx, conn, func(o *store.CSObject) error {
			if err := c.openCS(o); err != nil {
				return err
			}
			return fn(o)
		})
	}
}

func scanCS(ctx context.Context, st store.Store, c *codec, conn string, fn func(*store.CSObject) error) error {
	return st.ScanCS(ctx, conn, func(o *store.CSObject) error {
		if err := c.openCS(o); err != nil {
			return err
		}
		return fn(o)
	})
}

// CSForMV opens the objects' sealed values.
func (s *Store) CSForMV(ctx context.Context, mvid string) ([]*store.CSObject, error) {
	return csForMV(ctx, s.Store, &codec{o: s.o}, mvid)
}

func csForMV(ctx context.Context, st store.Store, c *codec, mvid string) ([]*store.CSObject, error) {
	objs, err := st.CSForMV(ctx, mvid)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		if err := c.openCS(o); err != nil {
			return nil, err
		}
	}
	return objs, nil
}

// GetMV opens the object's sealed values.
func (s *Store) GetMV(ctx context.Context, id string) (*store.MVObject, error) {
	return getMV(ctx, s.Store, &codec{o: s.o}, id)
}

func getMV(ctx context.Context, st store.Store, c *codec, id string) (*store.MVObject, error) {
	o, err := st.GetMV(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := c.openMV(o); err != nil {
		return nil, err
	}
	return o, nil
}

// ScanMV opens every object's sealed values before fn sees it.
func (s *Store) ScanMV(ctx context.Context, fn func(*store.MVObject) error) error {
	return scanMV(ctx, s.Store, &codec{o: s.o}, fn)
}

func scanMV(ctx context.Context, st store.Store, c *codec, fn func(*store.MVObject) error) error {
	return st.ScanMV(ctx, func(o *store.MVObject) error {
		if err := c.openMV(o); err != nil {
			return err
		}
		return fn(o)
	})
}

// StartRun records the run with its message masked.
func (s *Store) StartRun(ctx context.Context, r *store.Run) error {
	if r == nil || r.Message == "" {
		return s.Store.StartRun(ctx, r)
	}
	cp := *r
	cp.Message = s.o.Masker.Mask(r.Message)
	err := s.Store.StartRun(ctx, &cp)
	r.ID = cp.ID
	return err
}

// UpdateRun saves the run with its message masked.
func (s *Store) UpdateRun(ctx context.Context, r *store.Run) error {
	if r == nil || r.Message == "" {
		return s.Store.UpdateRun(ctx, r)
	}
	cp := *r
	cp.Message = s.o.Masker.Mask(r.Message)
	return s.Store.UpdateRun(ctx, &cp)
}

// AddRunErrors records the errors with their messages masked.
func (s *Store) AddRunErrors(ctx context.Context, errs []store.RunError) error {
	if s.o.Masker == nil {
		return s.Store.AddRunErrors(ctx, errs)
	}
	out := make([]store.RunError, len(errs))
	for i, e := range errs {
		e.Message = s.o.Masker.Mask(e.Message)
		out[i] = e
	}
	return s.Store.AddRunErrors(ctx, out)
}

// AddAudit records the entry with its detail masked, as run messages are:
// an error quoted in it may hold a secret value. Users and API tokens pass
// through: they have no secret attributes (a user's password is stored as
// a one-way hash, a token as its SHA-256).
func (s *Store) AddAudit(ctx context.Context, e *store.AuditEntry) error {
	if e == nil || e.Detail == "" || s.o.Masker == nil {
		return s.Store.AddAudit(ctx, e)
	}
	cp := *e
	cp.Detail = s.o.Masker.Mask(e.Detail)
	err := s.Store.AddAudit(ctx, &cp)
	e.ID, e.Time = cp.ID, cp.Time
	return err
}

// Masked returns a read-only view of st (a backend, or a sealing Store) for
// display: the values of secret attributes (by policy or sealed) come out
// as the single value [secret], never decrypted. Apply fails.
func Masked(st store.Store, p *secret.Policy) store.Store {
	if s, ok := st.(*Store); ok {
		st = s.Store
	}
	return &masked{Store: st, c: &codec{o: Options{Policy: p}, mask: true}}
}

type masked struct {
	store.Store
	c *codec
}

// errReadOnly is returned by writes to a masked view.
var errReadOnly = errors.New("a masked store view is read-only")

func (m *masked) Apply(context.Context, *store.Batch) error { return errReadOnly }

func (m *masked) GetCS(ctx context.Context, id string) (*store.CSObject, error) {
	return readCS(m.Store.GetCS(ctx, id))(m.c)
}

func (m *masked) GetCSByAnchor(ctx context.Context, conn, anchor string) (*store.CSObject, error) {
	return readCS(m.Store.GetCSByAnchor(ctx, conn, anchor))(m.c)
}

func (m *masked) ScanCS(ctx context.Context, conn string, fn func(*store.CSObject) error) error {
	return scanCS(ctx, m.Store, m.c, conn, fn)
}

func (m *masked) ScanCSSyncPending(ctx context.Context, conn string, fn func(*store.CSObject) error) error {
	return openEach(m.Store.ScanCSSyncPending, m.c)(ctx, conn, fn)
}

func (m *masked) ScanCSExports(ctx context.Context, conn string, fn func(*store.CSObject) error) error {
	return openEach(m.Store.ScanCSExports, m.c)(ctx, conn, fn)
}

func (m *masked) CSForMV(ctx context.Context, mvid string) ([]*store.CSObject, error) {
	return csForMV(ctx, m.Store, m.c, mvid)
}

func (m *masked) GetMV(ctx context.Context, id string) (*store.MVObject, error) {
	return getMV(ctx, m.Store, m.c, id)
}

func (m *masked) ScanMV(ctx context.Context, fn func(*store.MVObject) error) error {
	return scanMV(ctx, m.Store, m.c, fn)
}

// Inventory counts the secret values in the store: sealed ones by the id of
// the key that sealed them, and those of secret attributes still in clear
// (written before the attribute was secret, or by an idsync that did not
// seal). Objects counts the objects holding either.
type Inventory struct {
	Sealed  map[string]int `json:"sealed"`
	Clear   int            `json:"clear"`
	Objects int            `json:"objects"`
}

// stale reports, for the values of one attribute, whether any must be
// sealed again (in clear, or sealed with another key than key), counting
// them into inv.
func (c *codec) stale(name string, vals []string, key string, inv *Inventory) bool {
	secretAttr := c.o.Policy.IsSecret(name)
	stale := false
	for _, v := range vals {
		rest, ok := strings.CutPrefix(v, secret.Prefix+"v1:")
		switch {
		case ok:
			id, _, _ := strings.Cut(rest, ":")
			inv.Sealed[id]++
			stale = stale || id != key
		case secretAttr && !strings.HasPrefix(v, rawPrefix):
			inv.Clear++
			stale = true
		}
	}
	return stale
}

// scanStale scans the wrapped store and returns the CS and MV object IDs
// holding values to seal again, with the inventory.
func (s *Store) scanStale(ctx context.Context) (cs, mv []string, inv Inventory, err error) {
	c := &codec{o: s.o}
	inv.Sealed = map[string]int{}
	key := ""
	if s.o.Sealer != nil {
		key = s.o.Sealer.KeyID()
	}
	err = s.Store.ScanCS(ctx, "", func(o *store.CSObject) error {
		st := false
		for name, v := range o.Object.Attrs {
			st = c.stale(name, v.Values, key, &inv) || st
		}
		if p := o.Pending; p != nil {
			for _, ch := range p.Changes {
				st = c.stale(ch.Name, ch.Values, key, &inv) || st
			}
		}
		if st {
			cs = append(cs, o.ID)
		}
		return nil
	})
	if err != nil {
		return nil, nil, inv, err
	}
	err = s.Store.ScanMV(ctx, func(o *store.MVObject) error {
		st := false
		for name, v := range o.Attrs {
			st = c.stale(name, v.Values, key, &inv) || st
		}
		if st {
			mv = append(mv, o.ID)
		}
		return nil
	})
	inv.Objects = len(cs) + len(mv)
	return cs, mv, inv, err
}

// Inventory counts the store's secret values (see Inventory).
func (s *Store) Inventory(ctx context.Context) (Inventory, error) {
	_, _, inv, err := s.scanStale(ctx)
	return inv, err
}

// Reseal writes again every object that holds a secret value in clear or
// sealed with another key than the current one, so that all are sealed
// with the current key (after a key change, or after marking an attribute
// secret). It writes batchSize objects per batch and returns how many it
// wrote. The caller keeps other writers out (the run lock). Values sealed
// with a key the sealer does not have fail it, naming the key id.
func (s *Store) Reseal(ctx context.Context, batchSize int) (int, error) {
	if s.o.Sealer == nil {
		return 0, s.noKeyErr()
	}
	cs, mv, _, err := s.scanStale(ctx)
	if err != nil {
		return 0, err
	}
	batchSize = max(batchSize, 1)
	n := 0
	for len(cs) > 0 {
		ids := cs[:min(batchSize, len(cs))]
		cs = cs[len(ids):]
		b := &store.Batch{}
		for _, id := range ids {
			o, err := s.GetCS(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return n, err
			}
			b.PutCS = append(b.PutCS, o)
		}
		if err := s.Apply(ctx, b); err != nil {
			return n, err
		}
		n += len(b.PutCS)
	}
	for len(mv) > 0 {
		ids := mv[:min(batchSize, len(mv))]
		mv = mv[len(ids):]
		b := &store.Batch{}
		for _, id := range ids {
			o, err := s.GetMV(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return n, err
			}
			b.PutMV = append(b.PutMV, o)
		}
		if err := s.Apply(ctx, b); err != nil {
			return n, err
		}
		n += len(b.PutMV)
	}
	return n, nil
}

func (s *Store) noKeyErr() error { return (&codec{o: s.o}).noKey() }

// Index fails: declaring keys builds them, a write.
func (m *masked) Index(context.Context, store.IndexSpec) error { return errReadOnly }
