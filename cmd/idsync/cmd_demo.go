package main

import (
	"bufio"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/sample"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/sealed"
)

//go:embed demo/idsync.yaml demo/rules.yaml
var demoFS embed.FS

func newDemoCmd() *cobra.Command {
	var dir string
	var reset bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a full sync cycle on built-in sample data (no server needed)",
		Long: `Run idsync's main job on built-in sample data, with nothing to install: two
source forests (contoso and fabrikam, as LDIF files) are imported, joined into
the metaverse by the demo sync rules, and exported to a cloud directory (an
LDIF file), with an embedded SQLite store in the demo directory.

Everything it uses is written to the directory, so you can look at it and go
on with the other commands: idsync --config DIR/idsync.yaml runs …
Running the demo again runs another cycle over the same store: with no source
change, it changes nothing.`,
		Example: `  idsync demo
  idsync demo --dir /tmp/demo --reset`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), cmd.OutOrStdout(), dir, reset)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "idsync-demo", "demo directory (created if missing)")
	cmd.Flags().BoolVar(&reset, "reset", false, "delete the demo directory's store and target first")
	return cmd
}

func writeDemoFiles(dir string, reset bool) error {
	if reset {
		for _, f := range []string{"idsync.db", "idsync.db-wal", "idsync.db-shm", "cloud.ldif", "preview-cloud.csv"} {
			if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("reset demo: %w", err)
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "rules"), 0o750); err != nil {
		return fmt.Errorf("create demo directory: %w", err)
	}
	a, b := sample.DemoForests()
	cfg, _ := demoFS.ReadFile("demo/idsync.yaml")
	rls, _ := demoFS.ReadFile("demo/rules.yaml")
	for name, data := range map[string][]byte{"forest-a.ldif": a, "forest-b.ldif": b, "idsync.yaml": cfg, "rules/demo.yaml": rls} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil && !reset {
			continue // keep the user's edits between demo runs
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return fmt.Errorf("write demo file: %w", err)
		}
	}
	return nil
}

func runDemo(ctx context.Context, w io.Writer, dir string, reset bool) error {
	if err := writeDemoFiles(dir, reset); err != nil {
		return err
	}
	g := &globalFlags{config: filepath.Join(dir, "idsync.yaml")}
	a, err := openApp(ctx, g)
	if err != nil {
		return err
	}
	defer a.Close()
	unlock, err := a.lock(0)
	if err != nil {
		return err
	}
	defer unlock()
	bar := newProgressBar()
	a.engine.Progress = bar.update
	order := a.cfg.CycleOrder()
	var errs int64
	run := func(c string, p engine.Profile) (*store.Run, error) {
		runs, err := a.engine.Run(ctx, c, p, engine.RunOptions{})
		for _, r := range runs {
			errs += r.Counts.Errors
		}
		if err != nil {
			return nil, err
		}
		return runs[len(runs)-1], nil
	}
	fmt.Fprintf(w, "idsync demo: a full sync cycle on built-in sample data\n  directory  %s (configuration idsync.yaml, rules in rules/, store idsync.db)\n\n", dir)
	for _, p := range []engine.Profile{engine.FullImport, engine.FullSync} {
		for _, c := range order {
			if _, err := run(c, p); err != nil {
				return err
			}
		}
	}
	preview := filepath.Join(dir, "preview-cloud.csv")
	rows, err := engine.Preview(ctx, sealed.Masked(a.store, secretPolicy(a.cfg)), "cloud")
	if err != nil {
		return err
	}
	if err := writePreviewFile(preview, rows); err != nil {
		return err
	}
	exp, err := run("cloud", engine.Export)
	if err != nil {
		return err
	}
	// Confirming import: read back what the target accepted.
	if _, err := run("cloud", engine.FullImport); err != nil {
		return err
	}
	if _, err := run("cloud", engine.DeltaSync); err != nil {
		return err
	}
	return demoSummary(ctx, w, a, dir, preview, len(rows), exp, errs)
}

func writePreviewFile(path string, rows []engine.PreviewRow) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write preview: %w", err)
	}
	bw := bufio.NewWriter(f)
	if err := engine.WritePreview(bw, rows, "csv"); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func demoSummary(ctx context.Context, w io.Writer, a *app, dir, preview string, rows int, exp *store.Run, errs int64) error {
	fmt.Fprintln(w, "connector spaces")
	mvSources := map[string]map[string]bool{}
	names := map[string]string{}
	for _, c := range a.cfg.Names() {
		n := 0
		if err := a.store.ScanCS(ctx, c, func(o *store.CSObject) error {
			n++
			if o.MVID != "" && !o.Provisioned {
				if mvSources[o.MVID] == nil {
					mvSources[o.MVID] = map[string]bool{}
				}
				mvSources[o.MVID][c+" "+o.Object.Type] = true
				if dn := o.Object.Attrs.First("displayName"); dn != "" {
					names[o.MVID] = dn
				}
			}
			return nil
		}); err != nil {
			return err
		}
		fmt.Fprintf(w, "  %-10s %4d objects\n", c, n)
	}
	byType := map[string]int{}
	total := 0
	if err := a.store.ScanMV(ctx, func(m *store.MVObject) error {
		byType[m.Type]++
		total++
		return nil
	}); err != nil {
		return err
	}
	var parts []string
	for _, t := range slices.Sorted(maps.Keys(byType)) {
		parts = append(parts, fmt.Sprintf("%d %s", byType[t], t))
	}
	fmt.Fprintf(w, "\nmetaverse    %d objects (%s)\n", total, strings.Join(parts, ", "))
	for _, id := range slices.Sorted(maps.Keys(mvSources)) {
		if len(mvSources[id]) > 1 {
			fmt.Fprintf(w, "  joined: %s (%s)\n", names[id], strings.Join(slices.Sorted(maps.Keys(mvSources[id])), " + "))
		}
	}
	c := exp.Counts
	fmt.Fprintf(w, "\nexport to cloud: %d adds, %d updates, %d renames, %d deletes, %d errors (run %d, %s)\n",
		c.Adds, c.Updates, c.Renames, c.Deletes, c.Errors, exp.ID, exp.Status)
	left, err := engine.PendingCounts(ctx, a.store, "cloud")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "pending exports left: %s\n", engine.FormatCounts(left))
	self := invokedAs()
	cfgPath := shellQuote(filepath.Join(dir, "idsync.yaml"))
	if errs > 0 {
		fmt.Fprintf(w, "per-object errors: %d (see: %s --config %s runs --errors)\n", errs, self, cfgPath)
	}
	fmt.Fprintf(w, "\npreview of the export (%d attribute changes): %s\n", rows, preview)
	fmt.Fprintf(w, "the cloud directory now:                    %s\n", filepath.Join(dir, "cloud.ldif"))
	fmt.Fprintf(w, "\nnext:\n  %[1]s --config %[2]s mv search department=Sales\n  %[1]s --config %[2]s runs\n",
		self, cfgPath)
	if self == "go run ./cmd/idsync" {
		fmt.Fprintf(w, "  (or build the binary once: go build -o bin/idsync ./cmd/idsync, or go install ./cmd/idsync)\n")
	}
	return nil
}

// invokedAs returns how to run this idsync again, as the demo's hints
// print it: "idsync" when that name on the PATH is this binary, "go run
// ./cmd/idsync" when it was started by go run (a binary in Go's build
// cache), and otherwise the binary's absolute path.
func invokedAs() string {
	exe, err := os.Executable()
	if err != nil {
		return "idsync"
	}
	exe, _ = filepath.EvalSymlinks(exe)
	if onPath, err := exec.LookPath("idsync"); err == nil {
		if p, err := filepath.EvalSymlinks(onPath); err == nil && p == exe {
			return "idsync"
		}
	}
	if strings.Contains(filepath.ToSlash(exe), "/go-build") {
		return "go run ./cmd/idsync"
	}
	return shellQuote(exe)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	safe := func(r rune) bool {
		return r == '/' || r == '.' || r == '-' || r == '_' || r == '+' || r == ':' || r == ',' ||
			('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')
	}
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool { return !safe(r) }) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
