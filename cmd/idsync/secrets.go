package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/internal/secret"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/sealed"
)

// masker learns every secret value this process seals or opens, and hides
// them in logs (root.go), run messages and the final error (main.go).
var masker = secret.NewMasker()

// secretPolicy returns the configuration's secret attributes.
func secretPolicy(cfg *config.Config) *secret.Policy {
	return secret.NewPolicy(cfg.Security.SecretAttributes...)
}

// sealing returns the configuration's key, ready to seal secret values.
// With no key configured the sealer is nil (and storing a secret value is
// an error); a key that cannot be read or parsed is an error.
func sealing(cfg *config.Config) (*secret.Sealer, error) {
	key, previous, from, err := cfg.SecretKeys()
	if err != nil {
		return nil, err
	}
	if key == "" {
		if len(previous) > 0 {
			return nil, fmt.Errorf("security.previousSecretKeys is set but no current key (%s)", from)
		}
		return nil, nil
	}
	k, err := secret.ParseKey(key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", from, err)
	}
	var ks [][]byte
	for i, p := range previous {
		b, err := secret.ParseKey(p)
		if err != nil {
			return nil, fmt.Errorf("security.previousSecretKeys[%d]: %w", i, err)
		}
		ks = append(ks, b)
	}
	return secret.NewSealer(k, ks...)
}

// sealStore wraps a backend so that secret values are sealed at rest.
// strict makes a key that cannot be read an error now; otherwise (commands
// that may never touch a secret, such as runs) it is the error of the
// first read or write that needs the key.
func sealStore(cfg *config.Config, st store.Store, strict bool) (store.Store, error) {
	s, err := sealing(cfg)
	if err != nil && strict {
		return nil, err
	}
	return sealed.Wrap(st, sealed.Options{Sealer: s, KeyErr: err, Policy: secretPolicy(cfg), Masker: masker}), nil
}

func newGenSecretKeyCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "secret-key",
		Short: "Make a random key for security.secretKey (AES-256, base64)",
		Long: `Make a random 32-byte key, base64-encoded, for the key that seals secret
attributes (passwords) in the store. Give it to idsync through the
environment (secretKey: ${IDSYNC_SECRET_KEY}, or IDSYNC_SECRET_KEY alone) or
as a key file (secretKeyFile). With -o the file is created mode 0600 and an
existing file is never overwritten. Keep a copy with your backups of the
store: without the key the secret values in the store cannot be read.`,
		Example: `  idsync gen secret-key -o /etc/idsync/secret.key
  export IDSYNC_SECRET_KEY=$(idsync gen secret-key)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := secret.GenerateKey()
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err := fmt.Fprintln(cmd.OutOrStdout(), k)
				return err
			}
			return writeKeyFile(out, k)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "-", "key file to create, mode 0600 (- for standard output)")
	return cmd
}

// writeKeyFile creates a key file readable by its owner only; an existing
// file is an error (overwriting a key loses the values sealed with it).
func writeKeyFile(path, key string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write the key file: %w", err)
	}
	if _, err := fmt.Fprintln(f, key); err != nil {
		f.Close()
		return fmt.Errorf("write the key file: %w", err)
	}
	return f.Close()
}

func newSecretsCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Show and renew how secret attributes (passwords) are sealed in the store",
		Long: `Secret attributes (passwords) are sealed in the store with security.secretKey
(see docs/configuration.md, security). "secrets status" counts the sealed
values by key and the secret values still in clear; "secrets reseal" seals
them all again with the current key: after a key change (with the old key in
security.previousSecretKeys), or after marking more attributes secret.`,
	}
	var wait time.Duration
	status := &cobra.Command{
		Use:     "status",
		Short:   "Count the store's sealed values by key, and secret values in clear",
		Example: "  idsync secrets status",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, st, err := openSealed(cmd.Context(), g, false)
			if err != nil {
				return err
			}
			defer st.Close()
			inv, err := st.Inventory(cmd.Context())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			cur := ""
			if sl := st.Sealer(); sl != nil {
				cur = sl.KeyID()
				fmt.Fprintf(w, "current key:        %s\n", cur)
			} else {
				fmt.Fprintln(w, "current key:        none configured")
			}
			for _, id := range slices.Sorted(maps.Keys(inv.Sealed)) {
				note := ""
				if id != cur {
					note = " (not the current key)"
				}
				fmt.Fprintf(w, "sealed with %s:  %d values%s\n", id, inv.Sealed[id], note)
			}
			fmt.Fprintf(w, "in clear:           %d values\n", inv.Clear)
			if inv.Objects > 0 {
				fmt.Fprintf(w, "to reseal:          %d objects (idsync secrets reseal)\n", inv.Objects)
			} else {
				fmt.Fprintln(w, "to reseal:          none")
			}
			return nil
		},
	}
	reseal := &cobra.Command{
		Use:   "reseal",
		Short: "Seal every secret value with the current key (after a key change or a newly marked attribute)",
		Long: `Write again every object holding a secret value in clear or sealed with
another key than security.secretKey, so that all are sealed with it. Keys
named in security.previousSecretKeys open the old values; once reseal is
done (secrets status shows nothing to reseal) they can be removed. It takes
the run lock. Free pages of the database file may still hold old bytes:
with idsync stopped, "sqlite3 idsync.db VACUUM" rewrites the file.`,
		Example: "  idsync secrets reseal",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, st, err := openSealed(cmd.Context(), g, true)
			if err != nil {
				return err
			}
			defer st.Close()
			unlock, err := lockStore(cfg, wait)
			if err != nil {
				return err
			}
			defer unlock()
			n, err := st.Reseal(cmd.Context(), cfg.Engine.BatchSize)
			fmt.Fprintf(cmd.OutOrStdout(), "resealed %d objects with key %s\n", n, st.Sealer().KeyID())
			return err
		},
	}
	reseal.Flags().DurationVar(&wait, "wait", 0, "wait up to this long for a run to finish")
	cmd.AddCommand(status, reseal)
	return cmd
}

// openSealed opens the store wrapped by the sealing layer; strict makes a
// missing or unreadable key an error.
func openSealed(ctx context.Context, g *globalFlags, strict bool) (*config.Config, *sealed.Store, error) {
	cfg, err := loadConfig(g)
	if err != nil {
		return nil, nil, err
	}
	s, err := sealing(cfg)
	if err == nil && s == nil && strict {
		err = secret.ErrNoKey
	}
	if err != nil && strict {
		return nil, nil, err
	}
	raw, err := openBackend(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, sealed.Wrap(raw, sealed.Options{Sealer: s, KeyErr: err, Policy: secretPolicy(cfg), Masker: masker}), nil
}
