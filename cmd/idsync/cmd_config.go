package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/provisioning"
	"github.com/idsync/idsync/snapshot"
)

func newConfigCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Show what changed in the configuration since the last sync cycle"}
	diff := &cobra.Command{
		Use:   "diff",
		Short: "List the rule and connector changes since the last cycle, and the full runs the next cycle will do",
		Long: `List what changed in the sync rules (out-of-box and custom) and in the
connectors' settings (partitions, containers, filters …) since the last
sync cycle that finished without failed steps — for example after an
upgrade, before the first cycle runs (R2.5). The next cycle runs a full
import and a full synchronization of a changed connector, a full import and
synchronization of the connector of a changed inbound rule, and a full
synchronization of every connector for a changed outbound rule.`,
		Example: "  idsync config diff",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, st, err := openStore(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer st.Close()
			rs, err := loadRules(g, cfg)
			if err != nil {
				return err
			}
			cur, err := snapshot.Take(cfg, rs)
			if err != nil {
				return err
			}
			old, err := snapshot.Load(cmd.Context(), st)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			summary, err := cfg.ConsoleSummary()
			if err != nil {
				return err
			}
			appSummary, err := provisioning.ConsoleSummary(appsPath(g, cfg))
			if err != nil {
				return err
			}
			summary = append(summary, appSummary...)
			if len(summary) > 0 {
				fmt.Fprintln(out, "Set from the console or the CLI (console-managed files, see docs/console.md):")
				for _, l := range summary {
					fmt.Fprintln(out, "  "+l)
				}
				fmt.Fprintln(out)
			}
			if old == nil {
				fmt.Fprintln(out, "No sync cycle has been recorded with this store yet: the first cycle imports and synchronizes everything in full.")
				return nil
			}
			changes := snapshot.Diff(old, cur)
			if len(changes) == 0 {
				fmt.Fprintln(out, "No change since the last cycle.")
				return nil
			}
			for _, c := range changes {
				fmt.Fprintln(out, c.String())
			}
			fi, fs := snapshot.Needs(changes, cfg.CycleOrder())
			fmt.Fprintln(out)
			if len(fi) > 0 {
				fmt.Fprintf(out, "The next cycle runs a full import of: %s\n", strings.Join(slices.Sorted(maps.Keys(fi)), ", "))
			}
			if len(fs) > 0 {
				fmt.Fprintf(out, "The next cycle runs a full synchronization of: %s\n", strings.Join(slices.Sorted(maps.Keys(fs)), ", "))
			}
			fmt.Fprintln(out, "Check the pending exports with `idsync preview CONNECTOR` before the export runs (disable the scheduler meanwhile: `idsync scheduler disable`).")
			return nil
		},
	}
	cmd.AddCommand(diff)
	return cmd
}
