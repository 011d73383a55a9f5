package peers

import (
	"strings"
	"testing"
)

// TestSambaKinit: Samba's KDC issues a ticket to Administrator with its
// password and refuses a wrong one, without the password in the message.
func TestSambaKinit(t *testing.T) {
	srv := Samba(t, SambaOptions{})
	for _, tc := range []struct {
		name, principal, password string
		ok                        bool
	}{
		{"right password", "Administrator", srv.Password, true},
		{"full principal", "Administrator@" + srv.Realm, srv.Password, true},
		{"wrong password", "Administrator", "Wr0ng-Passw0rd!", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := srv.Kinit(t, tc.principal, tc.password)
			if (err == nil) != tc.ok {
				t.Fatalf("kinit %s: %v, want success %v", tc.principal, err, tc.ok)
			}
			if err != nil && strings.Contains(err.Error(), tc.password) {
				t.Fatalf("the error quotes the password: %v", err)
			}
		})
	}
}
