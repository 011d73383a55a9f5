package graph

import (
	"fmt"
	"testing"

	"github.com/idsync/idsync/engine/enginetest"
	"github.com/idsync/idsync/internal/graphfake"
)

// TestGraphImportShrink: a tenant whose users are all gone (deleted behind
// idsync's back, or a consent pointing at the wrong tenant) is refused by
// the import-shrink guard, on the full import and on the delta query alike:
// nothing is deleted in the connector space or the target until it is
// allowed (issue 16). Microsoft Graph is not runnable here: this runs
// against internal/graphfake, which replays the documented request and
// response shapes (list paging, delta queries with @removed).
func TestGraphImportShrink(t *testing.T) {
	srv := graphfake.New(t)
	var ids []string
	enginetest.ImportShrink(t, enginetest.ShrinkSource{
		Conn: newConn(t, srv, nil).Connector, ObjectType: TypeUser, Name: "userPrincipalName",
		Populate: func(t *testing.T, n int) {
			for i := range n {
				ids = append(ids, srv.AddUser(map[string]any{"userPrincipalName": fmt.Sprintf("u%02d@contoso.com", i), "displayName": fmt.Sprint("User ", i)}))
			}
		},
		Empty: func(t *testing.T) {
			for _, id := range ids {
				srv.Delete(id, true)
			}
			if left := srv.Users(); len(left) != 0 {
				t.Fatalf("%d users left in the tenant", len(left))
			}
		},
	}, 25)
}
