package scim

import (
	"net/http"
	"testing"

	"github.com/idsync/idsync/engine/enginetest"
	"github.com/idsync/idsync/internal/peers"
)

// TestSCIMImportShrink: a SCIM server that answers an empty list where it
// held 30 users (its users deleted behind idsync's back, a wrong tenant, a
// filtered listing) is refused by the import-shrink guard: nothing is
// deleted in the connector space or the target until it is allowed (issue
// 16). Against the real SCIM server.
func TestSCIMImportShrink(t *testing.T) {
	srv := peers.SCIM(t)
	enginetest.ImportShrink(t, enginetest.ShrinkSource{
		Conn: newConn(t, srv, nil), ObjectType: "user", Name: "userName",
		Populate: func(t *testing.T, n int) {
			for _, u := range names("shrink", n) {
				rawUser(t, srv, u)
			}
		},
		Empty: func(t *testing.T) {
			for _, u := range rawList(t, srv, "/Users") {
				if code, body := raw(t, srv, http.MethodDelete, "/Users/"+u["id"].(string), nil); code != http.StatusNoContent {
					t.Fatalf("delete user %v: %d %v", u["id"], code, body)
				}
			}
			if left := rawList(t, srv, "/Users"); len(left) != 0 {
				t.Fatalf("%d users left on the server", len(left))
			}
		},
	}, 30)
}
