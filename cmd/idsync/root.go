package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/internal/secret"
	"github.com/idsync/idsync/provisioning"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

type globalFlags struct {
	config   string
	logLevel string
	// apps is the provisioning file (--apps of the provisioning commands,
	// env IDSYNC_PROVISIONING; default provisioning.yaml next to the
	// configuration file).
	apps string
	// tenant, when set (--tenant), makes the command work on that tenant's
	// configuration and store (cmd_onboard.go).
	tenant string
}

func newRootCmd() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "idsync",
		Short: "Identity synchronization engine",
		Long: `idsync imports users, groups and contacts from the directories you run, joins
them into one metaverse through declarative sync rules, and exports them —
filtered, transformed and checked — to the systems that need them.

Start with "idsync demo", which runs a full cycle on built-in sample data.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
				return usageError{errors.New("--log-level must be debug, info, warn or error")}
			}
			slog.SetDefault(slog.New(secret.LogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}), masker)))
			if g.tenant != "" {
				return useTenant(cmd, g)
			}
			return nil
		},
	}
	root.PersistentFlags().StringVarP(&g.config, "config", "c", envOr("IDSYNC_CONFIG", "idsync.yaml"), "configuration file (env IDSYNC_CONFIG)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	root.PersistentFlags().StringVar(&g.tenant, "tenant", "", "work on this tenant's configuration and store (made from tenants.template)")
	root.AddCommand(
		newRunCmd(g), newCycleCmd(g), newPreviewCmd(g), newMVCmd(g), newCSCmd(g), newRunsCmd(g),
		newRulesCmd(g), newSchedulerCmd(g), newServeCmd(g), newDemoCmd(), newGenCmd(), newConnectorsCmd(g), newBenchCmd(), newExprCmd(), newConfigCmd(g), newProvisioningCmd(g), newSecretsCmd(g),
		newUserCmd(g), newStoreCmd(g),
		newTenantCmd(g), newOnboardCmd(g), newManagedDomainCmd(g),
	)
	markUsageErrors(root)
	return root
}

// markUsageErrors makes argument and flag errors usage errors (exit code 2)
// on every command.
func markUsageErrors(c *cobra.Command) {
	c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	if args := c.Args; args != nil {
		c.Args = func(cmd *cobra.Command, a []string) error {
			if err := args(cmd, a); err != nil {
				return usageError{fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath())}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		markUsageErrors(sub)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// usageError marks errors in how the command was called (exit code 2).
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

func exitCode(err error) int {
	var u usageError
	switch {
	case errors.As(err, &u), strings.HasPrefix(err.Error(), "unknown command"):
		return 2
	case errors.Is(err, engine.ErrDeleteThreshold), errors.Is(err, provisioning.ErrDeleteThreshold), errors.Is(err, engine.ErrImportShrink):
		return 3
	case errors.Is(err, engine.ErrLocked):
		return 4
	}
	return 1
}
