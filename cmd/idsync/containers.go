package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/connector/ldap"
)

// OU-based filtering (R2.7) from the CLI and the console: a connector's
// OU trees read from its directory, and a selection made in them written
// to the console-managed connector settings.

// containerTrees reads the OU tree of every partition the connector
// synchronizes, with the selection its configuration makes; partitions
// are all the partitions the directory has.
func containerTrees(ctx context.Context, cfg *config.Config, name string) (trees []*ldap.Tree, partitions []string, cur ldap.Containers, err error) {
	cc, err := cfg.Lookup(name)
	if err != nil {
		return nil, nil, cur, err
	}
	if cc.Type != ldap.TypeName {
		return nil, nil, cur, fmt.Errorf("connector %s is of type %s: OU selection is for ldap connectors", name, cc.Type)
	}
	c, err := openConnector(ctx, *cc)
	if err != nil {
		return nil, nil, cur, err
	}
	defer c.Close()
	lc, ok := c.(*ldap.Connector)
	if !ok {
		return nil, nil, cur, fmt.Errorf("connector %s: not an LDAP connector", name)
	}
	parts, err := lc.Partitions(ctx)
	if err != nil {
		return nil, nil, cur, fmt.Errorf("connector %s: %w", name, err)
	}
	for _, p := range parts {
		partitions = append(partitions, p.Name)
		if len(cc.Partitions) > 0 && !slices.ContainsFunc(cc.Partitions, func(s string) bool { return strings.EqualFold(s, p.Name) }) {
			continue // not synchronized (domain-based filtering)
		}
		t, err := lc.ContainerTree(ctx, p.Name)
		if err != nil {
			return nil, nil, cur, fmt.Errorf("connector %s: %w", name, err)
		}
		trees = append(trees, t)
	}
	return trees, partitions, lc.ContainerSelection(), nil
}

// saveContainers turns choices made in the trees into the connector's
// containers and writes them to the console-managed connector settings,
// after checking that the connector opens with them. It returns the
// filtering written.
func saveContainers(ctx context.Context, cfg *config.Config, name string, choices map[string]ldap.Choice) (ldap.Containers, error) {
	trees, partitions, cur, err := containerTrees(ctx, cfg, name)
	if err != nil {
		return cur, err
	}
	left := make(map[string]ldap.Choice, len(choices))
	for dn, ch := range choices {
		left[dn] = ch
	}
	for _, t := range trees {
		mine := map[string]ldap.Choice{}
		for dn, ch := range left {
			if t.Node(dn) >= 0 {
				mine[dn] = ch
				delete(left, dn)
			}
		}
		if len(mine) == 0 {
			continue
		}
		if cur, err = t.Select(mine, cur, partitions); err != nil {
			return cur, err
		}
	}
	for dn := range left {
		return cur, fmt.Errorf("container %q is not in the OU tree of connector %s (idsync connector containers %s lists it; DNs are compared as DNs)", dn, name, name)
	}
	err = cfg.SetContainers(name, config.ContainerSelection(cur), func(next *config.Config) error {
		cc, err := next.Lookup(name)
		if err != nil {
			return err
		}
		c, err := openConnector(ctx, *cc)
		if err != nil {
			return err
		}
		return c.Close()
	})
	return cur, err
}

func newContainersCmd(g *globalFlags) *cobra.Command {
	var sel, unsel, newOUs, noNewOUs []string
	var out *output
	cmd := &cobra.Command{
		Use:   "containers CONNECTOR [--select DN]… [--unselect DN]… [--new-ous DN]… [--no-new-ous DN]…",
		Short: "List an LDAP connector's OU tree with what is synchronized (OU-based filtering), or change it",
		Long: `List the containers (OUs) of every partition an LDAP connector synchronizes,
read from the directory, with the OU-based filtering of its configuration
(R2.7): for each container whether its objects are synchronized (SYNC),
whether OUs created under it later will be (NEW OUS: Azure AD Connect's
"synchronize new OUs"; "no" is "don't synchronize new OUs"), and whether
all, some or none of its subtree is (the tri-state checkbox).

With --select, --unselect, --new-ous or --no-new-ous the selection changes:
the containers named change, the others keep their state, and the result is
written as containers.include, exclude and noNewChildren to the
console-managed connector settings next to the configuration
(idsync.console.yaml for idsync.yaml; see docs/console.md), after checking
that the connector opens with it. The web console's connector page does the
same. Then run a full import and a delta synchronization (R2.9), and check
the pending exports before exporting: objects that left the scope are
deleted in the targets, within the accidental-delete guard.`,
		Example: `  idsync connector containers contoso
  idsync connector containers contoso --unselect "OU=Leavers,OU=Staff,DC=contoso,DC=com"
  idsync connector containers contoso --no-new-ous "OU=Sales,DC=contoso,DC=com" --select "OU=EMEA,OU=Sales,DC=contoso,DC=com"
  idsync connector containers contoso -o json`,
		Args:              connectorArgs(g, 1, "connector containers", allConnectors),
		ValidArgsFunction: completeConnectors(g, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := out.resolve(cmd.OutOrStdout())
			if err != nil {
				return err
			}
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			name := args[0]
			if len(sel)+len(unsel)+len(newOUs)+len(noNewOUs) > 0 {
				trees, _, _, err := containerTrees(cmd.Context(), cfg, name)
				if err != nil {
					return err
				}
				choices, err := cliChoices(trees, sel, unsel, newOUs, noNewOUs)
				if err != nil {
					return err
				}
				written, err := saveContainers(cmd.Context(), cfg, name, choices)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "containers of %s written to %s: include %q, exclude %q, noNewChildren %q\n"+
					"Apply it with a full import and a delta synchronization: idsync run %s full-import && idsync run %s delta-sync (idsync config diff lists what changed)\n",
					name, cfg.ConsolePath(), written.Include, written.Exclude, written.NoNewChildren, name, name)
				if cfg, err = loadConfig(g); err != nil {
					return err
				}
			}
			trees, _, _, err := containerTrees(cmd.Context(), cfg, name)
			if err != nil {
				return err
			}
			return write(cmd.OutOrStdout(), f, trees, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SUBTREE\tSYNC\tNEW OUS\tCONTAINER")
				for _, t := range trees {
					for _, n := range t.Nodes {
						yes := map[bool]string{true: "yes", false: "no"}
						newOUs := yes[n.NewChildren]
						if !n.Selected {
							newOUs = "-"
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s%s\n", n.Subtree, yes[n.Selected], newOUs, strings.Repeat("  ", n.Depth), n.DN)
					}
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringArrayVar(&sel, "select", nil, "synchronize this container (repeatable)")
	cmd.Flags().StringArrayVar(&unsel, "unselect", nil, "do not synchronize this container (repeatable)")
	cmd.Flags().StringArrayVar(&newOUs, "new-ous", nil, "synchronize OUs created later under this selected container (repeatable)")
	cmd.Flags().StringArrayVar(&noNewOUs, "no-new-ous", nil, "don't synchronize OUs created later under this selected container (repeatable)")
	out = addOutputFlag(cmd, []string{"table", "json", "yaml"}, "")
	return cmd
}

// cliChoices turns the flags into choices: the containers named change,
// keeping the rest of their state.
func cliChoices(trees []*ldap.Tree, sel, unsel, newOUs, noNewOUs []string) (map[string]ldap.Choice, error) {
	choices := map[string]ldap.Choice{}
	get := func(dn string) (ldap.Choice, error) {
		if ch, ok := choices[dn]; ok {
			return ch, nil
		}
		for _, t := range trees {
			if i := t.Node(dn); i >= 0 {
				n := t.Nodes[i]
				return ldap.Choice{Selected: n.Selected, NewChildren: n.NewChildren || !n.Selected}, nil
			}
		}
		return ldap.Choice{}, fmt.Errorf("container %q is not in the OU tree (list it with idsync connector containers CONNECTOR)", dn)
	}
	for _, step := range []struct {
		dns []string
		set func(*ldap.Choice) error
	}{
		{sel, func(c *ldap.Choice) error { c.Selected = true; return nil }},
		{unsel, func(c *ldap.Choice) error { c.Selected = false; return nil }},
		{newOUs, func(c *ldap.Choice) error { c.NewChildren = true; return nil }},
		{noNewOUs, func(c *ldap.Choice) error { c.NewChildren = false; return nil }},
	} {
		for _, dn := range step.dns {
			ch, err := get(dn)
			if err != nil {
				return nil, err
			}
			_ = step.set(&ch)
			choices[dn] = ch
		}
	}
	for dn, ch := range choices {
		if !ch.Selected && !ch.NewChildren && slices.Contains(noNewOUs, dn) {
			return nil, fmt.Errorf("--no-new-ous %q: the container is not selected (add --select %q)", dn, dn)
		}
	}
	return choices, nil
}
