package tenant

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/store"
)

// Onboarder runs the onboarding steps of one tenant — discover, review,
// confirm, deliver the passwords — as runs of the engine on the tenant's
// configuration: the same imports, synchronizations and exports, with
// their journal, guard and run history, as every other run. The console's
// wizard and idsync onboard call the same methods, so they make the same
// checks.
type Onboarder struct {
	OB     Onboarding
	Engine *engine.Engine
	// Store is the tenant's store, read with its secrets in clear (the
	// sealing store with the key).
	Store store.Store
	// Dir is the tenant's directory (where the review file is).
	Dir string
	// Sealer seals the passwords awaiting delivery (security.secretKey).
	Sealer interface {
		Seal(string) (string, error)
		Open(string) (string, error)
	}
}

// Summary is where an onboarding stands.
type Summary struct {
	// Users are the objects of the tenant's directory.
	Users int64 `json:"users"`
	// Adds, Updates, Deletes are the target's pending exports by kind.
	Adds    int `json:"adds"`
	Updates int `json:"updates"`
	Deletes int `json:"deletes"`
	// Errors are per-object errors of the runs of this step.
	Errors int `json:"errors"`
}

// run runs a profile and fails if a run failed as a whole.
func (o *Onboarder) run(ctx context.Context, conn string, p engine.Profile, opts engine.RunOptions, sum *Summary) error {
	runs, err := o.Engine.Run(ctx, conn, p, opts)
	for _, r := range runs {
		if sum != nil {
			sum.Errors += int(r.Counts.Errors)
		}
	}
	if err != nil {
		return fmt.Errorf("%s of %s: %w", p, conn, err)
	}
	return nil
}

func (o *Onboarder) conns() []string {
	out := []string{o.OB.Source}
	if o.OB.Review != "" {
		out = append(out, o.OB.Review)
	}
	return append(out, o.OB.Target)
}

func (o *Onboarder) reviewPath() string { return filepath.Join(o.Dir, o.OB.ReviewFile) }

// ensureReviewFile creates an empty review file (its header) if missing.
func (o *Onboarder) ensureReviewFile() error {
	if o.OB.Review == "" {
		return nil
	}
	if _, err := os.Stat(o.reviewPath()); err == nil {
		return nil
	}
	return writeCSVFile(o.reviewPath(), append([]string{"id", "excluded"}, o.OB.ReviewColumns...), nil)
}

// Discover imports the tenant's directory (and the review edits and the
// target's objects) in full and synchronizes them, without exporting: the
// target's pending exports are then what confirming would do.
func (o *Onboarder) Discover(ctx context.Context) (*Summary, error) {
	if err := o.ensureReviewFile(); err != nil {
		return nil, err
	}
	sum := &Summary{}
	for _, p := range []engine.Profile{engine.FullImport, engine.FullSync} {
		for _, c := range o.conns() {
			if err := o.run(ctx, c, p, engine.RunOptions{}, sum); err != nil {
				return nil, err
			}
		}
	}
	return o.pending(ctx, sum)
}

// Status returns where the onboarding stands, without running anything.
func (o *Onboarder) Status(ctx context.Context) (*Summary, error) { return o.pending(ctx, &Summary{}) }

func (o *Onboarder) pending(ctx context.Context, sum *Summary) (*Summary, error) {
	n, err := o.Store.CountCS(ctx, o.OB.Source)
	if err != nil {
		return nil, err
	}
	sum.Users = n
	err = o.Store.ScanCSExports(ctx, o.OB.Target, func(c *store.CSObject) error {
		switch c.Pending.Op {
		case connector.OpAdd:
			sum.Adds++
		case connector.OpDelete:
			sum.Deletes++
		default:
			sum.Updates++
		}
		return nil
	})
	return sum, err
}

// ReviewRow is one user of the review list.
type ReviewRow struct {
	// ID is the anchor of the user in the tenant's directory.
	ID string `json:"id"`
	// Include: the user is (or will be) a subscriber.
	Include bool `json:"include"`
	// State: new (created by confirming), existing, excluded (removed in
	// review), out of scope (the rules leave it out, e.g. disabled).
	State string `json:"state"`
	// Values are the subscriber's attributes as confirming would make them
	// (ReviewColumns and ShowColumns; never a secret).
	Values map[string]string `json:"values"`
	// Edited are the columns a review edit sets.
	Edited []string `json:"edited,omitempty"`
}

// Review states.
const (
	StateNew        = "new"
	StateExisting   = "existing"
	StateExcluded   = "excluded"
	StateOutOfScope = "out of scope"
)

// Columns are the review list's columns: the editable ones, then the
// shown ones.
func (o *Onboarder) Columns() []string {
	out := slices.Clone(o.OB.ReviewColumns)
	for _, c := range o.OB.ShowColumns {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// ReviewRows lists every user of the tenant's directory with what
// confirming would make of it, by ID.
func (o *Onboarder) ReviewRows(ctx context.Context) ([]*ReviewRow, error) {
	cols := o.Columns()
	var rows []*ReviewRow
	err := o.Store.ScanCS(ctx, o.OB.Source, func(c *store.CSObject) error {
		if c.Deleted {
			return nil
		}
		r := &ReviewRow{ID: c.Object.Anchor, State: StateOutOfScope, Values: map[string]string{}}
		rows = append(rows, r)
		if c.MVID == "" {
			return nil
		}
		linked, err := o.Store.CSForMV(ctx, c.MVID)
		if err != nil {
			return err
		}
		for _, l := range linked {
			switch l.Connector {
			case o.OB.Target:
				if l.Deleted || l.Pending != nil && l.Pending.Op == connector.OpDelete {
					continue
				}
				r.Include, r.State = true, StateExisting
				if l.Pending != nil && l.Pending.Op == connector.OpAdd {
					r.State = StateNew
				}
				for _, col := range cols {
					r.Values[col] = strings.Join(engine.DesiredValues(l, col), ";")
				}
			case o.OB.Review:
				if strings.EqualFold(l.Object.Attrs.First("excluded"), "true") && !r.Include {
					r.State = StateExcluded
				}
				for _, col := range o.OB.ReviewColumns {
					if l.Object.Attrs.First(col) != "" {
						r.Edited = append(r.Edited, col)
					}
				}
			}
		}
		return nil
	})
	sort.Slice(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
	return rows, err
}

// WriteReviewCSV writes the review list as CSV: id, include (yes/no),
// state, then the columns. ApplyReview reads it back, edited.
func (o *Onboarder) WriteReviewCSV(w io.Writer, rows []*ReviewRow) error {
	cols := o.Columns()
	cw := csv.NewWriter(w)
	if err := cw.Write(append([]string{"id", "include", "state"}, cols...)); err != nil {
		return err
	}
	for _, r := range rows {
		inc := "no"
		if r.Include {
			inc = "yes"
		}
		rec := []string{r.ID, inc, r.State}
		for _, c := range cols {
			rec = append(rec, r.Values[c])
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ApplyResult says what a review changed.
type ApplyResult struct {
	Edited   int `json:"edited"`   // cells set by this review
	Excluded int `json:"excluded"` // users removed from the import
	Included int `json:"included"` // users brought back
	Summary  *Summary
}

// ApplyReview reads an edited review list (as WriteReviewCSV writes it,
// rows may be left out), checks it, records its edits in the review file
// and synchronizes them: the target's pending exports then carry them.
// Nothing is recorded unless the whole list is valid; the errors name
// the line and column.
func (o *Onboarder) ApplyReview(ctx context.Context, r io.Reader) (*ApplyResult, error) {
	if o.OB.Review == "" {
		return nil, errors.New("the tenant template has no review connector (onboarding.review): edits cannot be applied")
	}
	if err := o.ensureReviewFile(); err != nil {
		return nil, err
	}
	cur, err := o.ReviewRows(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[string]*ReviewRow{}
	for _, c := range cur {
		byID[c.ID] = c
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("review list: %w", err)
	}
	if len(recs) == 0 {
		return nil, errors.New("review list: empty (expected the header id,include,… as idsync onboard review writes it)")
	}
	head := recs[0]
	idx := map[string]int{}
	for i, h := range head {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if _, dup := idx[h]; dup {
			return nil, fmt.Errorf("review list: column %q appears twice", h)
		}
		idx[h] = i
	}
	for _, need := range []string{"id", "include"} {
		if _, ok := idx[need]; !ok {
			return nil, fmt.Errorf("review list: no column %q (the header is %s)", need, strings.Join(head, ","))
		}
	}
	shown := o.Columns()
	for h := range idx {
		if h != "id" && h != "include" && h != "state" && !slices.Contains(shown, h) {
			return nil, fmt.Errorf("review list: unknown column %q (columns: id, include, state, %s)", h, strings.Join(shown, ", "))
		}
	}
	old, err := readReviewFile(o.reviewPath())
	if err != nil {
		return nil, err
	}
	res := &ApplyResult{}
	var errs []error
	seen := map[string]int{}
	// The values each editable column will hold per user, to check the
	// unique ones.
	final := map[string]map[string]string{}
	for _, c := range o.OB.ReviewColumns {
		final[c] = map[string]string{}
		for _, row := range cur {
			if row.Include {
				final[c][row.ID] = row.Values[c]
			}
		}
	}
	for n, rec := range recs[1:] {
		line := n + 2
		get := func(col string) string {
			if i, ok := idx[col]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		id := get("id")
		if id == "" && len(rec) == 1 {
			continue // a blank line
		}
		row := byID[id]
		if row == nil {
			errs = append(errs, fmt.Errorf("line %d: id %q is not a user of the tenant's directory (discover again if it is new)", line, id))
			continue
		}
		if prev, dup := seen[id]; dup {
			errs = append(errs, fmt.Errorf("line %d: id %q is already on line %d", line, id, prev))
			continue
		}
		seen[id] = line
		var include bool
		switch strings.ToLower(get("include")) {
		case "yes", "true", "y", "1":
			include = true
		case "no", "false", "n", "0":
		default:
			errs = append(errs, fmt.Errorf("line %d: include %q: yes or no", line, get("include")))
			continue
		}
		edit := old[id]
		if edit == nil {
			edit = map[string]string{}
		}
		switch {
		case !include && row.Include:
			edit["excluded"] = "true"
			res.Excluded++
		case include && !row.Include && row.State == StateExcluded:
			delete(edit, "excluded")
			res.Included++
		case include && !row.Include:
			errs = append(errs, fmt.Errorf("line %d: user %s is out of scope of the subscriber rules (for example a disabled account): it cannot be included by a review", line, id))
			continue
		}
		for _, col := range shown {
			if _, ok := idx[col]; !ok || !include {
				continue
			}
			v := get(col)
			if v == row.Values[col] {
				continue
			}
			if !slices.Contains(o.OB.ReviewColumns, col) {
				errs = append(errs, fmt.Errorf("line %d: column %s cannot be edited (editable: %s)", line, col, strings.Join(o.OB.ReviewColumns, ", ")))
				continue
			}
			if v == "" {
				errs = append(errs, fmt.Errorf("line %d: %s: empty; leave the value idsync proposed, or remove the user (include no)", line, col))
				continue
			}
			if isNumber(row.Values[col]) && !isNumber(v) {
				errs = append(errs, fmt.Errorf("line %d: %s %q: a number", line, col, v))
				continue
			}
			edit[col] = v
			final[col][id] = v
			res.Edited++
		}
		if !include {
			for _, c := range o.OB.ReviewColumns {
				delete(final[c], id)
			}
		}
		old[id] = edit
	}
	// A number column's values must stay unique among the tenant's
	// subscribers (extensions).
	for _, col := range o.OB.ReviewColumns {
		holders := map[string][]string{}
		for id, v := range final[col] {
			if v != "" && isNumber(v) {
				holders[v] = append(holders[v], id)
			}
		}
		for v, ids := range holders {
			if len(ids) > 1 {
				sort.Strings(ids)
				errs = append(errs, fmt.Errorf("%s %s would be given to %s: give each a value of its own", col, v, strings.Join(ids, " and ")))
			}
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("the review list has %d error(s), nothing was changed:\n  %w", len(errs), errors.Join(errs...))
	}
	if err := writeReviewFile(o.reviewPath(), o.OB.ReviewColumns, old); err != nil {
		return nil, err
	}
	sum := &Summary{}
	if err := o.run(ctx, o.OB.Review, engine.FullImport, engine.RunOptions{}, sum); err != nil {
		return nil, err
	}
	if err := o.run(ctx, o.OB.Review, engine.FullSync, engine.RunOptions{}, sum); err != nil {
		return nil, err
	}
	if res.Summary, err = o.pending(ctx, sum); err != nil {
		return nil, err
	}
	return res, nil
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// readReviewFile reads the recorded edits: id → column → value.
func readReviewFile(path string) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("review file %s: %w", path, err)
	}
	if len(recs) == 0 {
		return out, nil
	}
	head := recs[0]
	for _, rec := range recs[1:] {
		m := map[string]string{}
		for i, h := range head {
			if i > 0 && i < len(rec) && rec[i] != "" {
				m[h] = rec[i]
			}
		}
		out[rec[0]] = m
	}
	return out, nil
}

// writeReviewFile writes the edits, one row per user with any.
func writeReviewFile(path string, cols []string, edits map[string]map[string]string) error {
	head := append([]string{"id", "excluded"}, cols...)
	var ids []string
	for id, m := range edits {
		if len(m) > 0 {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var rows [][]string
	for _, id := range ids {
		rec := []string{id}
		for _, h := range head[1:] {
			rec = append(rec, edits[id][h])
		}
		rows = append(rows, rec)
	}
	return writeCSVFile(path, head, rows)
}

func writeCSVFile(path string, head []string, rows [][]string) error {
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	_ = cw.Write(head)
	_ = cw.WriteAll(rows)
	if err := cw.Error(); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ConfirmResult says what confirming did.
type ConfirmResult struct {
	Adds, Updates, Deletes, Errors int
	// Passwords is how many new subscribers' passwords await delivery.
	Passwords int
	Summary   *Summary
}

// deliveryKey is the tenant store's setting holding the passwords that
// await delivery, sealed; confirmedKey the time of the first confirm.
const (
	deliveryKey  = "onboarding.delivery"
	confirmedKey = "onboarding.confirmed"
)

// Confirmed reports whether the tenant's onboarding was confirmed once:
// from then on its synchronization runs on the schedule (Cycle).
func (o *Onboarder) Confirmed(ctx context.Context) (bool, error) {
	v, err := o.Store.Setting(ctx, confirmedKey)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return v != "", err
}

// Cycle is a tenant's scheduled re-synchronization once its onboarding is
// confirmed (nil, nil before: the first export waits for a review and an
// explicit confirm): imports (delta where the connector can), delta
// synchronizations, then Confirm, so new directory users become
// subscribers with new extensions and passwords (kept for the next
// spreadsheet), renamed ones are updated and removed ones disabled.
func (o *Onboarder) Cycle(ctx context.Context) (*ConfirmResult, error) {
	ok, err := o.Confirmed(ctx)
	if err != nil || !ok {
		return nil, err
	}
	if err := o.ensureReviewFile(); err != nil {
		return nil, err
	}
	// Delta runs where the connector has a change log (Graph's delta
	// queries, LDAP's DirSync …), full ones elsewhere.
	for _, c := range o.conns() {
		p := engine.FullImport
		if o.Engine.CanDeltaImport(c) {
			p = engine.DeltaImport
		}
		if err := o.run(ctx, c, p, engine.RunOptions{}, nil); err != nil {
			return nil, err
		}
	}
	for _, c := range o.conns() {
		if err := o.run(ctx, c, engine.DeltaSync, engine.RunOptions{}, nil); err != nil {
			return nil, err
		}
	}
	return o.Confirm(ctx)
}

// Confirm exports the target's pending exports (creating, updating and
// disabling subscribers), confirms them with an import, and keeps the
// spreadsheet rows of the subscribers it created — with their passwords —
// sealed until they are delivered (Delivery, Delivered).
func (o *Onboarder) Confirm(ctx context.Context) (*ConfirmResult, error) {
	res := &ConfirmResult{}
	var rows [][]string
	opts := engine.RunOptions{OnExport: func(ev engine.ExportEvent) {
		if ev.Connector != o.OB.Target {
			return
		}
		if ev.Err != nil {
			res.Errors++
			return
		}
		switch ev.Op {
		case connector.OpAdd:
			res.Adds++
		case connector.OpDelete:
			res.Deletes++
			return
		default:
			res.Updates++
			// A password reset: the update carries a new password.
			if o.OB.Password == "" || !slices.ContainsFunc(ev.Changes, func(ch connector.AttrChange) bool {
				return ch.Name == o.OB.Password && ch.Mode == connector.Replace && len(ch.Values) > 0
			}) {
				return
			}
		}
		if len(o.OB.Spreadsheet) == 0 {
			return
		}
		row := make([]string, len(o.OB.Spreadsheet))
		for i, col := range o.OB.Spreadsheet {
			var vals []string
			for _, ch := range ev.Changes {
				if ch.Name == col.Attribute && ch.Mode == connector.Replace {
					vals = ch.Values
				}
			}
			if vals == nil {
				vals = ev.Attrs[col.Attribute].Values
			}
			row[i] = strings.Join(vals, ";")
		}
		rows = append(rows, row)
	}}
	if err := o.run(ctx, o.OB.Target, engine.Export, opts, nil); err != nil {
		// What was exported before the failure is delivered all the same.
		if serr := o.keep(ctx, rows); serr != nil {
			return nil, errors.Join(err, serr)
		}
		return nil, err
	}
	if err := o.keep(ctx, rows); err != nil {
		return nil, err
	}
	res.Passwords = len(rows)
	if ok, err := o.Confirmed(ctx); err != nil {
		return nil, err
	} else if !ok {
		if err := o.Store.SetSetting(ctx, confirmedKey, time.Now().UTC().Format(time.RFC3339)); err != nil {
			return nil, err
		}
	}
	sum := &Summary{}
	for _, p := range []engine.Profile{engine.FullImport, engine.DeltaSync} {
		if err := o.run(ctx, o.OB.Target, p, engine.RunOptions{}, sum); err != nil {
			return nil, err
		}
	}
	var err error
	res.Summary, err = o.pending(ctx, sum)
	return res, err
}

// keep appends rows to the sealed delivery.
func (o *Onboarder) keep(ctx context.Context, rows [][]string) error {
	if len(rows) == 0 {
		return nil
	}
	prev, err := o.Delivery(ctx)
	if err != nil {
		return err
	}
	if o.Sealer == nil {
		return errors.New("the new subscribers' passwords cannot be kept for delivery: no security.secretKey is configured")
	}
	b, err := json.Marshal(append(prev, rows...))
	if err != nil {
		return err
	}
	s, err := o.Sealer.Seal(string(b))
	if err != nil {
		return err
	}
	return o.Store.SetSetting(ctx, deliveryKey, s)
}

// Delivery returns the spreadsheet rows awaiting delivery (the columns of
// Onboarding.Spreadsheet).
func (o *Onboarder) Delivery(ctx context.Context) ([][]string, error) {
	s, err := o.Store.Setting(ctx, deliveryKey)
	if errors.Is(err, store.ErrNotFound) || err == nil && s == "" {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if o.Sealer == nil {
		return nil, errors.New("the passwords awaiting delivery are sealed: configure security.secretKey")
	}
	plain, err := o.Sealer.Open(s)
	if err != nil {
		return nil, fmt.Errorf("the passwords awaiting delivery: %w", err)
	}
	var rows [][]string
	if err := json.Unmarshal([]byte(plain), &rows); err != nil {
		return nil, fmt.Errorf("the passwords awaiting delivery: %w", err)
	}
	return rows, nil
}

// Delivered forgets the passwords awaiting delivery: once delivered, idsync
// keeps a password only where the engine needs it (sealed in the target's
// connector space and export journal), never again in a spreadsheet.
func (o *Onboarder) Delivered(ctx context.Context) error {
	return o.Store.SetSetting(ctx, deliveryKey, "")
}

// ResetPasswords gives the users with these directory IDs (existing
// subscribers) new passwords: a full synchronization of the target applies
// the template's password flow (Onboarding.Password, an applyOnce flow)
// again for them alone. The next Confirm sends them and keeps them for
// the next spreadsheet — the only way to deliver a password again.
func (o *Onboarder) ResetPasswords(ctx context.Context, ids []string) (int, error) {
	if o.OB.Password == "" {
		return 0, errors.New("the tenant template names no password attribute (onboarding.password): passwords cannot be reset")
	}
	reapply := map[string][]string{}
	var errs []error
	for _, id := range ids {
		c, err := o.Store.GetCSByAnchor(ctx, o.OB.Source, id)
		if errors.Is(err, store.ErrNotFound) || err == nil && (c.Deleted || c.MVID == "") {
			errs = append(errs, fmt.Errorf("%s is not a user of the tenant's directory", id))
			continue
		}
		if err != nil {
			return 0, err
		}
		linked, err := o.Store.CSForMV(ctx, c.MVID)
		if err != nil {
			return 0, err
		}
		if !slices.ContainsFunc(linked, func(l *store.CSObject) bool {
			return l.Connector == o.OB.Target && !l.Deleted && !l.Placeholder
		}) {
			errs = append(errs, fmt.Errorf("%s is no subscriber yet: its password comes with its creation", id))
			continue
		}
		reapply[c.MVID] = []string{o.OB.Password}
	}
	if len(errs) > 0 {
		return 0, fmt.Errorf("no password was reset:\n  %w", errors.Join(errs...))
	}
	if err := o.run(ctx, o.OB.Target, engine.FullSync, engine.RunOptions{Reapply: reapply}, nil); err != nil {
		return 0, err
	}
	return len(reapply), nil
}
