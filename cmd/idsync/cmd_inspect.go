package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/internal/secret"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/view"
)

func newPreviewCmd(g *globalFlags) *cobra.Command {
	var format, out string
	var o *output
	cmd := &cobra.Command{
		Use:   "preview CONNECTOR",
		Short: "List the pending exports of a connector, one row per attribute change",
		Long: `List the pending exports of a connector — what the next export would write —
one row per object and attribute change: object, operation, attribute, old
value, new value (the equivalent of csexport + CSExportAnalyzer). Review it
after changing filters or rules and before running the export.`,
		Example: `  idsync preview cloud > pending.csv
  idsync preview cloud -o table
  idsync preview cloud -o json --file pending.json`,
		Args:              connectorArgs(g, 1, "preview", exportingConnectors),
		ValidArgsFunction: completeConnectors(g, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "" && !cmd.Flags().Changed("output") {
				o.format = format // --format, the flag's earlier name
			}
			if f := o.format; f != "" && !slices.Contains(o.formats, f) && out == "" {
				// -o FILE, the earlier meaning of -o: the file to write,
				// in --format or the format its extension names.
				out, o.format = f, format
				if o.format == "" {
					o.format = "csv"
					if strings.EqualFold(filepath.Ext(f), ".json") {
						o.format = "json"
					}
				}
			}
			cfg, st, err := openInspectStore(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := lookupTarget(g, cfg, args[0]); err != nil {
				return err
			}
			rows, err := engine.Preview(cmd.Context(), st, args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if out != "" {
				f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
				if err != nil {
					return fmt.Errorf("write preview: %w", err)
				}
				defer f.Close()
				w = f
			}
			f, err := o.resolve(w)
			if err != nil {
				return err
			}
			if len(rows) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "nothing pending for %s: the next export would write nothing\n", args[0])
			}
			switch f {
			case "csv", "json":
				return engine.WritePreview(w, rows, f)
			}
			if rows == nil {
				rows = []engine.PreviewRow{}
			}
			return write(w, f, rows, func(w io.Writer) error { return writePreviewTable(w, rows) })
		},
	}
	o = addOutputFlag(cmd, []string{"csv", "table", "json", "yaml"}, "")
	cmd.Flags().StringVar(&format, "format", "", "the same as -o (its earlier name)")
	_ = cmd.Flags().MarkHidden("format")
	cmd.Flags().StringVar(&out, "file", "", "write to this file (created 0600) instead of standard output")
	return cmd
}

// writePreviewTable prints the pending exports one row per attribute change.
func writePreviewTable(w io.Writer, rows []engine.PreviewRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OBJECT\tTYPE\tOPERATION\tATTRIBUTE\tCHANGE\tOLD VALUE\tNEW VALUE\tSTATE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cell(r.Object), r.ObjectType, r.Operation, dash(r.Attribute), dash(r.Change),
			dash(cell(r.OldValue)), dash(cell(r.NewValue)), r.State)
		if r.Error != "" {
			fmt.Fprintf(tw, "\t\t\t\terror:\t%s\t\t\n", cell(masker.Mask(r.Error)))
		}
	}
	return tw.Flush()
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newMVCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "mv", Short: "Inspect the metaverse"}
	var getOut *output
	get := &cobra.Command{
		Use:   "get ID",
		Short: "Show one metaverse object: its attributes with their lineage, and its connected objects",
		Long: `Show one metaverse object as Azure AD Connect's metaverse object properties do:
one row per attribute — name, type, value(s), and its lineage: the connector
and the inbound sync rule that contributed it, with the rule's precedence —
then the connector-space objects joined to it. Find an ID with
idsync mv search.`,
		Example: "  idsync mv get 3f2c…\n  idsync mv get 3f2c… -o json",
		Args:    exactArgs(1, "ID", "a metaverse object ID (find one with `idsync mv search ATTRIBUTE=VALUE`)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := getOut.resolve(cmd.OutOrStdout())
			if err != nil {
				return err
			}
			_, st, err := openInspectStore(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer st.Close()
			m, err := st.GetMV(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("metaverse object %s: %w", args[0], err)
			}
			cs, err := st.CSForMV(cmd.Context(), m.ID)
			if err != nil {
				return err
			}
			v := view.FromMV(m, cs)
			return write(cmd.OutOrStdout(), f, v, func(w io.Writer) error { return writeMVTable(w, v) })
		},
	}
	getOut = addOutputFlag(get, []string{"table", "json", "yaml"}, "json")
	var typ string
	var limit int
	var searchOut *output
	search := &cobra.Command{
		Use:   "search [ATTRIBUTE=VALUE …]",
		Short: "Find metaverse objects by attribute values (case-insensitive; * matches any text)",
		Long: `Find metaverse objects whose attributes match every ATTRIBUTE=VALUE given
(case-insensitive; * matches any text). When one condition is on an
attribute indexed for search (store.searchAttributes) with an exact value or
a value ending in *, the objects are found through the index, in order of
that value; otherwise the whole metaverse is read.`,
		Example: `  idsync mv search mail=alice@contoso.test
  idsync mv search --type person department=Sales`,
		RunE: func(cmd *cobra.Command, args []string) error {
			conds := map[string]string{}
			for _, a := range args {
				k, v, ok := strings.Cut(a, "=")
				if !ok {
					return usageError{fmt.Errorf("%q: write conditions as ATTRIBUTE=VALUE", a)}
				}
				conds[k] = strings.ToLower(v)
			}
			f, err := searchOut.resolve(cmd.OutOrStdout())
			if err != nil {
				return err
			}
			_, st, err := openInspectStore(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer st.Close()
			n := 0
			w := cmd.OutOrStdout()
			found := []mvFound{}
			err = scanMVFor(cmd.Context(), st, typ, conds, func(m *store.MVObject) error {
				if typ != "" && m.Type != typ {
					return nil
				}
				for k, v := range conds {
					if !anyMatch(m.Attrs[k].Values, v) {
						return nil
					}
				}
				n++
				if limit > 0 && n > limit {
					return errStop
				}
				if f == "table" {
					fmt.Fprintf(w, "%s  %-8s %s\n", m.ID, m.Type, summary(m))
				} else {
					found = append(found, mvFound{ID: m.ID, Type: m.Type, DisplayName: summary(m)})
				}
				return nil
			})
			if err != nil && !errors.Is(err, errStop) {
				return err
			}
			if n == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "no metaverse object matches")
			}
			if f == "table" {
				return nil
			}
			return write(w, f, found, nil)
		},
	}
	searchOut = addOutputFlag(search, []string{"table", "json", "yaml"}, "")
	search.Flags().StringVar(&typ, "type", "", "only objects of this MV object type")
	search.Flags().IntVar(&limit, "limit", 100, "show at most this many (0 = all)")
	cmd.AddCommand(get, search, newMVPreviewCmd(g))
	return cmd
}

func newMVPreviewCmd(g *globalFlags) *cobra.Command {
	var o *output
	cmd := &cobra.Command{
		Use:   "preview ID",
		Short: "Preview synchronizing one metaverse object, rule by rule, without changing anything",
		Long: `Show what synchronizing one metaverse object would do, rule by rule, as Azure
AD Connect's preview does — computed by the synchronization's own code and
never applied: the store is left as it is.

Inbound: every connector-space object joined to it (or that would join it),
each inbound rule of its connector and type — in scope or not (the clause
that fails) — and what each flow gives (or its error); then every metaverse
attribute: the value the contributions resolve to, the winning rule, and
whether it changes. Outbound: for every target, each outbound rule of the
object's type — in scope or not, with its assignments and roles — the link
(keep, provision, join, deprovision and how), the values the flows give
against the target object's, and the pending export the next export would
write.

The object is synchronized as a full synchronization would: every joined
object is processed, pending or not. Only this object is followed, not what
its synchronization would go on to change in other objects.`,
		Example: "  idsync mv preview 3f2c…\n  idsync mv preview 3f2c… -o json",
		Args:    exactArgs(1, "ID", "a metaverse object ID (find one with `idsync mv search ATTRIBUTE=VALUE`)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := o.resolve(cmd.OutOrStdout())
			if err != nil {
				return err
			}
			cfg, st, err := openInspectStore(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer st.Close()
			rs, err := loadRules(g, cfg)
			if err != nil {
				return err
			}
			// The expressions are compiled here (the commands that open the
			// connectors do it when they validate).
			if err := rs.Compile(); err != nil {
				return err
			}
			conns := map[string]*engine.Connector{}
			for _, cc := range cfg.Connectors {
				conns[cc.Name] = &engine.Connector{Name: cc.Name, Parameters: cc.Parameters, Unique: cc.UniqueAttributes}
			}
			e := &engine.Engine{Store: st, Rules: rs, Connectors: conns}
			p, err := e.PreviewObject(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			// Values computed from the masked store are [secret] already;
			// a GeneratePassword flow computes a new password: hidden too.
			p.HideSecrets(secretPolicy(cfg).IsSecret, secret.Redacted)
			return write(cmd.OutOrStdout(), f, p, func(w io.Writer) error { return writeObjectPreview(w, p) })
		},
	}
	o = addOutputFlag(cmd, []string{"table", "json", "yaml"}, "json")
	return cmd
}

var errStop = errors.New("stop")

// mvFound is one result of mv search in JSON and YAML.
type mvFound struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	DisplayName string `json:"displayName"`
}

func anyMatch(vals []string, pattern string) bool {
	for _, v := range vals {
		if wildcard(strings.ToLower(v), pattern) {
			return true
		}
	}
	return false
}

// wildcard matches s against p where * matches any run of characters.
func wildcard(s, p string) bool {
	parts := strings.Split(p, "*")
	if len(parts) == 1 {
		return s == p
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

func summary(m *store.MVObject) string {
	for _, a := range []string{"displayName", "cn", "mail", "userPrincipalName"} {
		if v := m.Attrs.First(a); v != "" {
			return v
		}
	}
	return ""
}

func newCSCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "cs", Short: "Inspect connector spaces"}
	var getOut *output
	get := &cobra.Command{
		Use:   "get CONNECTOR ANCHOR",
		Short: "Show one connector space object: its values, its link and its pending export",
		Long: `Show one connector-space object: the values last imported (or exported and
not yet confirmed by an import), its state (joined, provisioned,
placeholder, disconnector, deleted), the metaverse object it is joined to
and the rule that joined it, and its pending export with its changes and
the target's last error. The anchors of a metaverse object's connected
objects are listed by idsync mv get.`,
		Example:           "  idsync cs get contoso 8c5e0b1a-…\n  idsync cs get cloud 8c5e0b1a-… -o yaml",
		Args:              connectorArgs(g, 2, "cs get", allConnectors),
		ValidArgsFunction: completeConnectors(g, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := getOut.resolve(cmd.OutOrStdout())
			if err != nil {
				return err
			}
			_, st, err := openInspectStore(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer st.Close()
			c, err := st.GetCSByAnchor(cmd.Context(), args[0], args[1])
			if err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("connector space object %s in %s: %w (give the object's anchor, as idsync mv get lists it)", args[1], args[0], err)
				}
				return fmt.Errorf("connector space object %s in %s: %w", args[1], args[0], err)
			}
			v := view.FromCS(c)
			return write(cmd.OutOrStdout(), f, v, func(w io.Writer) error { return writeCSTable(w, v) })
		},
	}
	getOut = addOutputFlag(get, []string{"table", "json", "yaml"}, "json")
	cmd.AddCommand(get)
	return cmd
}

func newRunsCmd(g *globalFlags) *cobra.Command {
	var f store.RunFilter
	var format string
	var o *output
	cmd := &cobra.Command{
		Use:   "runs [RUN-ID]",
		Short: "Show the run history, or one run with its per-object errors",
		Example: `  idsync runs --errors
  idsync runs 42`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case cmd.Flags().Changed("output"):
			case format == "text":
				o.format = "table"
			case format == "json":
				o.format = "json"
			case format != "":
				return usageError{errors.New("--format must be text or json (or use -o table|json|yaml)")}
			}
			out, err := o.resolve(cmd.OutOrStdout())
			if err != nil {
				return err
			}
			_, st, err := openStore(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer st.Close()
			w := cmd.OutOrStdout()
			if len(args) == 1 {
				var id int64
				if _, err := fmt.Sscan(args[0], &id); err != nil {
					return usageError{fmt.Errorf("run id %q is not a number", args[0])}
				}
				runs, err := st.Runs(cmd.Context(), store.RunFilter{ID: id})
				if err != nil {
					return err
				}
				if len(runs) == 0 {
					return fmt.Errorf("run %d: %w", id, store.ErrNotFound)
				}
				r := runs[0]
				errs, err := st.RunErrors(cmd.Context(), id)
				if err != nil {
					return err
				}
				if errs == nil {
					errs = []store.RunError{}
				}
				if out != "table" {
					return write(w, out, struct {
						*store.Run
						Errors []store.RunError `json:"errors"`
					}{r, errs}, nil)
				}
				printRun(w, r)
				for _, e := range errs {
					fmt.Fprintf(w, "  %s  %s\n", e.Object, e.Message)
				}
				return nil
			}
			runs, err := st.Runs(cmd.Context(), f)
			if err != nil {
				return err
			}
			if out != "table" {
				if runs == nil {
					runs = []*store.Run{}
				}
				return write(w, out, runs, nil)
			}
			for _, r := range runs {
				printRun(w, r)
				if f.OnlyErrors {
					errs, err := st.RunErrors(cmd.Context(), r.ID)
					if err != nil {
						return err
					}
					for _, e := range errs {
						fmt.Fprintf(w, "      %s  %s\n", e.Object, e.Message)
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&f.OnlyErrors, "errors", false, "only runs with errors, with their per-object errors")
	cmd.Flags().StringVar(&f.Connector, "connector", "", "only runs of this connector")
	cmd.Flags().IntVar(&f.Limit, "limit", 50, "show at most this many runs (0 = all)")
	o = addOutputFlag(cmd, []string{"table", "json", "yaml"}, "")
	cmd.Flags().StringVar(&format, "format", "", "text or json: the same as -o table or -o json (its earlier name)")
	cmd.AddCommand(newRunsPruneCmd(g))
	return cmd
}

func newRunsPruneCmd(g *globalFlags) *cobra.Command {
	var olderThan time.Duration
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Delete the runs older than the run history's retention, with their per-object errors",
		Long: `Delete the runs that started longer ago than runHistory.retention (default
168h) or --older-than, with their per-object errors. The newest run of each
connector and profile is always kept, and running runs are never deleted.
idsync serve and idsync cycle prune after each cycle.`,
		Example: `  idsync runs prune
  idsync runs prune --older-than 720h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, st, err := openStore(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer st.Close()
			keep := cfg.RunRetention()
			if cmd.Flags().Changed("older-than") {
				keep = olderThan
			}
			if keep <= 0 {
				return usageError{errors.New("nothing to prune: runHistory.retention is 0 (keep forever); give --older-than")}
			}
			before := time.Now().Add(-keep)
			n, err := st.PruneRuns(cmd.Context(), before)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %d run(s) started before %s\n", n, before.UTC().Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().DurationVar(&olderThan, "older-than", 0, "delete runs started longer ago than this (default: runHistory.retention)")
	return cmd
}

// scanMVFor calls fn for the metaverse objects that may match conds:
// through the search index when a condition is on an indexed attribute
// with an exact value or a prefix (VALUE*), in order of that value;
// otherwise every object. fn checks every condition itself.
func scanMVFor(ctx context.Context, st store.Store, typ string, conds map[string]string, fn func(*store.MVObject) error) error {
	indexed, err := st.SearchAttrs(ctx)
	if err != nil {
		return err
	}
	for _, attr := range slices.Sorted(maps.Keys(conds)) {
		v := conds[attr]
		fixed, prefix := strings.CutSuffix(v, "*")
		if !slices.Contains(indexed, attr) || strings.Contains(fixed, "*") || fixed == "" {
			continue
		}
		q := store.MVQuery{Attr: attr, Value: fixed, Prefix: prefix, Type: typ, Limit: store.MaxSearchLimit}
		seen := map[string]bool{}
		for {
			page, next, err := st.SearchMV(ctx, q)
			if err != nil {
				return err
			}
			for _, mt := range page {
				if seen[mt.ID] {
					continue // two of its values match
				}
				seen[mt.ID] = true
				m, err := st.GetMV(ctx, mt.ID)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				if err := fn(m); err != nil {
					return err
				}
			}
			if next == "" {
				return nil
			}
			q.After = next
		}
	}
	return st.ScanMV(ctx, fn)
}
