package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/scheduler"
	"github.com/idsync/idsync/snapshot"
	"github.com/idsync/idsync/store"
)

func newRunCmd(g *globalFlags) *cobra.Command {
	var o engine.RunOptions
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "run CONNECTOR PROFILE",
		Short: "Run one run profile on a connector",
		Long: `Run one run profile on a connector. PROFILE is one of:
  full-import    read every object of the connector into its connector space
  delta-import   read the changes since the last import (a full import when the
                 connector has no delta capability or no watermark yet)
  full-sync      apply the sync rules to every object of the connector space
  delta-sync     apply the sync rules to the objects changed by imports
  export         write the pending exports to the connected system`,
		Example: `  idsync run contoso full-import
  idsync run cloud export --allow-deletes
  idsync run contoso full-import --allow-shrink`,
		Args:              runArgs(g),
		ValidArgsFunction: completeRun(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := engine.ParseProfile(args[1])
			if err != nil {
				return usageError{err}
			}
			a, err := openApp(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer a.Close()
			unlock, err := a.lock(wait)
			if err != nil {
				return err
			}
			defer unlock()
			bar := newProgressBar()
			a.engine.Progress = bar.update
			runs, err := a.engine.Run(cmd.Context(), args[0], p, o)
			for _, r := range runs {
				printRun(cmd.OutOrStdout(), r)
			}
			// A full import of every partition applies the connector's
			// settings, a full synchronization its inbound rules: the next
			// cycle need not repeat them (R2.5, R2.9).
			if err == nil && o.Partition == "" && (p == engine.FullImport || p == engine.FullSync) {
				snap, serr := snapshot.Take(a.cfg, a.rules)
				if serr == nil {
					serr = snapshot.Record(cmd.Context(), a.store, snap, args[0], p == engine.FullImport)
				}
				if serr != nil {
					slog.Warn("record the configuration this run applied", "err", serr)
				}
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&o.AllowDeletes, "allow-deletes", false, "export even when the pending deletes exceed the accidental-delete threshold (this run only)")
	cmd.Flags().BoolVar(&o.AllowShrink, "allow-shrink", false, "let an import delete more of the connector space than the import-shrink guard allows (this run only)")
	cmd.Flags().StringVar(&o.Partition, "partition", "", "import only this partition (domain)")
	cmd.Flags().DurationVar(&wait, "wait", 0, "wait up to this long for another run to finish")
	return cmd
}

func newCycleCmd(g *globalFlags) *cobra.Command {
	var full bool
	var o engine.RunOptions
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "cycle",
		Short: "Run one sync cycle: import, synchronize and export every connector",
		Long: `Run one sync cycle, as the scheduler does: a delta import of every connector,
then a delta synchronization of every connector, then an export to every
connector. With --full, full imports and full synchronizations instead.
A failing step is reported and the cycle goes on with the other connectors.`,
		Example: "  idsync cycle --full",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := openApp(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer a.Close()
			bar := newProgressBar()
			a.engine.Progress = bar.update
			snap, err := snapshot.Take(a.cfg, a.rules)
			if err != nil {
				return err
			}
			s := &scheduler.Scheduler{Engine: a.engine, Store: a.store, Order: a.cfg.CycleOrder(),
				Lock: func() (func(), error) { return a.lock(wait) }, Config: snap, RunRetention: a.cfg.RunRetention()}
			results, err := s.Cycle(cmd.Context(), full, o)
			if err != nil {
				return err
			}
			failed, stopped, shrunk := 0, 0, 0
			for _, r := range results {
				for _, run := range r.Runs {
					printRun(cmd.OutOrStdout(), run)
				}
				if errors.Is(r.Err, engine.ErrDeleteThreshold) {
					stopped++
				}
				if errors.Is(r.Err, engine.ErrImportShrink) {
					shrunk++
				}
				if r.Err != nil {
					failed++
					fmt.Fprintf(cmd.ErrOrStderr(), "  %s %s: %s\n", r.Connector, r.Profile, masker.Mask(r.Err.Error()))
				}
			}
			if shrunk > 0 {
				return fmt.Errorf("%d import(s) of the cycle %w before deleting anything; see above", shrunk, engine.ErrImportShrink)
			}
			if stopped > 0 {
				return fmt.Errorf("%w: %d export(s) of the cycle stopped before deleting anything; see above", engine.ErrDeleteThreshold, stopped)
			}
			if failed > 0 {
				return fmt.Errorf("%d step(s) of the cycle failed; see above and `idsync runs --errors`", failed)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&full, "full", false, "full imports and full synchronizations")
	cmd.Flags().BoolVar(&o.AllowDeletes, "allow-deletes", false, "let exports exceed the accidental-delete threshold (this cycle only)")
	cmd.Flags().BoolVar(&o.AllowShrink, "allow-shrink", false, "let imports delete more of a connector space than the import-shrink guard allows (this cycle only)")
	cmd.Flags().DurationVar(&wait, "wait", 0, "wait up to this long for another run to finish")
	return cmd
}

// printRun prints one line per run: what ran, how it ended, the counts.
func printRun(w io.Writer, r *store.Run) {
	part := ""
	if r.Partition != "" {
		part = " [" + r.Partition + "]"
	}
	dur := ""
	if r.Finished != nil {
		dur = r.Finished.Sub(r.Started).Round(time.Millisecond).String()
	}
	c := r.Counts
	if st := r.Sync; st != nil {
		// A synchronization's statistics in Azure AD Connect's words: each
		// processed object counted once, then what it staged per target.
		fmt.Fprintf(w, "run %d  %-12s %-13s%s  %-21s processed %d: projections %d, joins %d, flow updates %d, no flow updates %d, disconnectors %d, deleted %d; metaverse deletes %d, errors %d  (%s)\n",
			r.ID, r.Connector, r.Profile, part, r.Status, st.Processed(), st.Projections, st.Joins, st.FlowUpdates, st.NoFlowUpdates,
			st.Disconnectors, st.DeletedConnectors, st.MVDeletes, c.Errors, dur)
		for _, o := range st.Outbound {
			fmt.Fprintf(w, "      outbound to %s: provisioning adds %d, export attribute flow %d, renames %d, deprovisioning %d\n",
				o.Connector, o.ProvisioningAdds, o.ExportAttributeFlow, o.Renames, o.Deprovisioning)
		}
		if r.Status != store.RunSuccess && r.Status != store.RunWithError && r.Message != "" {
			fmt.Fprintf(w, "      %s\n", masker.Mask(r.Message))
		}
		return
	}
	fmt.Fprintf(w, "run %d  %-12s %-13s%s  %-21s adds %d, updates %d, renames %d, deletes %d, unchanged %d, errors %d  (%s)\n",
		r.ID, r.Connector, r.Profile, part, r.Status, c.Adds, c.Updates, c.Renames, c.Deletes, c.NoChange, c.Errors, dur)
	if r.Message != "" {
		fmt.Fprintf(w, "      %s\n", masker.Mask(r.Message))
	}
}
