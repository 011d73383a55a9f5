package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/provisioning"
)

// The commands that change an application's provisioning on/off and
// assignments: the edits the web console makes on an application's page,
// written to the console-managed file next to provisioning.yaml
// (provisioning.ConsolePath).

func newProvToggleCmd(f *provFlags, on bool) *cobra.Command {
	verb, state := "enable", "on"
	short := "Turn an application's provisioning on (its cycles run again)"
	if !on {
		verb, state = "disable", "off"
		short = "Turn an application's provisioning off (no cycle runs; nothing is deprovisioned)"
	}
	return &cobra.Command{
		Use:   verb + " APP",
		Short: short,
		Long: short + `.
The change is written to the console-managed file next to provisioning.yaml
(provisioning.console.yaml), which Load applies on top of it; setting what
provisioning.yaml says removes the entry. Turning provisioning off stops the
application's cycles: nothing is disabled or deleted because of it, and the
first cycle after it is turned on again brings the accounts up to date. A
running idsync serve uses the change from its next start (the console's
switch applies it at once).`,
		Example: fmt.Sprintf("  idsync provisioning %s gotomeeting", verb),
		Args:    exactArgs(1, "APP", "an application's name (idsync provisioning list lists them)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := provisioning.SetProvisioning(f.appsPath(), args[0], on)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: provisioning %s (in %s)\n", a.Name, state, provisioning.ConsolePath(f.appsPath()))
			return nil
		},
	}
}

func newProvAssignCmd(f *provFlags, unassign bool) *cobra.Command {
	var group, groupID, user, userID, attribute, role string
	verb := "assign"
	short := "Assign a user or a group to an application"
	if unassign {
		verb = "unassign"
		short = "Remove a user's or a group's assignment from an application"
	}
	cmd := &cobra.Command{
		Use:   verb + " APP (--group NAME | --group-id ID | --user VALUE [--attribute A] | --user-id ID)",
		Short: short,
		Long: short + `.
A user is a metaverse person whose attribute (default accountName) has the
value, or a metaverse object id; a group is found by displayName, or by its
metaverse object id. The change is written to the console-managed file next
to provisioning.yaml (provisioning.console.yaml): an assignment of
provisioning.yaml that is unassigned is listed under unassign, one added
under assign. Every application is loaded with the change first (the role
must be one of the application's, provisionable); a change that would not
load is refused and nothing is written. The next cycle provisions the users
newly in scope and deprovisions (as the application's deprovision says) the
accounts no longer assigned. A running idsync serve uses the change from
its next start (the console's assignments apply at once).`,
		Example: fmt.Sprintf(`  idsync provisioning %s gotomeeting --group "Sales"%s
  idsync provisioning %s gotomeeting --user jdoe`, verb, map[bool]string{false: " --role Admin", true: ""}[unassign], verb),
		Args: exactArgs(1, "APP", "an application's name (idsync provisioning list lists them)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var x provisioning.Assignment
			n := 0
			for _, s := range []string{group, groupID, user, userID} {
				if s != "" {
					n++
				}
			}
			if n != 1 {
				return fmt.Errorf("%s: give one of --group NAME, --group-id ID, --user VALUE or --user-id ID", verb)
			}
			switch {
			case group != "" || groupID != "":
				x.Group = &provisioning.GroupAssignment{DisplayName: group, ID: groupID, Role: role}
			default:
				x.User = &provisioning.UserAssignment{Value: user, Attribute: attribute, ID: userID, Role: role}
			}
			edit := provisioning.Assign
			if unassign {
				edit = provisioning.Unassign
			}
			a, err := edit(f.appsPath(), args[0], x)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %sed %s (in %s); it now has %d group and %d user assignments\n", a.Name, verb, x,
				provisioning.ConsolePath(f.appsPath()), len(a.Assignments.Groups), len(a.Assignments.Users))
			fmt.Fprintf(cmd.OutOrStdout(), "Check what the next cycle sends with `idsync config diff` and `idsync preview %s` after a synchronization.\n", a.Name)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&group, "group", "", "a metaverse group's displayName")
	fl.StringVar(&groupID, "group-id", "", "a metaverse group's object id")
	fl.StringVar(&user, "user", "", "a metaverse person's value of --attribute")
	fl.StringVar(&attribute, "attribute", "", "the attribute --user matches (default accountName)")
	fl.StringVar(&userID, "user-id", "", "a metaverse person's object id")
	if !unassign {
		fl.StringVar(&role, "role", "", "the app role (default User; one of the application's appRoles when it lists any)")
	}
	return cmd
}
