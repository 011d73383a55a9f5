package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/store"
)

func newPreviewCmd(g *globalFlags) *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "preview CONNECTOR",
		Short: "List the pending exports of a connector, one row per attribute change",
		Long: `List the pending exports of a connector — what the next export would write —
one row per object and attribute change: object, operation, attribute, old
value, new value (the equivalent of csexport + CSExportAnalyzer). Review it
after changing filters or rules and before running the export.`,
		Example: `  idsync preview cloud > pending.csv
  idsync preview cloud --format json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "csv" && format != "json" {
				return usageError{fmt.Errorf("--format must be csv or json")}
			}
			cfg, st, err := openInspectStore(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer st.Close()
			if _, err := cfg.Lookup(args[0]); err != nil {
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
			return engine.WritePreview(w, rows, format)
		},
	}
	cmd.Flags().StringVar(&format, "format", "csv", "csv or json")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of standard output")
	return cmd
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newMVCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "mv", Short: "Inspect the metaverse"}
	get := &cobra.Command{
		Use:     "get ID",
		Short:   "Show one metaverse object with its attributes, lineage and connected objects",
		Example: "  idsync mv get 3f2c…",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
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
			type link struct {
				Connector string `json:"connector"`
				Anchor    string `json:"anchor"`
				DN        string `json:"dn,omitempty"`
				Rule      string `json:"linkRule,omitempty"`
			}
			var links []link
			for _, c := range cs {
				links = append(links, link{c.Connector, c.Object.Anchor, c.Object.DN, c.LinkRule})
			}
			return printJSON(cmd.OutOrStdout(), struct {
				*store.MVObject
				Connectors []link `json:"connectors"`
			}{m, links})
		},
	}
	var typ string
	var limit int
	search := &cobra.Command{
		Use:   "search [ATTRIBUTE=VALUE …]",
		Short: "Find metaverse objects by attribute values (case-insensitive; * matches any text)",
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
			_, st, err := openInspectStore(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer st.Close()
			n := 0
			w := cmd.OutOrStdout()
			err = st.ScanMV(cmd.Context(), func(m *store.MVObject) error {
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
				fmt.Fprintf(w, "%s  %-8s %s\n", m.ID, m.Type, summary(m))
				return nil
			})
			if err != nil && !errors.Is(err, errStop) {
				return err
			}
			return nil
		},
	}
	search.Flags().StringVar(&typ, "type", "", "only objects of this MV object type")
	search.Flags().IntVar(&limit, "limit", 100, "show at most this many (0 = all)")
	cmd.AddCommand(get, search)
	return cmd
}

var errStop = errors.New("stop")

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
	get := &cobra.Command{
		Use:     "get CONNECTOR ANCHOR",
		Short:   "Show one connector space object, its link and its pending export",
		Example: "  idsync cs get contoso 8c5e0b1a-…",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, st, err := openInspectStore(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer st.Close()
			c, err := st.GetCSByAnchor(cmd.Context(), args[0], args[1])
			if err != nil {
				return fmt.Errorf("connector space object %s in %s: %w", args[1], args[0], err)
			}
			return printJSON(cmd.OutOrStdout(), c)
		},
	}
	cmd.AddCommand(get)
	return cmd
}

func newRunsCmd(g *globalFlags) *cobra.Command {
	var f store.RunFilter
	var format string
	cmd := &cobra.Command{
		Use:   "runs [RUN-ID]",
		Short: "Show the run history, or one run with its per-object errors",
		Example: `  idsync runs --errors
  idsync runs 42`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usageError{errors.New("--format must be text or json")}
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
				runs, err := st.Runs(cmd.Context(), store.RunFilter{})
				if err != nil {
					return err
				}
				for _, r := range runs {
					if r.ID != id {
						continue
					}
					errs, err := st.RunErrors(cmd.Context(), id)
					if err != nil {
						return err
					}
					if errs == nil {
						errs = []store.RunError{}
					}
					if format == "json" {
						return printJSON(w, struct {
							*store.Run
							Errors []store.RunError `json:"errors"`
						}{r, errs})
					}
					printRun(w, r)
					for _, e := range errs {
						fmt.Fprintf(w, "  %s  %s\n", e.Object, e.Message)
					}
					return nil
				}
				return fmt.Errorf("run %d: %w", id, store.ErrNotFound)
			}
			runs, err := st.Runs(cmd.Context(), f)
			if err != nil {
				return err
			}
			if format == "json" {
				return printJSON(w, runs)
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
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
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
