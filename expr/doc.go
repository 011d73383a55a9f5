// Package expr implements the expression language of idsync's sync rules:
// the declarative-provisioning expressions of Azure AD Connect, so that
// rules written for it carry over unchanged.
//
// # Syntax
//
//   - attributes [name], parameters %Domain.FQDN% (any %A.B% reads the rule
//     parameter "A.B"), variables $item (bound by Select, Where and With);
//   - string literals in double quotes; a backslash escapes \" and \\, and
//     \n, \r, \t stand for newline, carriage return and tab (any other
//     backslash is kept, so "\0ACNF:" is the five characters \0ACNF:);
//   - integers (123) and hexadecimal integers (&HFF);
//   - the literals NULL, CRLF, IgnoreThisFlow, AuthoritativeNull, True and
//     False; option names such as CaseInsensitive, vbTextCompare, UTF8 are
//     strings holding their own name;
//   - function calls Name(arg, …), with case-sensitive names;
//   - the operators < <= <> = > >= + - * & && || and parentheses.
//
// # Precedence
//
// The official documentation says that the operators have equal priority
// and are evaluated left to right, pointing at 2*(5+3) versus 2*5+3. Under
// that rule, though, out-of-box expressions such as
//
//	IsPresent([sAMAccountName]) = False || [sAMAccountName] = "SUPPORT_388945a0"
//
// would parse as ((IsPresent(…) = False) || [sAMAccountName]) = "SUPPORT_…"
// and compare a boolean with a string. Every out-of-box expression and every
// documented example gives its intended result when comparisons bind tighter
// than && and ||, and arithmetic tighter than comparisons, so expr uses,
// from tightest to loosest:
//
//	*
//	+ -
//	&               (string concatenation)
//	= <> < <= > >=
//	&&
//	||
//
// All binary operators are left-associative; 2*(5+3) is 16 and 2*5+3 is 13
// under both readings. A leading - negates.
//
// # Values
//
// Values are NULL, str, num (64-bit integer), bool, dt (UTC date), bin,
// ref, and multi-valued lists of these. An absent attribute is NULL. A
// function marked per-value (most single-valued text and conversion
// functions: Trim, LCase, Left, …) applied to a multi-valued argument runs
// on each value and returns the list of results. The special values
// AuthoritativeNull and IgnoreThisFlow pass unchanged through operators and
// functions, so IIF(…, AuthoritativeNull, …) returns them.
//
// Operators: & joins text (NULL counts as ""; one multi-valued side joins
// to each value); + - * work on numbers (a NULL operand gives NULL; + with
// a non-numeric string concatenates); comparisons compare numbers
// numerically, booleans and dates by value and strings ordinally
// (case-sensitive); NULL equals only NULL; a multi-valued side is equal when
// any value is. && and || short-circuit and treat NULL as False.
//
// # Results
//
// A compiled expression evaluates to a rules.Result: NULL gives Kind Null,
// AuthoritativeNull and IgnoreThisFlow their kinds, anything else Kind Value
// with the model type of the values (num → integer, bool → boolean, dt →
// datetime, bin → binary, ref → reference, otherwise string). Error("msg")
// returns an error whose message is msg (*UserError); the engine turns it
// into a per-object error. Other evaluation errors are *EvalError values
// with the position of the failing call or operator; syntax errors are
// *SyntaxError values ("line 1, col 14: unknown function …").
//
// # Dialect 2: application provisioning
//
// CompileDialect(src, Provisioning) compiles the attribute-mapping
// expressions of Microsoft Entra application provisioning; Compile and
// Language stay the sync-rule dialect (SyncRules). The grammar is the same
// (Entra expressions only use calls, [attributes] and "strings", plus
// comparisons inside IIF), but function names resolve against the
// provisioning table, and an argument may be left empty, standing for NULL:
// Replace([mail], "@contoso.com", , , "", , ). The functions: Append,
// BitAnd, CBool, CDate, Coalesce, ConvertToBase64, ConvertToUTF8Hex, Count,
// CStr, DateAdd, DateDiff, DateFromNum, FormatDateTime, Guid,
// IgnoreFlowIfNullOrEmpty, IIF, InStr, IsNull, IsNullOrEmpty, IsPresent,
// IsString, Item, Join, Left, Mid, NormalizeDiacritics, Not, Now,
// NumFromDate, PCase, RandomString, Redact, RemoveDuplicates, Replace,
// SelectUniqueValue, Split, StripSpaces, Switch, ToLower, ToUpper, Word,
// AppRoleAssignmentsComplex and SingleAppRoleAssignment (over
// [appRoleAssignments], the role names application provisioning gives each
// user: all of them, or the first). Where Entra's
// signature differs from the sync rules', the Entra one applies:
//
//   - Join(separator, source1, …) joins every value of its sources, skipping
//     NULL and empty values;
//   - Switch(source, defaultValue, key1, value1, …) compares the text of
//     source (NULL is "") with the keys, case-sensitively;
//   - Replace(source, oldValue, regexPattern, regexGroupName,
//     replacementValue, replacementAttributeName, template) picks its form
//     from the arguments given; patterns use Go's RE2 syntax, which accepts
//     the .NET (?<name>…) groups and ${name} references (no lookaround or
//     backreferences);
//   - FormatDateTime(source, dateTimeStyles?, inputFormat, outputFormat)
//     parses with the .NET inputFormat (dateTimeStyles is ignored);
//   - PCase(source, wordSeparators?), ToLower/ToUpper(source, culture?) (the
//     culture is ignored); Coalesce returns the first non-NULL argument;
//     Not is True for anything but a true value; DateDiff(interval, d1, d2)
//     counts calendar years, months and Sunday weeks, and whole days,
//     hours, minutes and seconds.
//
// Dates given as a date and an offset ("2020-03-16-07:00") are accepted,
// and a date result is written as Entra does, "M/d/yyyy h:mm:ss tt" in UTC.
// IgnoreFlowIfNullOrEmpty gives Kind IgnoreThisFlow. Redact returns its
// argument: the caller learns that the result must be hidden in logs with
// IsRedacted(compiled) (the compiled value has a Redacted() bool method).
// SelectUniqueValue returns the first candidate that is neither NULL nor
// empty and, when the Env implements UniqueChecker, not already taken in
// the target; the sync engine's outbound flows answer from the target's
// connector space.
//
// ShortHash(source, length), in both dialects, is idsync's own: the first
// length characters (1–52) of the SHA-256 of source's UTF-8 bytes in
// lower-case base32 (a–z, 2–7), for deterministic generated names.
// GeneratePassword(length, class…), in both dialects, is idsync's own too:
// a new random password (crypto/rand) of 8–256 characters with at least
// one character of each class named ("upper", "lower", "digit",
// "special"; all four by default). An expression calling it is volatile
// (the compiled value's Volatile() bool method): rules validation accepts
// it only in outbound flows with applyOnce.
//
// NextFreeNumber(start[, end]), in both dialects, is idsync's own too: the
// object's number in the target attribute of an outbound flow, or the
// lowest free one from start, when the Env implements NumberAllocator (the
// sync engine's outbound flows; see engine/number.go); otherwise an error.
//
// Importing the package registers the language with
// rules.SetExpressionLanguage.
package expr
