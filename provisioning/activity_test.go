package provisioning

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestActivityLogRotation: a report that reached LogMaxBytes is rotated
// when the next cycle opens it, LogKeep older files are kept, and ReadLog
// reads them all, oldest first.
func TestActivityLogRotation(t *testing.T) {
	defer func(m int64, k int) { LogMaxBytes, LogKeep = m, k }(LogMaxBytes, LogKeep)
	LogMaxBytes, LogKeep = 200, 2
	path := LogPath(t.TempDir(), "app")
	base := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	for i := range 6 {
		lg, err := openActivityLog(path)
		if err != nil {
			t.Fatal(err)
		}
		// One entry of more than 200 bytes per cycle: every cycle rotates.
		lg.add(&Activity{Time: base.Add(time.Duration(i) * time.Minute), App: "app", Cycle: int64(i), Action: ActCycle, Name: strings.Repeat("x", 200)})
		if err := lg.close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{path, path + ".1", path + ".2"} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", filepath.Base(p), err)
		}
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Errorf("a third older report is kept (LogKeep 2): %v", err)
	}
	cycles := func(since time.Time) []int64 {
		acts, err := ReadLog(path, since)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, a := range acts {
			out = append(out, a.Cycle)
		}
		return out
	}
	if got := cycles(time.Time{}); !slices.Equal(got, []int64{3, 4, 5}) {
		t.Errorf("ReadLog = cycles %v, want [3 4 5] (the three kept files, oldest first)", got)
	}
	if got := cycles(base.Add(4 * time.Minute)); !slices.Equal(got, []int64{4, 5}) {
		t.Errorf("ReadLog since cycle 4 = cycles %v, want [4 5]", got)
	}
	if got := cycles(time.Now().Add(time.Minute)); len(got) != 0 {
		t.Errorf("ReadLog since the future = %v, want none", got)
	}
}
