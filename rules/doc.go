// Package rules defines sync rules — inbound (connector space → metaverse)
// and outbound (metaverse → connector space) — with their scoping filters,
// join rules and attribute flows, how they are loaded from YAML, merged,
// validated, and how scoping filters and DN templates are evaluated.
//
// # Rule files
//
// A rule file is one YAML document with two optional keys: rules, a list of
// sync rules, and disable, a list of rule names to disable. Out-of-box rules
// are immutable (R2.8): to change one, clone it under a new name with a
// precedence below 100 and disable the original, without editing it:
//
//	rules:
//	  # Inbound: HR workers → metaverse persons.
//	  - name: In from HR - Person
//	    description: Projects HR workers in IT, or in Sales in the US.
//	    connector: hr
//	    direction: inbound          # inbound (CS → MV) | outbound (MV → CS)
//	    csObjectType: worker
//	    mvObjectType: person
//	    linkType: Provision         # Join | Provision
//	    precedence: 50              # lower wins; unique among enabled rules
//	    scope:                      # OR of groups, AND of clauses
//	      - clauses:
//	          - {attribute: department, operator: EQUAL, value: IT}
//	      - clauses:
//	          - {attribute: department, operator: EQUAL, value: Sales}
//	          - {attribute: c, operator: EQUAL, value: US}
//	    join:                       # groups tried in order; AND of conditions
//	      - conditions:
//	          - {source: employeeNumber, target: employeeID}
//	    flows:
//	      - {type: Direct, source: employeeNumber, target: employeeID}
//	      - {type: Direct, source: givenName, target: givenName}
//	      - {type: Direct, source: sn, target: sn}
//	      - {type: Direct, source: mail, target: proxyAddresses, merge: Merge}
//	      - {type: Constant, value: HR, target: sourceSystem}
//	      - type: Expression
//	        expression: 'Trim([givenName]) & " " & Trim([sn])'
//	        target: displayName
//
//	  # Outbound: metaverse persons → the target directory.
//	  - name: Out to Target - Person
//	    connector: target
//	    direction: outbound
//	    csObjectType: inetOrgPerson
//	    mvObjectType: person
//	    linkType: Provision
//	    precedence: 60
//	    scope:
//	      - clauses:
//	          - {attribute: employeeID, operator: ISNOTNULL}
//	          - {attribute: sourceSystem, operator: ISIN, values: [HR, Contractors]}
//	    join:
//	      - conditions:
//	          - {source: employeeID, target: employeeNumber}
//	    flows:
//	      - {type: Direct, source: employeeID, target: employeeNumber}
//	      - {type: Direct, source: displayName, target: cn, applyOnce: true}
//	      - {type: Direct, source: sn, target: sn}
//	      - {type: Constant, value: "true", targetType: boolean, target: active}
//	    dn: "cn={displayName},ou=people,dc=example,dc=org"
//	    deprovision: disable        # delete (default) | disable | keep
//	    disableAttribute: active
//	    disableValue: "false"
//
//	disable:
//	  - In from AD - User Join      # an out-of-box rule, replaced by a clone
//
// Rule keys: name, description, connector, direction, csObjectType,
// mvObjectType, linkType, precedence, disabled, scope, join, flows, dn,
// deprovision, disableAttribute, disableValue (and immutable, reserved for
// out-of-box rules). Clause keys: attribute, operator, value, values. Join
// condition keys: source, target, caseSensitive, fromFlow (outbound: the
// source value is what the rule's flow into target computes). Flow keys:
// type, source, value, expression, target, targetType, merge, applyOnce.
//
// Loading is strict: an unknown key, a value of the wrong type (precedence:
// 1.5, disabled: yes) or an unknown operator is an error starting with
// "file:line: ". Scalars written for string fields keep their text
// (value: 012 is "012"). Enumerations are accepted in any case and stored
// canonically. Defaults: merge Update; targetType string for Constant and
// Expression flows; deprovision delete for outbound rules.
//
// # Operators
//
// EQUAL, NOTEQUAL, STARTSWITH, NOTSTARTSWITH, ENDSWITH, NOTENDSWITH,
// CONTAINS, NOTCONTAINS, ISNULL, ISNOTNULL, ISIN, ISNOTIN, ISMEMBEROF,
// ISNOTMEMBEROF, ISBITSET, ISNOTBITSET (alias ISBITNOTSET), LESSTHAN,
// LESSTHAN_OR_EQUAL, GREATERTHAN, GREATERTHAN_OR_EQUAL. Case, '_', '-' and
// spaces do not matter: "LessThan-Or-Equal" is LESSTHAN_OR_EQUAL.
//
// Strings compare case-insensitively. On a multi-valued attribute a positive
// operator holds when any value satisfies it, a negative one (NOT…, ISNOTIN,
// ISNOTBITSET) when no value satisfies its positive form, so an absent
// attribute satisfies every negative operator: "department NOTEQUAL Sales"
// keeps objects without a department in scope; add "department ISNOTNULL"
// to exclude them. ISBITSET's value is a decimal or 0x hexadecimal mask,
// true when all its bits are set in the integer value (userAccountControl:
// ISNOTBITSET 2 = enabled accounts). The comparison operators compare
// integers as numbers, RFC 3339 times as times, anything else as
// case-insensitive strings. ISIN takes values, or value separated by ';'.
// ISMEMBEROF takes the group's DN or anchor as value and no attribute.
//
// # Constants and DN templates
//
// A Constant flow needs a non-empty value valid for its targetType; to clear
// an attribute use an Expression flow returning AuthoritativeNull. An
// outbound Provision rule's dn may be a template whose {attr} placeholders
// take the first value of a metaverse attribute, escaped per RFC 4514
// ({{ and }} are literal braces); see ExpandDN.
//
// # Merging and validation
//
// Merge combines files (out-of-box files loaded with LoadFS(…, true), user
// files with LoadFile) into a RuleSet, rejecting duplicate names and in-place
// edits of out-of-box rules, and applying disable lists. RuleSet.Validate
// checks the rules against the configured connectors, their schemas and the
// metaverse schema, and compiles Expression flows with the language
// registered by SetExpressionLanguage.
package rules
