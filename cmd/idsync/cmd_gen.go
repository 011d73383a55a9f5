package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/sample"
)

func newGenCmd() *cobra.Command {
	var o sample.GenOptions
	var out string
	cmd := &cobra.Command{
		Use:   "gen",
		Short: "Write a realistic sample directory of any size as LDIF",
		Long: `Write a realistic directory as LDIF: users with names, departments, mail, UPN,
sAMAccountName and objectGUID in OUs; groups with members; contacts. The same
options and seed always give byte-identical output, for tests and benchmarks.`,
		Example: `  idsync gen --users 100000 --groups 10000 --members 20 --contacts 5000 -o contoso.ldif
  idsync gen --users 50 --base-dn DC=fabrikam,DC=test --domain fabrikam.test --seed 2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			var f *os.File
			if out != "" && out != "-" {
				var err error
				f, err = os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
				if err != nil {
					return fmt.Errorf("gen: %w", err)
				}
				w = f
			}
			bw := bufio.NewWriterSize(w, 1<<16)
			err := sample.Generate(bw, o)
			if err == nil {
				err = bw.Flush()
			}
			if f != nil {
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				return fmt.Errorf("gen: %w", err)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.Int64Var(&o.Seed, "seed", 1, "random seed")
	fl.IntVar(&o.Users, "users", 100, "number of users")
	fl.IntVar(&o.Groups, "groups", 10, "number of groups")
	fl.IntVar(&o.MembersPerGroup, "members", 20, "members per group")
	fl.IntVar(&o.Contacts, "contacts", 5, "number of contacts")
	fl.StringVar(&o.BaseDN, "base-dn", "", "base DN (default DC=contoso,DC=test)")
	fl.StringVar(&o.Domain, "domain", "", "UPN domain (default contoso.test)")
	fl.StringVar(&o.MailDomain, "mail-domain", "", "mail domain (default: the UPN domain)")
	fl.IntVar(&o.DisabledEvery, "disabled-every", 0, "disable every Nth user (0: none)")
	fl.StringVarP(&out, "output", "o", "-", "output file (- for standard output)")
	cmd.AddCommand(newGenSecretKeyCmd())
	return cmd
}
