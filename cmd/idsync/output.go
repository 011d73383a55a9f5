package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/idsync/idsync/view"
)

// output is the -o/--output flag of the commands that show objects.
type output struct {
	format  string
	formats []string // accepted, the first is the table-like default
	// piped is the default when standard output is not a terminal ("" =
	// the table-like default): one object read by a script is JSON.
	piped string
}

// addOutputFlag registers -o/--output on cmd.
func addOutputFlag(cmd *cobra.Command, formats []string, piped string) *output {
	o := &output{formats: formats, piped: piped}
	def := "table on a terminal"
	if piped != "" {
		def += ", " + piped + " otherwise"
	}
	cmd.Flags().StringVarP(&o.format, "output", "o", "", fmt.Sprintf("output format: %s (default %s)", strings.Join(formats, ", "), def))
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return formats, cobra.ShellCompDirectiveNoFileComp
	})
	return o
}

// resolve returns the format to write to w, or a usage error.
func (o *output) resolve(w io.Writer) (string, error) {
	if o.format == "" {
		if o.piped != "" && !isTerminal(w) {
			return o.piped, nil
		}
		return o.formats[0], nil
	}
	for _, f := range o.formats {
		if o.format == f {
			return f, nil
		}
	}
	return "", usageError{fmt.Errorf("-o/--output must be one of %s, not %q", strings.Join(o.formats, ", "), o.format)}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// write writes v as JSON or YAML, or calls table for the table format.
func write(w io.Writer, format string, v any, table func(io.Writer) error) error {
	switch format {
	case "json":
		return printJSON(w, v)
	case "yaml":
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		y, err := yaml.JSONToYAML(b)
		if err != nil {
			return err
		}
		_, err = w.Write(y)
		return err
	default:
		return table(w)
	}
}

// cell shortens a value for a table cell: control characters shown
// escaped, long values cut (the JSON and YAML output have them whole).
func cell(s string) string {
	const max = 96
	if strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		s = strings.Trim(strconv.Quote(s), `"`)
	}
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		return string(r[:max]) + fmt.Sprintf("… (%d characters)", len(r))
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeMVTable prints the metaverse object view: one row per attribute
// value with the attribute's lineage, then the joined objects.
func writeMVTable(w io.Writer, m view.MVObject) error {
	fmt.Fprintf(w, "metaverse object %s (%s), modified %s\n\n", m.ID, m.Type, m.Modified.UTC().Format("2006-01-02 15:04:05Z"))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ATTRIBUTE\tTYPE\tVALUE\tCONNECTOR\tRULE\tPRECEDENCE")
	for _, a := range m.Attributes {
		prec := "-"
		if a.Precedence != nil {
			prec = strconv.Itoa(*a.Precedence)
		}
		vals := a.Values
		if len(vals) == 0 {
			vals = []string{""}
		}
		for i, v := range vals {
			if i == 0 {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Name, a.Type, cell(v), dash(a.Connector), dash(a.Rule), prec)
			} else {
				fmt.Fprintf(tw, "\t\t%s\t\t\t\n", cell(v))
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nconnectors (%d)\n", len(m.Connectors))
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONNECTOR\tSTATE\tTYPE\tANCHOR\tDN\tLINK RULE")
	for _, l := range m.Connectors {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.Connector, l.State, dash(l.ObjectType), l.Anchor, dash(cell(l.DN)), dash(l.LinkRule))
	}
	return tw.Flush()
}

// writeCSTable prints a connector-space object: its identity and link,
// its attributes, then its pending export.
func writeCSTable(w io.Writer, c view.CSObject) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, kv := range [][2]string{
		{"connector", c.Connector}, {"partition", dash(c.Partition)}, {"object type", c.ObjectType},
		{"anchor", c.Anchor}, {"dn", dash(c.DN)}, {"state", c.State}, {"metaverse object", dash(c.MVID)},
		{"link rule", dash(c.LinkRule)}, {"sync pending", strconv.FormatBool(c.SyncPending)},
		{"modified", c.Modified.UTC().Format("2006-01-02 15:04:05Z")},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
	}
	if len(c.Unconfirmed) > 0 {
		fmt.Fprintf(tw, "unconfirmed:\t%s\n", strings.Join(c.Unconfirmed, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ATTRIBUTE\tTYPE\tVALUE")
	for _, a := range c.Attributes {
		vals := a.Values
		if len(vals) == 0 {
			vals = []string{""}
		}
		for i, v := range vals {
			name, typ := a.Name, a.Type
			if i > 0 {
				name, typ = "", ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", name, typ, cell(v))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	p := c.PendingExport
	if p == nil {
		fmt.Fprintln(w, "\npending export: none")
		return nil
	}
	fmt.Fprintf(w, "\npending export: %s, %s (attempts %d", p.Operation, p.State, p.Attempts)
	if p.Rule != "" {
		fmt.Fprintf(w, ", rule %s", p.Rule)
	}
	fmt.Fprintln(w, ")")
	if p.NewDN != "" {
		fmt.Fprintf(w, "  new DN: %s\n", p.NewDN)
	}
	if p.Error != "" {
		fmt.Fprintf(w, "  last error: %s\n", masker.Mask(p.Error))
	}
	if len(p.Changes) == 0 {
		return nil
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  ATTRIBUTE\tCHANGE\tTYPE\tVALUE")
	for _, ch := range p.Changes {
		vals := ch.Values
		if len(vals) == 0 {
			vals = []string{""}
		}
		for i, v := range vals {
			if i == 0 {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", ch.Attribute, ch.Mode, ch.Type, cell(v))
			} else {
				fmt.Fprintf(tw, "  \t\t\t%s\n", cell(v))
			}
		}
	}
	return tw.Flush()
}
