package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/sample"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/postgres"
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
	var dir, scale, until string
	var keep bool
	var delta, rounds int
	var storeVals []string
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
object read.

--store picks the store: sqlite (the default, a file in the work directory)
or a PostgreSQL DSN, whose ${NAME} references are read from the environment
as store.dsn's are; the bench creates a schema of its own in that database
(it needs CREATE on it) and drops it at the end. Given several times, the
bench runs on each store in turn, --rounds times (A, B, A, B, …: alternate
runs share the machine's load alike), each run on a new directory and an
empty store, and ends with the steps side by side. Peak RSS is each run's.

--until STEP stops the cycle after STEP: import (the full import of the
source), sync, export, confirm (the confirming import), sync-target or
sync-again (the whole cycle, the default). To measure the import of 1M
objects alone, say, without its half-hour synchronization. --delta needs
the whole cycle.`,
		Example: `  idsync bench --users 100000 --groups 10000 --members 20 --contacts 5000
  idsync bench --scale 100k --delta 1000
  idsync bench --scale 1m --delta 10000 --dir /var/tmp/bench --keep
  idsync bench --scale 1m --until import
  idsync bench --scale 100k --delta 100 --store sqlite \
    --store 'postgres://idsync:${PGPASSWORD}@127.0.0.1/idsync?sslmode=disable' --rounds 2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyBenchScale(cmd, scale, &o); err != nil {
				return usageError{fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath())}
			}
			if delta < 0 || delta > o.Users {
				return usageError{fmt.Errorf("--delta %d: want 0 to the number of users (%d) (see %s --help)", delta, o.Users, cmd.CommandPath())}
			}
			stores, err := parseBenchStores(storeVals)
			if err != nil {
				return usageError{fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath())}
			}
			if benchStepIndex(until) < 0 {
				return usageError{fmt.Errorf("--until %q: want one of %s (see %s --help)", until, benchStepNames(), cmd.CommandPath())}
			}
			if delta > 0 && until != benchSteps[len(benchSteps)-1].name {
				return usageError{fmt.Errorf("--delta needs the whole cycle, not --until %s (see %s --help)", until, cmd.CommandPath())}
			}
			if rounds < 1 {
				return usageError{fmt.Errorf("--rounds %d: want 1 or more (see %s --help)", rounds, cmd.CommandPath())}
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
			return runBench(cmd.Context(), cmd.OutOrStdout(), dir, o, benchPlan{delta: delta, until: until}, stores, rounds)
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
	fl.StringArrayVar(&storeVals, "store", nil, "`STORE`: sqlite or a PostgreSQL DSN (${NAME} references read from the environment); repeat to compare stores (default sqlite)")
	fl.IntVar(&rounds, "rounds", 1, "run on every store `N` times, alternating")
	fl.StringVar(&until, "until", benchSteps[len(benchSteps)-1].name, "stop the cycle after `STEP`: "+benchStepNames())
	fl.StringVar(&dir, "dir", "", "work directory (default: a temporary one, removed afterwards)")
	fl.BoolVar(&keep, "keep", false, "keep the temporary work directory")
	_ = cmd.RegisterFlagCompletionFunc("scale", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		var names []string
		for _, s := range benchScales {
			names = append(names, s.name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.RegisterFlagCompletionFunc("until", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		var names []string
		for _, s := range benchSteps {
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

// benchStore is a store the bench runs on: the embedded SQLite file (dsn
// "") or a PostgreSQL database.
type benchStore struct {
	name string // "sqlite" or "postgres", the column of the summary
	dsn  string // ${NAME} references expanded; "" for SQLite
	show string // for the output: the DSN with its password masked
}

// parseBenchStores reads the --store values: "sqlite", or a PostgreSQL
// DSN (postgres:// URL or key=value pairs) whose ${NAME} references are
// read from the environment, as store.dsn's are.
func parseBenchStores(vals []string) ([]benchStore, error) {
	if len(vals) == 0 {
		vals = []string{config.StoreSQLite}
	}
	var out []benchStore
	for _, v := range vals {
		if strings.EqualFold(v, config.StoreSQLite) {
			out = append(out, benchStore{name: config.StoreSQLite, show: config.StoreSQLite})
			continue
		}
		if !strings.HasPrefix(v, "postgres://") && !strings.HasPrefix(v, "postgresql://") && !strings.Contains(v, "=") {
			return nil, fmt.Errorf("--store %q: want sqlite or a PostgreSQL DSN (postgres://user:${PGPASSWORD}@host/db?sslmode=...)", config.MaskDSN(v))
		}
		dsn, err := config.ExpandDSN(v)
		if err != nil {
			return nil, fmt.Errorf("--store %s: %w", config.MaskDSN(v), err)
		}
		if pw := config.DSNPassword(dsn); pw != "" {
			masker.Add(pw)
		}
		out = append(out, benchStore{name: config.StorePostgres, dsn: dsn, show: "postgres " + config.MaskDSN(v)})
	}
	return out, nil
}

// benchResult is what one run of the bench measured.
type benchResult struct {
	store   benchStore
	steps   []benchTime
	peakRSS int64 // MiB
}

type benchTime struct {
	label string
	d     time.Duration
}

// benchPlan is what a bench run measures besides the full cycle: the users
// --delta changes (0: no delta cycle), and the step the cycle stops after
// (--until; "": the whole cycle).
type benchPlan struct {
	delta int
	until string
}

// runBench runs the bench once per store, rounds times, alternating the
// stores (A, B, A, B, …), each run on a new directory and an empty store;
// with more than one run it ends with the steps side by side.
func runBench(ctx context.Context, w io.Writer, dir string, o sample.GenOptions, plan benchPlan, stores []benchStore, rounds int) error {
	if len(stores) == 0 {
		stores = []benchStore{{name: config.StoreSQLite, show: config.StoreSQLite}}
	}
	rounds = max(rounds, 1)
	// --dir may name a directory to create.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("bench work directory: %w", err)
	}
	var results []benchResult
	for r := range rounds {
		for i, st := range stores {
			runDir := dir
			if rounds*len(stores) > 1 {
				runDir = filepath.Join(dir, fmt.Sprintf("run%d-%d-%s", r+1, i+1, st.name))
				if err := os.MkdirAll(runDir, 0o700); err != nil {
					return err
				}
				fmt.Fprintf(w, "run %d of %d\n", r*len(stores)+i+1, rounds*len(stores))
			}
			res, err := benchOnce(ctx, w, runDir, o, plan, st)
			if err != nil {
				return fmt.Errorf("bench on %s: %w", st.show, err)
			}
			results = append(results, res)
		}
	}
	if len(results) > 1 {
		benchSummary(w, results)
	}
	return nil
}

// benchOnce runs the bench on one store.
func benchOnce(ctx context.Context, w io.Writer, dir string, o sample.GenOptions, plan benchPlan, st benchStore) (res benchResult, err error) {
	delta := plan.delta
	if delta < 0 || delta > o.Users {
		return res, fmt.Errorf("bench: %d users to change, want 0 to the number of users (%d)", delta, o.Users)
	}
	res.store = st
	cfg := benchConfig
	if st.dsn != "" {
		// The bench's tables go to a schema of their own, dropped at the
		// end: the database may hold other things (idsync's own store).
		schema, drop, err := benchSchema(ctx, st.dsn)
		if err != nil {
			return res, err
		}
		defer func() {
			if derr := drop(); derr != nil && err == nil {
				err = derr
			}
		}()
		// The configuration names the DSN by a variable: the password is
		// not written to the bench directory.
		dsn, err := withSearchPath(st.dsn, schema)
		if err != nil {
			return res, err
		}
		if err := os.Setenv(benchDSNVar, dsn); err != nil {
			return res, err
		}
		defer func() { _ = os.Unsetenv(benchDSNVar) }()
		cfg += "store: {type: postgres, dsn: \"${" + benchDSNVar + "}\"}\n"
	}
	for name, data := range map[string]string{"idsync.yaml": cfg, "rules.yaml": benchRules} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			return res, err
		}
	}
	t0 := time.Now()
	f, err := os.OpenFile(filepath.Join(dir, "contoso.ldif"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return res, err
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	if err := sample.Generate(bw, o); err != nil {
		return res, err
	}
	if err := bw.Flush(); err != nil {
		return res, err
	}
	if err := f.Close(); err != nil {
		return res, err
	}
	objects := o.Users + o.Groups + o.Contacts
	fmt.Fprintf(w, "idsync bench: %d users, %d groups × %d members, %d contacts (%d objects); %s, %d CPUs; store %s\n",
		o.Users, o.Groups, o.MembersPerGroup, o.Contacts, objects, runtime.GOARCH, runtime.NumCPU(), st.show)
	fmt.Fprintf(w, "  %-34s %8.2fs\n", "generate LDIF", time.Since(t0).Seconds())
	// Peak RSS is this run's: the heap of a run before is returned to the
	// system and the kernel's high-water mark reset.
	resetPeakRSS()
	a, err := openApp(ctx, &globalFlags{config: filepath.Join(dir, "idsync.yaml")})
	if err != nil {
		return res, err
	}
	defer a.Close()
	total := time.Now()
	for _, s := range benchSteps {
		r, el, err := s.run(ctx, a)
		if err != nil {
			return res, err
		}
		res.steps = append(res.steps, benchTime{s.label, el})
		fmt.Fprintf(w, "  %-34s %8.2fs %10.0f objects/s   errors %d\n", s.label, el.Seconds(), float64(objects)/el.Seconds(), r.Counts.Errors)
		if s.name == plan.until {
			break
		}
	}
	res.steps = append(res.steps, benchTime{"full cycle total", time.Since(total)})
	fmt.Fprintf(w, "  %-34s %8.2fs\n", "total", time.Since(total).Seconds())
	if delta > 0 && (plan.until == "" || plan.until == benchSteps[len(benchSteps)-1].name) {
		steps, err := benchDelta(ctx, w, a, dir, o.Users, delta)
		if err != nil {
			return res, err
		}
		res.steps = append(res.steps, steps...)
	}
	res.peakRSS = peakRSSMiB()
	fmt.Fprintf(w, "  peak RSS %d MiB\n", res.peakRSS)
	return res, nil
}

// benchDSNVar is the environment variable the bench's configuration reads
// its PostgreSQL DSN from.
const benchDSNVar = "IDSYNC_BENCH_DSN"

// benchSchema creates an empty schema for one bench run and returns its
// name and a function that drops it with everything in it.
func benchSchema(ctx context.Context, dsn string) (string, func() error, error) {
	where := postgres.Describe(dsn)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", nil, fmt.Errorf("bench: connect to %s: %s", where, masker.Mask(err.Error()))
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	schema := "idsync_bench_" + hex.EncodeToString(rnd[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		_ = conn.Close(ctx)
		return "", nil, fmt.Errorf("bench: create schema %s in %s (the bench needs CREATE on the database): %w", schema, where, err)
	}
	drop := func() error {
		defer func() { _ = conn.Close(context.Background()) }()
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			return fmt.Errorf("bench: drop schema %s in %s: %w (drop it by hand)", schema, where, err)
		}
		return nil
	}
	return schema, drop, nil
}

// withSearchPath returns dsn with search_path set to schema (a run-time
// parameter pgx sends when it connects).
func withSearchPath(dsn, schema string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("bench: invalid DSN %s: %w", config.MaskDSN(dsn), err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	return dsn + " search_path=" + schema, nil
}

// benchSummary prints every run's step times side by side, by store, with
// the ratio of the stores' medians when there are two.
func benchSummary(w io.Writer, results []benchResult) {
	var names []string
	byStore := map[string][]benchResult{}
	for _, r := range results {
		if byStore[r.store.name] == nil {
			names = append(names, r.store.name)
		}
		byStore[r.store.name] = append(byStore[r.store.name], r)
	}
	fmt.Fprintf(w, "side by side (seconds, each run in the order run)\n")
	fmt.Fprintf(w, "  %-34s", "step")
	for _, n := range names {
		fmt.Fprintf(w, " %-24s", n)
	}
	if len(names) == 2 {
		fmt.Fprintf(w, " %s/%s (medians)", names[1], names[0])
	}
	fmt.Fprintln(w)
	for i, st := range results[0].steps {
		fmt.Fprintf(w, "  %-34s", st.label)
		var med []float64
		for _, n := range names {
			var cells []string
			var secs []float64
			for _, r := range byStore[n] {
				if i < len(r.steps) {
					cells = append(cells, fmt.Sprintf("%.3f", r.steps[i].d.Seconds()))
					secs = append(secs, r.steps[i].d.Seconds())
				}
			}
			fmt.Fprintf(w, " %-24s", strings.Join(cells, " "))
			med = append(med, median(secs))
		}
		if len(med) == 2 && med[0] > 0 {
			fmt.Fprintf(w, " %.2f", med[1]/med[0])
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  %-34s", "peak RSS (MiB)")
	for _, n := range names {
		var cells []string
		for _, r := range byStore[n] {
			cells = append(cells, fmt.Sprint(r.peakRSS))
		}
		fmt.Fprintf(w, " %-24s", strings.Join(cells, " "))
	}
	fmt.Fprintln(w)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// resetPeakRSS returns the freed heap to the system and resets the
// kernel's peak resident set size of the process (Linux: clear_refs 5), so
// that the next peakRSSMiB is the peak from now on.
func resetPeakRSS() {
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// benchStep is one timed run of the bench.
type benchStep struct {
	label, conn string
	p           engine.Profile
}

// benchSteps is the full cycle, in order, each step with the name --until
// calls it by.
var benchSteps = []struct {
	name string
	benchStep
}{
	{"import", benchStep{"full import (source)", "contoso", engine.FullImport}},
	{"sync", benchStep{"full sync (inbound + outbound)", "contoso", engine.FullSync}},
	{"export", benchStep{"export (adds to LDIF target)", "cloud", engine.Export}},
	{"confirm", benchStep{"full import (confirming)", "cloud", engine.FullImport}},
	{"sync-target", benchStep{"full sync (target)", "cloud", engine.FullSync}},
	{"sync-again", benchStep{"full sync again (no change)", "contoso", engine.FullSync}},
}

// benchStepIndex returns the index in benchSteps of the step named name,
// -1 when there is none.
func benchStepIndex(name string) int {
	for i, s := range benchSteps {
		if s.name == name {
			return i
		}
	}
	return -1
}

// benchStepNames lists the names --until takes.
func benchStepNames() string {
	var names []string
	for _, s := range benchSteps {
		names = append(names, s.name)
	}
	return strings.Join(names, ", ")
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
func benchDelta(ctx context.Context, w io.Writer, a *app, dir string, users, n int) ([]benchTime, error) {
	t := time.Now()
	if err := changeBenchUsers(filepath.Join(dir, "contoso.ldif"), users, n); err != nil {
		return nil, err
	}
	var steps []benchTime
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
			return nil, err
		}
		sum += el
		steps = append(steps, benchTime{s.label, el})
		if s.p == engine.Export {
			exported = r
		}
		fmt.Fprintln(w, benchDeltaLine(s.label, el, r))
	}
	steps = append(steps, benchTime{"delta engine total", sum})
	fmt.Fprintf(w, "  %-34s %8.3fs\n", "delta engine total", sum.Seconds())
	r, el, err := benchStep{"delta sync again (nothing pending)", "contoso", engine.DeltaSync}.run(ctx, a)
	if err != nil {
		return nil, err
	}
	steps = append(steps, benchTime{"delta sync again (nothing pending)", el})
	fmt.Fprintln(w, benchDeltaLine("delta sync again (nothing pending)", el, r))
	// The bench must not measure nothing: the changes reached the target.
	got, err := countLines(filepath.Join(dir, "cloud.ldif"), "department: "+benchDeltaDepartment)
	if err != nil {
		return nil, err
	}
	if got != n || exported.Counts.Updates != int64(n) {
		return nil, fmt.Errorf("bench: %d users changed in the source, but the export made %d updates and the target has %d changed users",
			n, exported.Counts.Updates, got)
	}
	return steps, nil
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
