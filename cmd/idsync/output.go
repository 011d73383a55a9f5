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

	"github.com/idsync/idsync/engine"
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

// writeObjectPreview prints a single-object preview: the inbound rules and
// flows of every source object, the resulting attributes, then every
// target's rules, link, attributes and pending export.
func writeObjectPreview(w io.Writer, p *engine.ObjectPreview) error {
	fmt.Fprintf(w, "metaverse object %s (%s)\n", p.MVID, p.Type)
	if p.Deleted {
		fmt.Fprintln(w, "no authoritative object would remain joined: the metaverse object would be deleted")
	}
	for _, sp := range p.Inbound.Sources {
		fmt.Fprintf(w, "\ninbound from %s:%s (%s)\n", sp.Object.Connector, cell(firstNonEmpty(sp.Object.DN, sp.Object.Anchor)), sp.Link)
		if err := writeRulesTable(w, sp.Rules); err != nil {
			return err
		}
	}
	if p.Inbound.Error != "" {
		fmt.Fprintf(w, "the synchronization would fail on the object and leave it as it is: %s\n", cell(masker.Mask(p.Inbound.Error)))
	}
	fmt.Fprintln(w, "\nmetaverse attributes")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ATTRIBUTE\tTYPE\tVALUE\tRULE\tCONNECTOR\tPRECEDENCE\tCURRENT\tCHANGE")
	for _, a := range p.Inbound.Attributes {
		rule, conn, prec := "-", "-", "-"
		if a.Winner != nil {
			rule, conn, prec = a.Winner.Rule, a.Winner.Connector, strconv.Itoa(a.Winner.Precedence)
		}
		change := ""
		if a.Changed {
			change = "changes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Name, a.Type, dash(cell(strings.Join(a.Values, "; "))), rule, conn, prec,
			dash(cell(strings.Join(a.Current, "; "))), change)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, t := range p.Outbound {
		fmt.Fprintf(w, "\noutbound to %s: %s\n", t.Connector, linkText(t.Link))
		if t.Error != "" {
			fmt.Fprintf(w, "error: %s\n", cell(masker.Mask(t.Error)))
		}
		rs := make([]engine.InboundRulePreview, len(t.Rules))
		for i, r := range t.Rules {
			rs[i] = engine.InboundRulePreview{Rule: r.Rule, Precedence: r.Precedence, Scope: r.Scope, Flows: r.Flows}
		}
		if err := writeRulesTable(w, rs); err != nil {
			return err
		}
		if len(t.Attributes) > 0 {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ATTRIBUTE\tTYPE\tVALUE\tRULE\tCURRENT\tCHANGE")
			for _, a := range t.Attributes {
				change := ""
				switch {
				case a.Changed:
					change = "changes"
				case a.ApplyOnce:
					change = "applied once"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Name, a.Type, dash(cell(strings.Join(a.Values, "; "))), dash(a.Rule),
					dash(cell(strings.Join(a.Current, "; "))), change)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
		if len(t.Export) == 0 {
			fmt.Fprintln(w, "nothing to export")
			continue
		}
		if err := writePreviewTable(w, t.Export); err != nil {
			return err
		}
	}
	for _, e := range p.Errors {
		fmt.Fprintf(w, "error: %s\n", cell(masker.Mask(e)))
	}
	return nil
}

// writeRulesTable prints rules with their scope and flows.
func writeRulesTable(w io.Writer, rs []engine.InboundRulePreview) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tPRECEDENCE\tSCOPE\tFLOW\tVALUE")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%d\t%s\t\t\n", r.Rule, r.Precedence, scopeText(r.Scope))
		for _, f := range r.Flows {
			fmt.Fprintf(tw, "\t\t\t%s\t%s\n", f.Target, flowText(f))
		}
	}
	return tw.Flush()
}

// flowText is what a flow gives: its values, AuthoritativeNull, nothing,
// or its error; "(wins)" marks its attribute's winner.
func flowText(f engine.FlowPreview) string {
	var s string
	switch {
	case f.Error != "":
		return "error: " + cell(masker.Mask(f.Error))
	case f.AuthoritativeNull:
		s = "AuthoritativeNull"
	case len(f.Values) == 0:
		s = "(nothing)"
	default:
		s = cell(strings.Join(f.Values, "; "))
	}
	if f.Wins {
		s += " (wins)"
	}
	return s
}

func scopeText(s engine.ScopeResult) string {
	switch {
	case s.Error != "":
		return "error: " + cell(masker.Mask(s.Error))
	case s.Assignments != nil && !s.Assignments.Assigned:
		return "not assigned"
	}
	out := "in scope"
	if !s.InScope {
		var fails []string
		for _, c := range s.Failing {
			fails = append(fails, c.Clause)
		}
		out = "out of scope: " + strings.Join(fails, " / ")
	}
	if a := s.Assignments; a != nil {
		out += " (assigned"
		if len(a.Roles) > 0 {
			out += ", " + a.RolesAttr + " " + strings.Join(a.Roles, ", ")
		}
		out += ")"
	}
	return cell(out)
}

func linkText(l engine.LinkPreview) string {
	s := l.Action
	if l.Object != nil {
		s += " " + firstNonEmpty(l.Object.DN, l.Object.Anchor)
	}
	if l.Rule != "" {
		s += " (rule " + l.Rule + ")"
	}
	if d := l.Deprovision; d != nil {
		s += fmt.Sprintf("; deprovision %s: %s", firstNonEmpty(d.Object.DN, d.Object.Anchor), d.Action)
		if d.Dropped {
			s += " (never exported: dropped)"
		}
	}
	if l.Note != "" {
		s += " — " + l.Note
	}
	return cell(s)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
