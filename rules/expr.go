package rules

import (
	"errors"
	"sync"

	"github.com/idsync/idsync/model"
)

// This file is the seam between the rule engine and the expression language
// (package expr). The expression language registers itself with
// SetExpressionLanguage; until one is registered, rules with Expression flows
// fail validation with ErrNoExpressionLanguage.

// ResultKind distinguishes ordinary values from the special flow results.
type ResultKind uint8

// Result kinds.
const (
	// Value: Result.Values is the contribution (possibly no values).
	Value ResultKind = iota
	// Null removes this flow's contribution; another rule may contribute.
	Null
	// AuthoritativeNull removes the value and wins over lower-precedence
	// contributors.
	AuthoritativeNull
	// IgnoreThisFlow skips the flow.
	IgnoreThisFlow
)

// Result of evaluating an expression.
type Result struct {
	Kind   ResultKind
	Values model.Values
}

// Env gives an expression access to the object it is evaluated on.
type Env interface {
	// Attr returns the current values of an attribute of the source object.
	Attr(name string) model.Values
	// ImportedValue returns the value confirmed by the last import (for a CS
	// source, the same as Attr; for the MV, the values of the source CS object).
	ImportedValue(name string) model.Values
	// Param returns a rule parameter such as "Domain.FQDN" ("" when unknown).
	Param(name string) string
}

// Compiled is a compiled expression.
type Compiled interface {
	// Eval evaluates the expression. An error fails this object's
	// synchronization with the error's message (Error("…") in a rule).
	Eval(env Env) (Result, error)
	// Attributes lists the attributes the expression reads, so that imports
	// can request them and validation can check them.
	Attributes() []string
}

// Language compiles expressions.
type Language interface {
	Compile(src string) (Compiled, error)
}

// DialectLanguage is a Language with more than one function set: flows
// whose Dialect is set are compiled with CompileDialect.
type DialectLanguage interface {
	Language
	// CompileDialect compiles src with the functions of dialect ("sync",
	// "provisioning"); an unknown dialect is an error.
	CompileDialect(src, dialect string) (Compiled, error)
}

// ErrNoExpressionLanguage is returned when an Expression flow is used and no
// expression language is registered.
var ErrNoExpressionLanguage = errors.New("expression flows need the expression language, which is not built into this binary")

var (
	langMu sync.RWMutex
	lang   Language
)

// SetExpressionLanguage registers the expression language.
func SetExpressionLanguage(l Language) {
	langMu.Lock()
	defer langMu.Unlock()
	lang = l
}

// ExpressionLanguage returns the registered language, or nil.
func ExpressionLanguage() Language {
	langMu.RLock()
	defer langMu.RUnlock()
	return lang
}
