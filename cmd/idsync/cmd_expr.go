package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/expr"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
)

// shortType names a type as the sync-rule language does.
var shortType = map[model.Type]string{
	model.String: "str", model.Binary: "bin", model.Integer: "num",
	model.Boolean: "bool", model.DateTime: "dt", model.Reference: "ref",
}

// exprResult is the JSON the tester prints.
type exprResult struct {
	Type   string   `json:"type,omitempty"`
	Values []string `json:"values,omitempty"`
	Error  string   `json:"error,omitempty"`
}

func newExprCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "expr", Short: "Try expressions of the sync-rule language"}
	var attrs, attrsB64, params []string
	var dialect string
	eval := &cobra.Command{
		Use:   "eval EXPRESSION",
		Short: "Evaluate an expression on an object given on the command line; print the result as JSON",
		Long: `Evaluate an expression as an Expression flow would (--dialect sync, the
default) or as an application-provisioning attribute mapping would (--dialect
provisioning), on an object whose
attributes are given with --attr name=value (repeat a name for a multi-valued
attribute) and --attr-b64 name=BASE64 (binary values such as objectGUID), with
rule parameters from --param Domain.FQDN=contoso.com. Prints
{"type":"str","values":[…]} (binary values in base64; "mvstr" … for several
values; "void" for NULL), or {"error":"…"} with exit code 1.`,
		Example: `  idsync expr eval 'IIF(IsPresent([userPrincipalName]),[userPrincipalName],[sAMAccountName]&"@"&%Domain.FQDN%)' \
      --attr sAMAccountName=jdoe --param Domain.FQDN=contoso.com
  idsync expr eval 'ConvertToBase64([objectGUID])' --attr-b64 objectGUID=AAECAwQFBgcICQoLDA0ODw==
  idsync expr eval 'Join([proxyAddresses],";")' --attr proxyAddresses=SMTP:a@x --attr proxyAddresses=smtp:b@x
  idsync expr eval --dialect provisioning 'Join("@", NormalizeDiacritics([givenName]), "contoso.com")' --attr givenName=Zoë`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var d expr.Dialect
			switch dialect {
			case "sync":
				d = expr.SyncRules
			case "provisioning":
				d = expr.Provisioning
			default:
				return usageError{fmt.Errorf("--dialect must be sync or provisioning, not %q", dialect)}
			}
			env := expr.Object{Attrs: model.Attrs{}, Params: map[string]string{}}
			for _, a := range attrs {
				k, v, ok := strings.Cut(a, "=")
				if !ok || k == "" {
					return usageError{fmt.Errorf("--attr %q: write name=value", a)}
				}
				cur := env.Attrs[k]
				env.Attrs[k] = model.Values{Type: model.String, Values: append(cur.Values, v)}
			}
			for _, a := range attrsB64 {
				k, v, ok := strings.Cut(a, "=")
				if !ok || k == "" {
					return usageError{fmt.Errorf("--attr-b64 %q: write name=BASE64", a)}
				}
				raw, err := base64.StdEncoding.DecodeString(v)
				if err != nil {
					return usageError{fmt.Errorf("--attr-b64 %s: %w", k, err)}
				}
				cur := env.Attrs[k]
				env.Attrs[k] = model.Values{Type: model.Binary, Values: append(cur.Values, string(raw))}
			}
			for _, p := range params {
				k, v, ok := strings.Cut(p, "=")
				if !ok || k == "" {
					return usageError{fmt.Errorf("--param %q: write Name=value", p)}
				}
				env.Params[k] = v
			}
			return evalExpr(cmd.OutOrStdout(), args[0], d, env)
		},
	}
	eval.Flags().StringArrayVar(&attrs, "attr", nil, "attribute value name=value (repeat for several values)")
	eval.Flags().StringArrayVar(&attrsB64, "attr-b64", nil, "binary attribute value name=BASE64")
	eval.Flags().StringArrayVar(&params, "param", nil, "rule parameter Name=value, e.g. Domain.FQDN=contoso.com")
	eval.Flags().StringVar(&dialect, "dialect", "sync", "sync (sync rules) or provisioning (application provisioning mappings)")
	cmd.AddCommand(eval)
	return cmd
}

// errEvalFailed makes the exit code 1 after the error JSON was printed.
var errEvalFailed = errors.New("the expression failed (see the error above)")

func evalExpr(w io.Writer, src string, d expr.Dialect, env rules.Env) error {
	fail := func(err error) error {
		if perr := printJSON(w, exprResult{Error: err.Error()}); perr != nil {
			return perr
		}
		return errEvalFailed
	}
	c, err := expr.CompileDialect(src, d)
	if err != nil {
		return fail(err)
	}
	res, err := c.Eval(env)
	if err != nil {
		return fail(err)
	}
	out := exprResult{}
	switch res.Kind {
	case rules.Null:
		out.Type = "void"
	case rules.AuthoritativeNull:
		out.Type = "AuthoritativeNull"
	case rules.IgnoreThisFlow:
		out.Type = "IgnoreThisFlow"
	default:
		out.Type = shortType[res.Values.Type]
		if len(res.Values.Values) == 0 {
			out.Type = "void"
		}
		if len(res.Values.Values) > 1 {
			out.Type = "mv" + out.Type
		}
		for _, v := range res.Values.Values {
			if res.Values.Type == model.Binary {
				v = base64.StdEncoding.EncodeToString([]byte(v))
			}
			out.Values = append(out.Values, v)
		}
	}
	return printJSON(w, out)
}
