package file

import (
	"fmt"
	"testing"
)

// TestLineSet: a key met before reports the line it was first on, however
// often it is added again; other keys are not met before.
func TestLineSet(t *testing.T) {
	ls := newLineSet()
	for i := range 10000 {
		ls.add(fmt.Sprint("cn=user", i), i+1)
	}
	ls.add("cn=user7", 99999)
	for i := range 10000 {
		if line, ok := ls.first(fmt.Sprint("cn=user", i)); !ok || line != i+1 {
			t.Fatalf("cn=user%d: line %d, met %v; want line %d", i, line, ok, i+1)
		}
	}
	for _, k := range []string{"", "cn=user10000", "CN=user1", "cn=user1 "} {
		if line, ok := ls.first(k); ok {
			t.Errorf("%q: met before on line %d", k, line)
		}
	}
}
