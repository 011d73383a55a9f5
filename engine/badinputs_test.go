package engine

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/connector"
	_ "github.com/idsync/idsync/connector/file" // the "file" connector type
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
)

// badInputsDir holds the bad-input corpus (see its README.md).
var badInputsDir = filepath.Join("..", "testdata", "badinputs")

// corpusRecord is one record of a corpus file: its raw text, its anchor
// and, for a bad one, the text expected in its error.
type corpusRecord struct {
	raw    []byte
	anchor string
	expect string
}

// TestBadInputs replays the bad-input corpus through the file connector and
// the engine: the base file is imported, then each case file (with the base
// objects it does not mention); every bad record must be an error on its
// object, in file order, with the expected text; every other object
// exactly as the connector read it; the bad ones keep their base state (or
// stay out when new); nothing is deleted and nothing panics.
func TestBadInputs(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join(badInputsDir, "cases", "*"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	total := 0
	for _, path := range cases {
		t.Run(filepath.Base(path), func(t *testing.T) { total += replayCase(t, path) })
	}
	if total < 200 {
		t.Errorf("the corpus holds %d bad inputs, want at least 200", total)
	}
	t.Logf("%d bad inputs replayed", total)
}

// replayCase replays one case file and returns its number of bad records.
func replayCase(t *testing.T, path string) int {
	ctx := context.Background()
	csvFile := strings.HasSuffix(path, ".csv")
	connName, base, src := "ldif", "base.ldif", "src.ldif"
	if csvFile {
		connName, base, src = "csv", "base.csv", "src.csv"
	}
	dir := t.TempDir()
	cfgData, err := os.ReadFile(filepath.Join(badInputsDir, "idsync.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "idsync.yaml")
	if err := os.WriteFile(cfgPath, cfgData, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cfg.Lookup(connName)
	if err != nil {
		t.Fatal(err)
	}
	open := func() connector.Connector {
		f, err := connector.Lookup(cc.Type)
		if err != nil {
			t.Fatal(err)
		}
		c, err := f(ctx, cc.Name, cc.Config.Decode)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	st := openTestStore(t)
	rf, err := rules.Parse("rules.yaml", []byte("rules: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Merge(rf)
	if err != nil {
		t.Fatal(err)
	}
	lim := cfg.LimitsFor(connName)
	e := &Engine{Store: st, Rules: rs, BatchSize: 7, Connectors: map[string]*Connector{connName: {Name: connName, Conn: open(), DeleteThreshold: -1,
		Limits: Limits{MaxStringBytes: lim.MaxStringBytes, MaxBinaryBytes: lim.MaxBinaryBytes, MaxValues: lim.MaxValues, MaxReferences: lim.MaxReferences, SingleValued: lim.SingleValued}}}}
	srcPath := filepath.Join(dir, src)
	fullImport := func() *store.Run {
		t.Helper()
		runs, err := e.Run(ctx, connName, FullImport, RunOptions{})
		if err != nil {
			t.Fatalf("full import: %v", err)
		}
		return runs[0]
	}

	// 1. The base: all good.
	baseData, err := os.ReadFile(filepath.Join(badInputsDir, base))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(srcPath, baseData, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := fullImport(); r.Counts.Errors != 0 || r.Counts.Adds == 0 {
		t.Fatalf("base import: %+v", r.Counts)
	}
	before := csByAnchor(t, st, connName)

	// 2. The case file, followed by the base objects it does not mention.
	caseData, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs, baseRecs []corpusRecord
	var header []byte
	if csvFile {
		header, recs = csvRecords(t, caseData)
		_, baseRecs = csvRecords(t, baseData)
	} else {
		recs, baseRecs = ldifRecords(t, caseData), ldifRecords(t, baseData)
	}
	mentioned := map[string]int{}
	for _, r := range recs {
		mentioned[r.anchor]++
	}
	var data bytes.Buffer
	data.Write(header)
	sep := []byte("\n")
	if csvFile {
		sep = nil
	}
	for _, r := range recs {
		data.Write(r.raw)
		data.Write(sep)
	}
	for _, r := range baseRecs {
		if mentioned[r.anchor] == 0 {
			data.Write(r.raw)
			data.Write(sep)
		}
	}
	if err := os.WriteFile(srcPath, data.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	// What the connector reads from it: the oracle for the good objects.
	read := map[string]*model.Object{}
	if _, err := open().(connector.FullImporter).FullImport(ctx, connector.ImportRequest{ObjectError: func(string, string, error) {}},
		func(o *model.Object) error { read[o.Anchor] = o; return nil }); err != nil {
		t.Fatalf("the connector cannot read the case file: %v", err)
	}

	r := fullImport()
	errs, err := st.RunErrors(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	var expects []string
	bad := map[string]bool{} // anchors of bad records that are their anchor's only record
	for _, rec := range recs {
		if rec.expect != "" {
			expects = append(expects, rec.expect)
			if mentioned[rec.anchor] == 1 {
				bad[rec.anchor] = true
			}
		}
	}
	if len(errs) != len(expects) || r.Counts.Errors != int64(len(expects)) {
		t.Errorf("%d errors (count %d), want %d, one per bad record", len(errs), r.Counts.Errors, len(expects))
	}
	for i := range min(len(errs), len(expects)) {
		if !strings.Contains(errs[i].Message, expects[i]) {
			t.Errorf("error %d, on %q: %q\n  want it to contain %q", i+1, errs[i].Object, errs[i].Message, expects[i])
		}
		if errs[i].Object == "" || !utf8.ValidString(errs[i].Object) || !utf8.ValidString(errs[i].Message) || len(errs[i].Message) > 4000 {
			t.Errorf("error %d: object %q, message of %d bytes: not printable as it is", i+1, errs[i].Object, len(errs[i].Message))
		}
	}
	if testing.Verbose() {
		for _, e := range errs {
			t.Logf("%s: %s", e.Object, e.Message)
		}
	}
	if r.Counts.Deletes != 0 || r.Status != store.RunWithError {
		t.Errorf("run %s with %d deletes, want completed-with-errors and none", r.Status, r.Counts.Deletes)
	}
	after := csByAnchor(t, st, connName)
	for anchor, o := range before {
		if a := after[anchor]; a == nil || a.Deleted {
			t.Errorf("%s: a base object was lost", anchor)
		} else if bad[anchor] && (a.Object.DN != o.Object.DN || !a.Object.Attrs.Equal(o.Object.Attrs)) {
			t.Errorf("%s: a bad record changed the object's last good state:\n  was %+v\n  now %+v", anchor, o.Object, a.Object)
		}
	}
	for anchor := range bad {
		if before[anchor] == nil && after[anchor] != nil {
			t.Errorf("%s: a bad new object was added", anchor)
		}
	}
	for anchor, o := range read {
		if bad[anchor] {
			continue
		}
		a := after[anchor]
		if a == nil || a.Object.DN != o.DN || a.Object.Type != o.Type || !a.Object.Attrs.Equal(o.Attrs) {
			t.Errorf("%s: a good object was not imported as read:\n  read %+v\n  have %+v", anchor, o, a)
		}
	}
	return len(expects)
}

func csByAnchor(t *testing.T, st store.Store, conn string) map[string]*store.CSObject {
	t.Helper()
	out := map[string]*store.CSObject{}
	if err := st.ScanCS(context.Background(), conn, func(o *store.CSObject) error {
		out[o.Object.Anchor] = o
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// ldifRecords splits an LDIF corpus file into its records (the version
// line and comments before the first record dropped; a "# expect:" line
// kept with its record).
func ldifRecords(t *testing.T, data []byte) []corpusRecord {
	t.Helper()
	var out []corpusRecord
	for _, block := range bytes.Split(data, []byte("\n\n")) {
		var rec corpusRecord
		var keep [][]byte
		for _, line := range bytes.Split(block, []byte("\n")) {
			switch {
			case bytes.HasPrefix(line, []byte("# expect: ")):
				rec.expect = string(line[len("# expect: "):])
			case bytes.HasPrefix(line, []byte("id:: ")):
				v, err := base64.StdEncoding.DecodeString(string(line[5:]))
				if err != nil {
					t.Fatal(err)
				}
				rec.anchor = string(v)
			case bytes.HasPrefix(line, []byte("id: ")):
				rec.anchor = string(line[4:])
			}
			if len(keep) > 0 || bytes.HasPrefix(line, []byte("dn:")) || bytes.HasPrefix(line, []byte("# expect: ")) {
				keep = append(keep, line)
			}
		}
		if len(keep) == 0 {
			continue
		}
		if rec.anchor == "" {
			t.Fatalf("a corpus record has no id:\n%s", block)
		}
		rec.raw = append(bytes.Join(keep, []byte("\n")), '\n')
		out = append(out, rec)
	}
	return out
}

// csvRecords splits a CSV corpus file into its header and rows; the id
// column is the anchor, the expect column what the row's error says.
func csvRecords(t *testing.T, data []byte) ([]byte, []corpusRecord) {
	t.Helper()
	lines := bytes.SplitAfter(data, []byte("\n"))
	header := lines[0]
	cols, err := csv.NewReader(bytes.NewReader(header)).Read()
	if err != nil {
		t.Fatal(err)
	}
	idCol, expectCol := -1, -1
	for i, c := range cols {
		switch c {
		case "id":
			idCol = i
		case "expect":
			expectCol = i
		}
	}
	if idCol < 0 || expectCol < 0 {
		t.Fatalf("CSV corpus header %q lacks id or expect", header)
	}
	var out []corpusRecord
	for _, line := range lines[1:] {
		if len(line) == 0 {
			continue
		}
		row, err := csv.NewReader(bytes.NewReader(line)).Read()
		if err != nil {
			t.Fatalf("corpus row %q: %v", line, err)
		}
		out = append(out, corpusRecord{raw: line, anchor: row[idCol], expect: row[expectCol]})
	}
	return header, out
}
