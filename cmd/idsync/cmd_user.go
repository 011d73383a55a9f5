package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/idsync/idsync/internal/auth"
	"github.com/idsync/idsync/store"
)

// The users of the web console and REST API: local accounts with argon2id
// password hashes, their API tokens, and the audit log entries the
// command line writes for the changes it makes (user "cli").

// cliAuditUser is the user of the audit entries of the command line.
const cliAuditUser = auth.ReservedUserName

func newUserCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage the users and API tokens of the web console and REST API",
		Long: `Users of the web console and REST API are local accounts kept in the store:
a name (case-insensitive), a role and optionally a tenant. Roles: admin (also
manages users and configuration) ⊇ operator (also runs profiles and cycles,
switches the scheduler) ⊇ browse (looks only). Passwords are stored as
argon2id hashes, never in clear; they are read from the terminal without
echo, or from standard input with --password-stdin. API tokens let scripts
act as their user; a token is shown once, and only its SHA-256 is stored.

Every change is written to the audit log as user "cli".`,
	}
	cmd.AddCommand(newUserAddCmd(g), newUserListCmd(g), newUserDeleteCmd(g), newUserPasswdCmd(g),
		newUserEnableCmd(g, true), newUserEnableCmd(g, false), newUserTokenCmd(g))
	return cmd
}

// passwordSource reads a new password: from standard input with
// --password-stdin, else from the terminal, asked twice without echo.
type passwordSource struct {
	stdin bool
}

func (p *passwordSource) addFlag(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&p.stdin, "password-stdin", false, "read the password from standard input (one line) instead of the terminal")
}

func (p *passwordSource) read(cmd *cobra.Command, name string) (string, error) {
	var pw string
	if p.stdin {
		b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), auth.MaxPasswordLen+3))
		if err != nil {
			return "", fmt.Errorf("read the password from standard input: %w", err)
		}
		pw = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if strings.ContainsAny(pw, "\r\n") {
			return "", errors.New("--password-stdin: standard input has more than one line; give the password alone")
		}
	} else {
		fd := int(os.Stdin.Fd())
		if !term.IsTerminal(fd) {
			return "", usageError{errors.New("standard input is not a terminal: give the password on standard input with --password-stdin")}
		}
		ask := func(prompt string) (string, error) {
			fmt.Fprint(cmd.ErrOrStderr(), prompt)
			b, err := term.ReadPassword(fd)
			fmt.Fprintln(cmd.ErrOrStderr())
			if err != nil {
				return "", fmt.Errorf("read the password: %w", err)
			}
			return string(b), nil
		}
		var err error
		if pw, err = ask(fmt.Sprintf("New password for %s: ", name)); err != nil {
			return "", err
		}
		if err := auth.CheckPasswordPolicy(pw); err != nil {
			return "", err
		}
		again, err := ask("Repeat the password: ")
		if err != nil {
			return "", err
		}
		if again != pw {
			return "", errors.New("the passwords do not match")
		}
	}
	if err := auth.CheckPasswordPolicy(pw); err != nil {
		return "", err
	}
	return pw, nil
}

// audit records a change made from the command line. The detail names the
// operating-system user who ran the command.
func audit(ctx context.Context, st store.Store, action, target, detail string) error {
	osUser := "unknown"
	if u, err := user.Current(); err == nil {
		osUser = u.Username
	}
	if detail != "" {
		detail += "; "
	}
	e := &store.AuditEntry{User: cliAuditUser, Action: action, Target: target, Detail: detail + "os user " + osUser,
		Remote: "local", Outcome: store.AuditOK}
	if err := st.AddAudit(ctx, e); err != nil {
		return fmt.Errorf("the change is made, but writing it to the audit log failed: %w", err)
	}
	return nil
}

// checkTenant refuses a tenant name that could not be shown as it is.
func checkTenant(t string) error {
	if strings.ContainsFunc(t, func(r rune) bool { return r < ' ' || r == 0x7f }) || strings.TrimSpace(t) != t {
		return usageError{fmt.Errorf("--tenant %q: no control characters or surrounding spaces", t)}
	}
	return nil
}

func newUserAddCmd(g *globalFlags) *cobra.Command {
	var role, tenant string
	var noPassword bool
	var pw passwordSource
	cmd := &cobra.Command{
		Use:   "add NAME --role admin|operator|browse",
		Short: "Add a user of the web console and REST API",
		Long: `Add a user. The name is 1 to 64 letters, digits and . _ - @ + (an e-mail
address is fine), unique whatever its case; "cli" is reserved. The password
(at least 12 characters) is asked twice on the terminal, or read from
standard input with --password-stdin. --tenant limits the user to one tenant.

--no-password adds a user who cannot sign in with a password: the local
record of a person who signs in through the console's OpenID Connect
provider (console.oidc), which binds to them by name and can only narrow
what the provider gives (disabled: refused; --tenant: that tenant; --role: at
most that role). idsync user passwd gives it a password later.`,
		Example: `  idsync user add ann --role admin
  idsync user add ines@example.com --role admin --tenant contoso --no-password
  printf '%s\n' "$ANN_PASSWORD" | idsync user add ann --role operator --tenant contoso --password-stdin`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := auth.CheckUserName(name); err != nil {
				return usageError{err}
			}
			if role == "" {
				return usageError{errors.New("--role is required: admin, operator or browse")}
			}
			if !auth.ValidRole(role) {
				return usageError{fmt.Errorf("--role must be one of %s, not %q", strings.Join(auth.Roles(), ", "), role)}
			}
			if err := checkTenant(tenant); err != nil {
				return err
			}
			_, st, err := openStore(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer st.Close()
			ctx := cmd.Context()
			if u, err := st.GetUser(ctx, name); err == nil {
				return fmt.Errorf("user %q: %w (change its password with `idsync user passwd %s`)", u.Name, store.ErrAlreadyExists, u.Name)
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if noPassword && pw.stdin {
				return usageError{errors.New("give --no-password or --password-stdin, not both")}
			}
			hash := ""
			if !noPassword {
				p, err := pw.read(cmd, name)
				if err != nil {
					return err
				}
				if hash, err = auth.HashPassword(p); err != nil {
					return err
				}
			}
			now := time.Now().UTC()
			if err := st.PutUser(ctx, &store.User{Name: name, Role: role, Tenant: tenant, PasswordHash: hash, Created: now, Modified: now}); err != nil {
				return err
			}
			detail := "role " + role
			if tenant != "" {
				detail += ", tenant " + tenant
			}
			if noPassword {
				detail += ", no password"
			}
			if err := audit(ctx, st, "user-add", name, detail); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %s added (%s)\n", name, detail)
			return nil
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "the user's role: admin, operator or browse (required)")
	cmd.Flags().StringVar(&tenant, "tenant", "", "limit the user to this tenant (default: every tenant)")
	cmd.Flags().BoolVar(&noPassword, "no-password", false, "no password: the user signs in only through the console's OpenID Connect provider (console.oidc)")
	_ = cmd.RegisterFlagCompletionFunc("role", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return auth.Roles(), cobra.ShellCompDirectiveNoFileComp
	})
	pw.addFlag(cmd)
	return cmd
}

func newUserListCmd(g *globalFlags) *cobra.Command {
	var o *output
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the users, with their roles and number of API tokens",
		Example: "  idsync user list\n  idsync user list -o json",
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
			users, err := st.Users(cmd.Context())
			if err != nil {
				return err
			}
			toks, err := st.APITokens(cmd.Context(), "")
			if err != nil {
				return err
			}
			type userRow struct {
				*store.User
				Tokens int `json:"tokens"`
			}
			rows := []userRow{}
			for _, u := range users {
				n := 0
				for _, t := range toks {
					if store.UserKey(t.User) == store.UserKey(u.Name) {
						n++
					}
				}
				rows = append(rows, userRow{u, n})
			}
			return write(cmd.OutOrStdout(), format, rows, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tROLE\tTENANT\tSTATE\tTOKENS\tCREATED\tMODIFIED")
				for _, r := range rows {
					state := "enabled"
					if r.Disabled {
						state = "disabled"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.Name, r.Role, dash(cell(r.Tenant)), state, r.Tokens,
						r.Created.UTC().Format("2006-01-02 15:04Z"), r.Modified.UTC().Format("2006-01-02 15:04Z"))
				}
				return tw.Flush()
			})
		},
	}
	o = addOutputFlag(cmd, []string{"table", "json"}, "")
	return cmd
}

func newUserDeleteCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME",
		Short:   "Delete a user and its API tokens",
		Example: "  idsync user delete ann",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, st, err := openStore(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer st.Close()
			ctx := cmd.Context()
			u, err := st.GetUser(ctx, args[0])
			if err != nil {
				return err
			}
			toks, err := st.APITokens(ctx, u.Name)
			if err != nil {
				return err
			}
			// Its sessions would go with it; ended first, they are counted.
			n, err := st.DeleteUserSessions(ctx, u.Name)
			if err != nil {
				return err
			}
			if err := st.DeleteUser(ctx, u.Name); err != nil {
				return err
			}
			if err := audit(ctx, st, "user-delete", u.Name, fmt.Sprintf("role %s, %d API token(s), %d console session(s)", u.Role, len(toks), n)); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %s deleted, with %d API token(s); %s\n", u.Name, len(toks), signedOut(n))
			return nil
		},
	}
}

// signedOut says how many console sessions a command ended.
func signedOut(n int) string {
	if n == 1 {
		return "signed out of 1 console session"
	}
	return fmt.Sprintf("signed out of %d console sessions", n)
}

func newUserPasswdCmd(g *globalFlags) *cobra.Command {
	var pw passwordSource
	cmd := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Set a user's password",
		Long: `Set a user's password: asked twice on the terminal, or read from standard
input with --password-stdin. The user's console sessions end (whoever
signed in with the old password is signed out); the user's API tokens stay
valid: revoke them with "idsync user token NAME --revoke ID".`,
		Example: `  idsync user passwd ann
  printf '%s\n' "$ANN_PASSWORD" | idsync user passwd ann --password-stdin`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, st, err := openStore(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer st.Close()
			ctx := cmd.Context()
			u, err := st.GetUser(ctx, args[0])
			if err != nil {
				return err
			}
			p, err := pw.read(cmd, u.Name)
			if err != nil {
				return err
			}
			if u.PasswordHash, err = auth.HashPassword(p); err != nil {
				return err
			}
			u.Modified = time.Now().UTC()
			if err := st.PutUser(ctx, u); err != nil {
				return err
			}
			// A password reset signs out whoever used the old one.
			n, err := st.DeleteUserSessions(ctx, u.Name)
			if err != nil {
				return err
			}
			if err := audit(ctx, st, "user-passwd", u.Name, fmt.Sprintf("%d console session(s) ended", n)); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "password of %s changed; %s\n", u.Name, signedOut(n))
			return nil
		},
	}
	pw.addFlag(cmd)
	return cmd
}

func newUserEnableCmd(g *globalFlags, enable bool) *cobra.Command {
	name, action, short := "enable", "user-enable", "Let a disabled user sign in and use its API tokens again"
	if !enable {
		name, action, short = "disable", "user-disable", "Stop a user from signing in and from using its API tokens, and end its console sessions"
	}
	return &cobra.Command{
		Use:     name + " NAME",
		Short:   short,
		Example: "  idsync user " + name + " ann",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, st, err := openStore(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer st.Close()
			ctx := cmd.Context()
			u, err := st.GetUser(ctx, args[0])
			if err != nil {
				return err
			}
			if u.Disabled == !enable {
				fmt.Fprintf(cmd.OutOrStdout(), "user %s is already %sd\n", u.Name, name)
				return nil
			}
			u.Disabled, u.Modified = !enable, time.Now().UTC()
			if err := st.PutUser(ctx, u); err != nil {
				return err
			}
			detail, ended := "", ""
			if !enable {
				n, err := st.DeleteUserSessions(ctx, u.Name)
				if err != nil {
					return err
				}
				detail, ended = fmt.Sprintf("%d console session(s) ended", n), "; "+signedOut(n)
			}
			if err := audit(ctx, st, action, u.Name, detail); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %s %sd%s\n", u.Name, name, ended)
			return nil
		},
	}
}

func newUserTokenCmd(g *globalFlags) *cobra.Command {
	var what, expires, revoke string
	var list bool
	var o *output
	cmd := &cobra.Command{
		Use:   "token NAME (--name WHAT [--expires 90d] | --revoke ID | --list)",
		Short: "Create, revoke or list a user's API tokens",
		Long: `With --name, create an API token for a script acting as the user: the token
is printed once, alone on standard output (its ID and expiry go to standard
error), and only its SHA-256 is stored. It expires after --expires (days as
90d, or a duration as 12h; "never" for no expiry; default 90d). Scripts send
it as "Authorization: Bearer idsync_…".

With --revoke, delete the token with that ID; with --list, list the user's
tokens (never the tokens themselves).`,
		Example: `  TOKEN=$(idsync user token ann --name "nightly report" --expires 30d)
  idsync user token ann --list
  idsync user token ann --revoke 5f0c9a7e3b1d2c84`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n := 0
			for _, set := range []bool{what != "", revoke != "", list} {
				if set {
					n++
				}
			}
			if n != 1 {
				return usageError{errors.New("give exactly one of --name WHAT (create a token), --revoke ID or --list")}
			}
			if cmd.Flags().Changed("expires") && what == "" {
				return usageError{errors.New("--expires goes with --name (creating a token)")}
			}
			var lifetime time.Duration
			if what != "" && expires != "never" {
				var err error
				if lifetime, err = auth.ParseLifetime(expires); err != nil {
					return usageError{fmt.Errorf("--expires: %w", err)}
				}
			}
			format := ""
			if list {
				var err error
				if format, err = o.resolve(cmd.OutOrStdout()); err != nil {
					return err
				}
			}
			_, st, err := openStore(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer st.Close()
			ctx := cmd.Context()
			u, err := st.GetUser(ctx, args[0])
			if err != nil {
				return err
			}
			switch {
			case list:
				return listTokens(ctx, cmd.OutOrStdout(), st, u.Name, format)
			case revoke != "":
				return revokeToken(ctx, cmd.OutOrStdout(), st, u.Name, revoke)
			}
			token, hash, err := auth.NewToken()
			if err != nil {
				return err
			}
			id, err := auth.NewTokenID()
			if err != nil {
				return err
			}
			t := &store.APIToken{ID: id, User: u.Name, Name: what, Hash: hash, Created: time.Now().UTC()}
			expiry := "never"
			if lifetime > 0 {
				exp := t.Created.Add(lifetime)
				t.Expires, expiry = &exp, exp.Format(time.RFC3339)
			}
			if err := st.PutAPIToken(ctx, t); err != nil {
				return err
			}
			if err := audit(ctx, st, "token-add", u.Name, fmt.Sprintf("token %s %q, expires %s", id, what, expiry)); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "API token %s for %s (%s), expires %s. It is shown only this once:\n", id, u.Name, what, expiry)
			w := bufio.NewWriter(cmd.OutOrStdout())
			fmt.Fprintln(w, token)
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&what, "name", "", "create a token, saying what it is for")
	cmd.Flags().StringVar(&expires, "expires", "90d", `lifetime of the new token: days (90d), a duration (12h), or "never"`)
	cmd.Flags().StringVar(&revoke, "revoke", "", "revoke (delete) the user's token with this ID")
	cmd.Flags().BoolVar(&list, "list", false, "list the user's tokens")
	o = addOutputFlag(cmd, []string{"table", "json"}, "")
	return cmd
}

func listTokens(ctx context.Context, w io.Writer, st store.Store, name, format string) error {
	toks, err := st.APITokens(ctx, name)
	if err != nil {
		return err
	}
	if toks == nil {
		toks = []*store.APIToken{}
	}
	opt := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04Z")
	}
	return write(w, format, toks, func(w io.Writer) error {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tCREATED\tEXPIRES\tLAST USED")
		now := time.Now()
		for _, t := range toks {
			exp := opt(t.Expires)
			if t.Expired(now) {
				exp += " (expired)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, cell(t.Name), opt(&t.Created), exp, opt(t.LastUsed))
		}
		return tw.Flush()
	})
}

func revokeToken(ctx context.Context, w io.Writer, st store.Store, name, id string) error {
	toks, err := st.APITokens(ctx, name)
	if err != nil {
		return err
	}
	for _, t := range toks {
		if t.ID != id {
			continue
		}
		if err := st.DeleteAPIToken(ctx, id); err != nil {
			return err
		}
		if err := audit(ctx, st, "token-revoke", name, fmt.Sprintf("token %s %q", id, t.Name)); err != nil {
			return err
		}
		fmt.Fprintf(w, "API token %s of %s revoked\n", id, name)
		return nil
	}
	return fmt.Errorf("API token %s of user %s: %w (see `idsync user token %s --list`)", id, name, store.ErrNotFound, name)
}
