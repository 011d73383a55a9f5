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

func newBenchCmd() *cobra.Command {
	var o sample.GenOptions
	var dir string
	var keep bool
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure an end-to-end cycle (import, synchronization, export) on a generated directory",
		Long: `Generate a directory (idsync gen), then time a full import, a full
synchronization, an export to an LDIF target, a confirming import and a second
full synchronization, through the same code paths as "idsync run". Prints
objects per second for each step and the peak resident memory.`,
		Example: "  idsync bench --users 100000 --groups 10000 --members 20 --contacts 5000",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
			return runBench(cmd.Context(), cmd.OutOrStdout(), dir, o)
		},
	}
	fl := cmd.Flags()
	fl.Int64Var(&o.Seed, "seed", 1, "random seed")
	fl.IntVar(&o.Users, "users", 10000, "number of users")
	fl.IntVar(&o.Groups, "groups", 1000, "number of groups")
	fl.IntVar(&o.MembersPerGroup, "members", 20, "members per group")
	fl.IntVar(&o.Contacts, "contacts", 500, "number of contacts")
	fl.StringVar(&dir, "dir", "", "work directory (default: a temporary one, removed afterwards)")
	fl.BoolVar(&keep, "keep", false, "keep the temporary work directory")
	return cmd
}

func runBench(ctx context.Context, w io.Writer, dir string, o sample.GenOptions) error {
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
	for _, s := range []struct {
		label, conn string
		p           engine.Profile
	}{
		{"full import (source)", "contoso", engine.FullImport},
		{"full sync (inbound + outbound)", "contoso", engine.FullSync},
		{"export (adds to LDIF target)", "cloud", engine.Export},
		{"full import (confirming)", "cloud", engine.FullImport},
		{"full sync (target)", "cloud", engine.FullSync},
		{"full sync again (no change)", "contoso", engine.FullSync},
	} {
		t := time.Now()
		runs, err := a.engine.Run(ctx, s.conn, s.p, engine.RunOptions{})
		if err != nil {
			return err
		}
		el := time.Since(t)
		r := runs[len(runs)-1]
		fmt.Fprintf(w, "  %-34s %8.2fs %10.0f objects/s   errors %d\n", s.label, el.Seconds(), float64(objects)/el.Seconds(), r.Counts.Errors)
	}
	fmt.Fprintf(w, "  %-34s %8.2fs\n", "total", time.Since(total).Seconds())
	fmt.Fprintf(w, "  peak RSS %d MiB\n", peakRSSMiB())
	return nil
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
