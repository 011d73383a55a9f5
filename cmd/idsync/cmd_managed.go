package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	ldap "github.com/go-ldap/ldap/v3"
	"github.com/spf13/cobra"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/outofbox"
	"github.com/idsync/idsync/store"
)

func newManagedDomainCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "managed-domain", Short: "Inspect what the managed-domain rules did (outOfBox.managedDomain)"}
	var o *output
	report := &cobra.Command{
		Use:   "report",
		Short: "List the names the managed-domain rules generated, and why",
		Long: `List every user and group of the managed domain (outOfBox.managedDomain.target)
whose cn, userPrincipalName or sAMAccountName is not the one its metaverse
object would give it, with the reason: the same userPrincipalName or name
in two forests (R4.4), a name longer than AD allows (cn: 64 characters,
sAMAccountName: 20), characters a sAMAccountName cannot have, or a name
another account already has. The values are those last imported from the
domain, or about to be exported. Users sign in with the userPrincipalName
listed here.`,
		Example: "  idsync managed-domain report\n  idsync managed-domain report -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := o.resolve(cmd.OutOrStdout())
			if err != nil {
				return err
			}
			cfg, st, err := openInspectStore(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer st.Close()
			md := cfg.OutOfBox.ManagedDomain
			if md == nil || md.Target == "" {
				return errors.New("the configuration has no outOfBox.managedDomain; there is no managed domain to report on")
			}
			rows := []outofbox.GeneratedName{}
			err = st.ScanCS(cmd.Context(), md.Target, func(c *store.CSObject) error {
				if c.MVID == "" || c.Deleted || !c.Provisioned {
					return nil
				}
				m, err := st.GetMV(cmd.Context(), c.MVID)
				if errors.Is(err, store.ErrNotFound) {
					return nil
				}
				if err != nil {
					return fmt.Errorf("metaverse object %s of %s: %w", c.MVID, c.Object.DN, err)
				}
				rows = append(rows, outofbox.GeneratedNames(c.Object.Type, c.MVID, c.Object.DN, m.Attrs, domainNames(c))...)
				return nil
			})
			if err != nil {
				return fmt.Errorf("reading the connector space of %s: %w", md.Target, err)
			}
			sort.Slice(rows, func(i, j int) bool {
				if rows[i].DN != rows[j].DN {
					return rows[i].DN < rows[j].DN
				}
				return rows[i].Attribute < rows[j].Attribute
			})
			return write(cmd.OutOrStdout(), f, rows, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TYPE\tNAME\tATTRIBUTE\tVALUE\tREASON")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Type, r.Name, r.Attribute, r.Value, r.Reason)
				}
				if len(rows) == 0 {
					fmt.Fprintln(tw, "(no generated names: every object has the names its metaverse object gives)")
				}
				return tw.Flush()
			})
		},
	}
	o = addOutputFlag(report, []string{"table", "json", "yaml"}, "json")
	cmd.AddCommand(report)
	return cmd
}

// domainNames returns the names a managed-domain object has: as imported,
// with what its pending export sets (a placeholder's add, an update), and
// cn from the DN when the import did not bring it.
func domainNames(c *store.CSObject) model.Attrs {
	a := model.Attrs{}
	for _, n := range []string{"cn", "userPrincipalName", "sAMAccountName"} {
		if v, ok := c.Object.Attrs[n]; ok {
			a[n] = v
		}
	}
	if p := c.Pending; p != nil {
		for _, ch := range p.Changes {
			if ch.Mode == connector.Replace && (ch.Name == "cn" || ch.Name == "userPrincipalName" || ch.Name == "sAMAccountName") {
				a[ch.Name] = model.Values{Type: ch.Type, Values: ch.Values}
			}
		}
	}
	if a.First("cn") == "" {
		if d, err := ldap.ParseDN(c.Object.DN); err == nil && len(d.RDNs) > 0 && len(d.RDNs[0].Attributes) > 0 {
			a["cn"] = model.Str(d.RDNs[0].Attributes[0].Value)
		}
	}
	return a
}
