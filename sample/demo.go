package sample

import (
	"embed"
	"io/fs"
)

// Demo holds the demo data set, two small directories as LDIF content files:
//
//   - demo/forest-a.ldif: contoso.test (DC=contoso,DC=test), 10 users in
//     Sales, IT, Engineering, Finance, HR and Marketing (one disabled:
//     userAccountControl 514; some with a manager), 3 groups, 2 contacts.
//   - demo/forest-b.ldif: fabrikam.test (DC=fabrikam,DC=test), 9 users,
//     2 groups, 2 contacts; the contact "Sofia Alvarez" has the mail of the
//     forest A user Sofia Alvarez (sofia.alvarez@contoso.test), the one
//     object that joins across the forests by mail.
//
// Every object has a fixed objectGUID, so a file connector configured with
// "anchor: objectGUID" sees stable anchors.
//
//go:embed demo/*.ldif
var Demo embed.FS

// Demo file names in Demo.
const (
	DemoForestA = "demo/forest-a.ldif"
	DemoForestB = "demo/forest-b.ldif"
)

// DemoForests returns the contents of the two demo files.
func DemoForests() (forestA, forestB []byte) {
	a, err := fs.ReadFile(Demo, DemoForestA)
	if err != nil {
		panic(err) // embedded at build time: cannot happen
	}
	b, err := fs.ReadFile(Demo, DemoForestB)
	if err != nil {
		panic(err)
	}
	return a, b
}
