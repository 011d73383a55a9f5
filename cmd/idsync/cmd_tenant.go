package main

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/tenant"
)

// The tenants of a service provider (R5) and their domains.

func newTenantCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tenant",
		Short: "Manage a service provider's tenants and verify their domains",
		Long: `A service provider serves several customer tenants from one idsync (R5).
Each tenant claims DNS domains; idsync proves ownership with a TXT record
the tenant publishes (tenants.recordName, default _idsync.<domain>):

  _idsync.contoso.com. 3600 IN TXT "idsync-verification=<token>"

A new domain is looked up at once, then by idsync serve on a schedule
(30 s backing off to 5 min) for tenants.verifyFor (default 1h); then it
fails with the reason, and "domain verify" starts a new attempt. A domain
is verified for one tenant only. Only a verified domain can become the
tenant's domain ("domain use"). Every change goes to the audit log.`,
	}
	cmd.AddCommand(newTenantAddCmd(g), newTenantListCmd(g), newTenantDeleteCmd(g), newTenantDomainCmd(g), newTenantSettingsCmd(g))
	return cmd
}

func tenantService(cfg *config.Config, st store.Store) *tenant.Service {
	return tenant.New(st, tenant.Config{Resolver: cfg.Tenants.Resolver, RecordName: cfg.Tenants.RecordName,
		VerifyFor: cfg.Tenants.VerifyFor.Duration})
}

func newTenantAddCmd(g *globalFlags) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:     "add ID [--name NAME]",
		Aliases: []string{"create"},
		Short:   "Add a tenant",
		Example: "  idsync tenant add contoso --name \"Contoso Ltd\"",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, st, err := openStore(ctx, g)
			if err != nil {
				return err
			}
			defer st.Close()
			t, err := tenantService(cfg, st).AddTenant(ctx, args[0], name)
			if err != nil {
				if errors.Is(err, store.ErrAlreadyExists) {
					return fmt.Errorf("tenant %q exists already: see idsync tenant list", args[0])
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tenant %s (%s) added; add its domains with: idsync tenant domain add %s DOMAIN\n", t.ID, t.Name, t.ID)
			return audit(ctx, st, "tenant-add", t.ID, "name "+t.Name)
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the tenant's display name (default: its ID)")
	return cmd
}

func newTenantListCmd(g *globalFlags) *cobra.Command {
	var o *output
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the tenants with their domain and number of domains",
		Example: "  idsync tenant list\n  idsync tenant list -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := o.resolve(cmd.OutOrStdout())
			if err != nil {
				return err
			}
			_, st, err := openStore(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer st.Close()
			ts, err := st.Tenants(cmd.Context())
			if err != nil {
				return err
			}
			type row struct {
				*store.Tenant
				Domains  int `json:"domains"`
				Verified int `json:"verified"`
			}
			rows := []row{}
			for _, t := range ts {
				ds, err := st.Domains(cmd.Context(), t.ID)
				if err != nil {
					return err
				}
				r := row{Tenant: t, Domains: len(ds)}
				for _, d := range ds {
					if d.State == store.DomainVerified {
						r.Verified++
					}
				}
				rows = append(rows, r)
			}
			return write(cmd.OutOrStdout(), format, rows, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tDOMAIN\tDOMAINS\tVERIFIED\tCREATED")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", r.ID, cell(r.Name), dash(r.Domain), r.Domains, r.Verified,
						r.Created.UTC().Format("2006-01-02 15:04Z"))
				}
				return tw.Flush()
			})
		},
	}
	o = addOutputFlag(cmd, []string{"table", "json"}, "")
	return cmd
}

func newTenantDeleteCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "delete ID",
		Short:   "Delete a tenant and its domains (its users of the console are kept: delete them with idsync user delete)",
		Example: "  idsync tenant delete contoso",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			_, st, err := openStore(ctx, g)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.DeleteTenant(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tenant %s deleted\n", args[0])
			return audit(ctx, st, "tenant-delete", args[0], "")
		},
	}
}

func newTenantDomainCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "domain", Short: "Add, verify, list, use and remove a tenant's domains"}
	var wait time.Duration
	show := func(cmd *cobra.Command, svc *tenant.Service, d *store.Domain) {
		w := cmd.OutOrStdout()
		fmt.Fprintf(w, "domain %s of tenant %s: %s\n", d.Name, d.Tenant, d.State)
		switch d.State {
		case store.DomainPending:
			fmt.Fprintf(w, "publish this record at the domain's DNS host:\n  %s\n", svc.Record(d))
			if d.Reason != "" {
				fmt.Fprintf(w, "last lookup: %s\n", d.Reason)
			}
			if d.NextCheck != nil && d.Deadline != nil {
				fmt.Fprintf(w, "idsync serve looks again at %s, until %s\n", d.NextCheck.UTC().Format(time.RFC3339), d.Deadline.UTC().Format(time.RFC3339))
			}
		case store.DomainFailed:
			fmt.Fprintf(w, "reason: %s\nrecord to publish:\n  %s\n", d.Reason, svc.Record(d))
		}
	}
	add := &cobra.Command{
		Use:     "add TENANT DOMAIN",
		Short:   "Add a domain to a tenant and print the TXT record that proves its ownership",
		Example: "  idsync tenant domain add contoso contoso.com",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, st, err := openStore(ctx, g)
			if err != nil {
				return err
			}
			defer st.Close()
			svc := tenantService(cfg, st)
			d, err := svc.AddDomain(ctx, args[0], args[1])
			if err != nil {
				return err
			}
			show(cmd, svc, d)
			return audit(ctx, st, "tenant-domain-add", d.Tenant, "domain "+d.Name)
		},
	}
	verify := &cobra.Command{
		Use:   "verify TENANT DOMAIN [--wait 10m]",
		Short: "Look a domain's TXT record up now (a new attempt if it failed); with --wait, keep looking until verified",
		Example: "  idsync tenant domain verify contoso contoso.com\n" +
			"  idsync tenant domain verify contoso contoso.com --wait 10m",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, st, err := openStore(ctx, g)
			if err != nil {
				return err
			}
			defer st.Close()
			svc := tenantService(cfg, st)
			d, err := svc.Verify(ctx, args[0], args[1])
			if err != nil {
				return err
			}
			until := time.Now().Add(wait)
			for d.State == store.DomainPending && time.Now().Before(until) {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(5 * time.Second):
				}
				if d, err = svc.Check(ctx, d); err != nil {
					return err
				}
			}
			show(cmd, svc, d)
			if err := audit(ctx, st, "tenant-domain-verify", d.Tenant, "domain "+d.Name+": "+string(d.State)); err != nil {
				return err
			}
			if d.State != store.DomainVerified {
				return fmt.Errorf("domain %s of tenant %s is %s, not verified", d.Name, d.Tenant, d.State)
			}
			return nil
		},
	}
	verify.Flags().DurationVar(&wait, "wait", 0, "keep looking (every 5 s) for up to this long")
	var o *output
	list := &cobra.Command{
		Use:     "list TENANT",
		Short:   "List a tenant's domains with their verification state and record",
		Example: "  idsync tenant domain list contoso",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := o.resolve(cmd.OutOrStdout())
			if err != nil {
				return err
			}
			cfg, st, err := openStore(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer st.Close()
			t, err := st.GetTenant(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			ds, err := st.Domains(cmd.Context(), t.ID)
			if err != nil {
				return err
			}
			svc := tenantService(cfg, st)
			type row struct {
				*store.Domain
				InUse  bool          `json:"inUse"`
				Record tenant.Record `json:"record"`
			}
			rows := []row{}
			for _, d := range ds {
				rows = append(rows, row{Domain: d, InUse: d.Name == t.Domain, Record: svc.Record(d)})
			}
			return write(cmd.OutOrStdout(), format, rows, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "DOMAIN\tSTATE\tIN USE\tRECORD\tREASON")
				for _, r := range rows {
					use := ""
					if r.InUse {
						use = "yes"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.State, dash(use), r.Record.Name+" TXT "+r.Record.Value, dash(cell(r.Reason)))
				}
				return tw.Flush()
			})
		},
	}
	o = addOutputFlag(list, []string{"table", "json"}, "")
	use := &cobra.Command{
		Use:     "use TENANT DOMAIN",
		Short:   "Make a verified domain the tenant's domain",
		Example: "  idsync tenant domain use contoso contoso.com",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, st, err := openStore(ctx, g)
			if err != nil {
				return err
			}
			defer st.Close()
			old, err := st.GetTenant(ctx, args[0])
			if err != nil {
				return err
			}
			t, err := tenantService(cfg, st).UseDomain(ctx, args[0], args[1])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tenant %s now uses domain %s (was %s)\n", t.ID, t.Domain, dash(old.Domain))
			return audit(ctx, st, "tenant-domain-use", t.ID, fmt.Sprintf("domain %s (was %s)", t.Domain, dash(old.Domain)))
		},
	}
	remove := &cobra.Command{
		Use:     "remove TENANT DOMAIN",
		Short:   "Remove a domain from a tenant (not the one in use)",
		Example: "  idsync tenant domain remove contoso old-contoso.com",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, st, err := openStore(ctx, g)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := tenantService(cfg, st).RemoveDomain(ctx, args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "domain %s removed from tenant %s\n", args[1], args[0])
			return audit(ctx, st, "tenant-domain-remove", args[0], "domain "+args[1])
		},
	}
	cmd.AddCommand(add, verify, list, use, remove)
	return cmd
}
