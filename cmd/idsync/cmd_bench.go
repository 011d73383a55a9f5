package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/sample"
	"github.com/idsync/idsync/store"
)

const benchConfig = `dataDir: .
connectors:
  - {name: contoso, type: file, config: {path: contoso.ldif, anchor: objectGUID}}
  - {name: cloud, type: file, config: {path: cloud.ldif, anchor: cloudAnchor, target: true}}
rules: [rules.yaml]
safety: {deleteThreshold: 0, preventAccidentalDeletes: false}
engine: {batchSize: 5000}
`

const benchRules = `rules:
  - name: In from contoso - User
    connector: contoso
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 10
    flows:
      - {type: Direct, source: cn, target: cn}
      - {type: Direct, source: givenName, target: givenName}
      - {type: Direct, source: sn, target: sn}
      - {type: Direct, source: displayName, target: displayName}
      - {type: Direct, source: mail, target: mail}
      - {type: Direct, source: department, target: department}
      - {type: Direct, source: title, target: title}
      - {type: Direct, source: userPrincipalName, target: userPrincipalName}
      - {type: Direct, source: sAMAccountName, target: accountName}
      - {type: Constant, value: User, target: sourceObjectType}
  - name: In from contoso - Group
    connector: contoso
    direction: inbound
    csObjectType: group
    mvObjectType: group
    linkType: Provision
    precedence: 11
    flows:
      - {type: Direct, source: cn, target: cn}
      - {type: Direct, source: member, target: member}
  - name: In from contoso - Contact
    connector: contoso
    direction: inbound
    csObjectType: contact
    mvObjectType: person
    linkType: Provision
    precedence: 50
    join: [{conditions: [{source: mail, target: mail}]}]
    flows:
      - {type: Direct, source: cn, target: cn}
      - {type: Direct, source: mail, target: mail}
      - {type: Constant, value: Contact, target: sourceObjectType}
  - name: Out to cloud - User
    connector: cloud
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 60
    dn: "CN={accountName},OU=Users,DC=cloud,DC=test"
    scope: [{clauses: [{attribute: sourceObjectType, operator: EQUAL, value: User}]}]
    flows:
      - {type: Constant, value: user, target: objectClass}
      - {type: Direct, source: userPrincipalName, target: userPrincipalName}
      - {type: Direct, source: displayName, target: displayName}
      - {type: Direct, source: mail, target: mail}
      - {type: Direct, source: department, target: department}
  - name: Out to cloud - Contact
    connector: cloud
    direction: outbound
    csObjectType: contact
    mvObjectType: person
    linkType: Provision
    precedence: 61
    dn: "CN={mail},OU=Contacts,DC=cloud,DC=test"
    scope: [{clauses: [{attribute: sourceObjectType, operator: EQUAL, value: Contact}]}]
    flows:
      - {type: Constant, value: contact, target: objectClass}
      - {type: Direct, source: mail, target: mail}
  - name: Out to cloud - Group
    connector: cloud
    direction: outbound
    csObjectType: group
    mvObjectType: group
    linkType: Provision
    precedence: 62
    dn: "CN={cn},OU=Groups,DC=cloud,DC=test"
    flows:
      - {type: Constant, value: group, target: objectClass}
      - {type: Direct, source: cn, target: displayName}
      - {type: Direct, source: member, target: member}
`

// benchScales are the --scale presets of idsync bench, the sizes of the
// "Engine at scale" targets.
var benchScales = []struct {
	name string
	o    sample.GenOptions
}{
	{"100k", sample.GenOptions{Users: 100_000, Groups: 10_000, MembersPerGroup: 20, Contacts: 5_000}},
	{"1m", sample.GenOptions{Users: 1_000_000, Groups: 100_000, MembersPerGroup: 20, Contacts: 50_000}},
}

func newBenchCmd() *cobra.Command {
	var o sample.GenOptions
	var dir, scale string
	var keep bool
	var delta int
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure an end-to-end cycle (import, synchronization, export) on a generated directory",
		Long: `Generate a directory (idsync gen), then time a full import, a full
synchronization, an export to an LDIF target, a confirming import and a second
full synchronization, through the same code paths as "idsync run". Prints
objects per second for each step and the peak resident memory.

--scale picks a preset size: 100k (100,000 users, 10,000 groups of 20
members, 5,000 contacts) or 1m (1,000,000 users, 100,000 groups of 20
members, 50,000 contacts); --users, --groups, --members and --contacts
given as well override it.

--delta N then changes N users in the source file (a new department, which
flows to the target, and title), spread evenly over the users, and times a
delta cycle: delta import and delta synchronization of the source, the
export of the N updates, a confirming delta import and a delta
synchronization of the target, each with the objects it read or processed;
then a delta synchronization of the source with nothing pending. The bench
fails unless the target file ends up with the N changed users. A file has no
change log: the file connector's delta import reads the whole file and
compares it with the connector space, so the import lines count every
object read.`,
		Example: `  idsync bench --users 100000 --groups 10000 --members 20 --contacts 5000
  idsync bench --scale 100k --delta 1000
  idsync bench --scale 1m --delta 10000 --dir /var/tmp/bench --keep`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyBenchScale(cmd, scale, &o); err != nil {
				return usageError{fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath())}
			}
			if delta < 0 || delta > o.Users {
				return usageError{fmt.Errorf("--delta %d: want 0 to the number of users (%d) (see %s --help)", delta, o.Users, cmd.CommandPath())}
			}
			if dir == "" {
				d, err := os.MkdirTemp("", "idsync-bench")
				if err != nil {
					return err
				}
				dir = d
				if !keep {
					defer os.RemoveAll(d)
				}
			}
			return runBench(cmd.Context(), cmd.OutOrStdout(), dir, o, delta)
		},
	}
	fl := cmd.Flags()
	fl.Int64Var(&o.Seed, "seed", 1, "random seed")
	fl.StringVar(&scale, "scale", "", "preset size: 100k or 1m (--users, --groups, --members, --contacts override it)")
	fl.IntVar(&o.Users, "users", 10000, "number of users")
	fl.IntVar(&o.Groups, "groups", 1000, "number of groups")
	fl.IntVar(&o.MembersPerGroup, "members", 20, "members per group")
	fl.IntVar(&o.Contacts, "contacts", 500, "number of contacts")
	fl.IntVar(&delta, "delta", 0, "after the full cycle, change `N` users in the source and time a delta cycle")
	fl.StringVar(&dir, "dir", "", "work directory (default: a temporary one, removed afterwards)")
	fl.BoolVar(&keep, "keep", false, "keep the temporary work directory")
	_ = cmd.RegisterFlagCompletionFunc("scale", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		var names []string
		for _, s := range benchScales {
			names = append(names, s.name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// applyBenchScale sets the sizes of o from the preset named scale ("" = none),
// but those given on the command line.
func applyBenchScale(cmd *cobra.Command, scale string, o *sample.GenOptions) error {
	if scale == "" {
		return nil
	}
	var names []string
	for _, s := range benchScales {
		names = append(names, s.name)
		if s.name != strings.ToLower(scale) {
			continue
		}
		for _, f := range []struct {
			flag string
			dst  *int
			v    int
		}{
			{"users", &o.Users, s.o.Users},
			{"groups", &o.Groups, s.o.Groups},
			{"members", &o.MembersPerGroup, s.o.MembersPerGroup},
			{"contacts", &o.Contacts, s.o.Contacts},
		} {
			if !cmd.Flags().Changed(f.flag) {
				*f.dst = f.v
			}
		}
		return nil
	}
	return fmt.Errorf("--scale %q: want one of %s", scale, strings.Join(names, ", "))
}

func runBench(ctx context.Context, w io.Writer, dir string, o sample.GenOptions, delta int) error {
	if delta < 0 || delta > o.Users {
		return fmt.Errorf("bench: %d users to change, want 0 to the number of users (%d)", delta, o.Users)
	}
	for name, data := range map[string]string{"idsync.yaml": benchConfig, "rules.yaml": benchRules} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			return err
		}
	}
	t0 := time.Now()
	f, err := os.OpenFile(filepath.Join(dir, "contoso.ldif"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	if err := sample.Generate(bw, o); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	objects := o.Users + o.Groups + o.Contacts
	fmt.Fprintf(w, "idsync bench: %d users, %d groups × %d members, %d contacts (%d objects); %s, %d CPUs\n",
		o.Users, o.Groups, o.MembersPerGroup, o.Contacts, objects, runtime.GOARCH, runtime.NumCPU())
	fmt.Fprintf(w, "  %-34s %8.2fs\n", "generate LDIF", time.Since(t0).Seconds())
	a, err := openApp(ctx, &globalFlags{config: filepath.Join(dir, "idsync.yaml")})
	if err != nil {
		return err
	}
	defer a.Close()
	total := time.Now()
	for _, s := range []benchStep{
		{"full import (source)", "contoso", engine.FullImport},
		{"full sync (inbound + outbound)", "contoso", engine.FullSync},
		{"export (adds to LDIF target)", "cloud", engine.Export},
		{"full import (confirming)", "cloud", engine.FullImport},
		{"full sync (target)", "cloud", engine.FullSync},
		{"full sync again (no change)", "contoso", engine.FullSync},
	} {
		r, el, err := s.run(ctx, a)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %-34s %8.2fs %10.0f objects/s   errors %d\n", s.label, el.Seconds(), float64(objects)/el.Seconds(), r.Counts.Errors)
	}
	fmt.Fprintf(w, "  %-34s %8.2fs\n", "total", time.Since(total).Seconds())
	if delta > 0 {
		if err := benchDelta(ctx, w, a, dir, o.Users, delta); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "  peak RSS %d MiB\n", peakRSSMiB())
	return nil
}

// benchStep is one timed run of the bench.
type benchStep struct {
	label, conn string
	p           engine.Profile
}

// run runs the step and returns its last run record and how long it took.
func (s benchStep) run(ctx context.Context, a *app) (*store.Run, time.Duration, error) {
	t := time.Now()
	runs, err := a.engine.Run(ctx, s.conn, s.p, engine.RunOptions{})
	if err != nil {
		return nil, 0, err
	}
	return runs[len(runs)-1], time.Since(t), nil
}

// The values --delta gives the users it changes: department flows to the
// target, title only to the metaverse. Neither is a value the generator
// writes.
const (
	benchDeltaDepartment = "Bench Delta"
	benchDeltaTitle      = "Bench Delta Title"
)

// benchDelta changes n users in the source file, times the delta cycle that
// carries the change to the target, then a delta synchronization with
// nothing pending, and checks that the target file has the n changes.
func benchDelta(ctx context.Context, w io.Writer, a *app, dir string, users, n int) error {
	t := time.Now()
	if err := changeBenchUsers(filepath.Join(dir, "contoso.ldif"), users, n); err != nil {
		return err
	}
	fmt.Fprintf(w, "  %-34s %8.2fs\n", fmt.Sprintf("change %d users in the source", n), time.Since(t).Seconds())
	var sum time.Duration
	var exported *store.Run
	for _, s := range []benchStep{
		{"delta import (source)", "contoso", engine.DeltaImport},
		{"delta sync (source)", "contoso", engine.DeltaSync},
		{"export (updates to LDIF target)", "cloud", engine.Export},
		{"delta import (confirming)", "cloud", engine.DeltaImport},
		{"delta sync (target)", "cloud", engine.DeltaSync},
	} {
		r, el, err := s.run(ctx, a)
		if err != nil {
			return err
		}
		sum += el
		if s.p == engine.Export {
			exported = r
		}
		fmt.Fprintln(w, benchDeltaLine(s.label, el, r))
	}
	fmt.Fprintf(w, "  %-34s %8.3fs\n", "delta engine total", sum.Seconds())
	r, el, err := benchStep{"delta sync again (nothing pending)", "contoso", engine.DeltaSync}.run(ctx, a)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, benchDeltaLine("delta sync again (nothing pending)", el, r))
	// The bench must not measure nothing: the changes reached the target.
	got, err := countLines(filepath.Join(dir, "cloud.ldif"), "department: "+benchDeltaDepartment)
	if err != nil {
		return err
	}
	if got != n || exported.Counts.Updates != int64(n) {
		return fmt.Errorf("bench: %d users changed in the source, but the export made %d updates and the target has %d changed users",
			n, exported.Counts.Updates, got)
	}
	return nil
}

// benchDeltaLine is the line of one step of the delta cycle: time to the
// millisecond, objects per second of what the step read or processed (when
// it did any), errors, and the step's counts.
func benchDeltaLine(label string, el time.Duration, r *store.Run) string {
	c := r.Counts
	var n int64
	var what string
	switch {
	case r.Sync != nil:
		n = r.Sync.Processed()
		var staged int64
		for _, ob := range r.Sync.Outbound {
			staged += ob.ProvisioningAdds + ob.ExportAttributeFlow + ob.Renames + ob.Deprovisioning
		}
		what = fmt.Sprintf("processed %d, exports staged %d", n, staged)
	case r.Profile == string(engine.Export):
		n = c.Adds + c.Updates + c.Renames + c.Deletes
		what = fmt.Sprintf("exported %d: %d adds, %d updates, %d renames, %d deletes", n, c.Adds, c.Updates, c.Renames, c.Deletes)
	default: // an import
		changed := c.Adds + c.Updates + c.Renames + c.Deletes
		n = changed + c.NoChange
		what = fmt.Sprintf("read %d, changed %d", n, changed)
	}
	rate := strings.Repeat(" ", len("1234567890 objects/s"))
	if n > 0 {
		rate = fmt.Sprintf("%10.0f objects/s", float64(n)/el.Seconds())
	}
	return fmt.Sprintf("  %-34s %8.3fs %s   errors %d   %s", label, el.Seconds(), rate, c.Errors, what)
}

// changeBenchUsers rewrites the LDIF file that sample.Generate wrote (users
// first) so that n of its users, spread evenly over them, have a new
// department and title.
func changeBenchUsers(path string, users, n int) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := path + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	bw := bufio.NewWriterSize(out, 1<<16)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	rec := -1           // index of the current record
	change := false     // the current record is a user to change
	skipFolded := false // drop the continuation lines of a replaced line
	changed := 0
	for sc.Scan() {
		line := sc.Text()
		if skipFolded && strings.HasPrefix(line, " ") {
			continue
		}
		skipFolded = false
		switch {
		case strings.HasPrefix(line, "dn:"):
			rec++
			// User i is changed when i*n/users steps: n users, evenly spread.
			i := int64(rec)
			change = rec < users && (i+1)*int64(n)/int64(users) != i*int64(n)/int64(users)
		case change && strings.HasPrefix(line, "department:"):
			line, skipFolded = "department: "+benchDeltaDepartment, true
			changed++
		case change && strings.HasPrefix(line, "title:"):
			line, skipFolded = "title: "+benchDeltaTitle, true
		}
		bw.WriteString(line)
		bw.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		out.Close()
		return fmt.Errorf("bench: read %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if changed != n {
		return fmt.Errorf("bench: changed the department of %d users of %s, want %d", changed, path, n)
	}
	return os.Rename(tmp, path)
}

// countLines counts the lines of the file at path that are exactly line.
func countLines(path, line string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	n := 0
	for sc.Scan() {
		if sc.Text() == line {
			n++
		}
	}
	return n, sc.Err()
}

// peakRSSMiB reads the process's peak resident set size (Linux VmHWM).
func peakRSSMiB() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb / 1024
		}
	}
	return 0
}
