package ldap

import _ "github.com/go-ldap/ldap/v3" // keeps the dependency while the package is written
