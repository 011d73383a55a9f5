package config

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	c, err := Parse("/etc/idsync/idsync.yaml", []byte(`
dataDir: data
connectors:
  - name: hr
    type: file
    config:
      path: hr.csv
      anchor: employeeID
rules: [rules/*.yaml]
scheduler:
  interval: 45m
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.Path != "/etc/idsync/data/idsync.db" {
		t.Errorf("store path = %q", c.Store.Path)
	}
	if c.Scheduler.Interval.Duration != 45*time.Minute {
		t.Errorf("interval = %s", c.Scheduler.Interval)
	}
	if c.Threshold("hr") != 500 || !c.Safety.DeletesGuarded() {
		t.Errorf("safety defaults wrong: %+v", c.Safety)
	}
	var fc struct {
		Path   string `yaml:"path"`
		Anchor string `yaml:"anchor"`
	}
	if err := c.Connector("hr").Config.Decode(&fc); err != nil {
		t.Fatal(err)
	}
	if fc.Path != "hr.csv" || fc.Anchor != "employeeID" {
		t.Errorf("decoded %+v", fc)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", "dataDir: x\nconectors: []\n", "c.yaml:2:"},
		{"bad interval", "scheduler:\n  interval: soon\n", "invalid duration"},
		{"short interval", "scheduler:\n  interval: 5s\n", "at least 1m"},
		{"dup connector", "connectors:\n  - {name: a, type: file}\n  - {name: a, type: file}\n", `connector "a" is configured twice`},
		{"no type", "connectors:\n  - {name: a}\n", "type is required"},
		{"bad order", "connectors:\n  - {name: a, type: file}\nscheduler: {order: [b]}\n", `names connector "b"`},
		{"negative threshold", "safety: {deleteThreshold: -1}\n", "must be ≥ 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestBlockUnknownKey(t *testing.T) {
	c, err := Parse("c.yaml", []byte("connectors:\n  - name: a\n    type: file\n    config:\n      path: x\n      pth: y\n"))
	if err != nil {
		t.Fatal(err)
	}
	var fc struct {
		Path string `yaml:"path"`
	}
	err = c.Connectors[0].Config.Decode(&fc)
	if err == nil || !strings.Contains(err.Error(), "c.yaml:6:") {
		t.Fatalf("err = %v, want c.yaml:6:", err)
	}
}

func TestCycleOrderAndEmptyFile(t *testing.T) {
	c, err := Parse("c.yaml", []byte("connectors:\n  - {name: a, type: file}\n  - {name: b, type: file}\n  - {name: c, type: file}\nscheduler: {order: [c]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.CycleOrder(), ","); got != "c,a,b" {
		t.Errorf("cycle order = %s, want c,a,b", got)
	}
	c, err = Parse("/x/c.yaml", []byte("# nothing configured yet\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Safety.DeleteThreshold != 500 || c.Scheduler.Interval.Duration != 30*time.Minute || c.Store.Path != "/x/idsync.db" {
		t.Errorf("an empty file lost the defaults: %+v", c)
	}
	_, err = Parse("c.yaml", []byte("connectors:\n  - {name: a, type: file}\nscheduler: {order: [a, a]}\n"))
	if err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate order: %v", err)
	}
}

func TestBlockEnvReferences(t *testing.T) {
	t.Setenv("IDSYNC_TEST_SECRET", "s3cret")
	c, err := Parse("x.yaml", []byte(`connectors:
  - name: a
    type: t
    config: {password: "${IDSYNC_TEST_SECRET}", literal: "pa${ss}", nested: {token: "${IDSYNC_TEST_SECRET}"}, list: ["${IDSYNC_TEST_SECRET}"], m: {k: "${IDSYNC_TEST_SECRET}"}}
  - name: b
    type: t
    config: {password: "${IDSYNC_TEST_UNSET}"}
`))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Password string                 `yaml:"password"`
		Literal  string                 `yaml:"literal"`
		Nested   struct{ Token string } `yaml:"nested"`
		List     []string               `yaml:"list"`
		M        map[string]string      `yaml:"m"`
	}
	if err := c.Connectors[0].Config.Decode(&v); err != nil {
		t.Fatal(err)
	}
	if v.Password != "s3cret" || v.Literal != "pa${ss}" || v.Nested.Token != "s3cret" || v.List[0] != "s3cret" || v.M["k"] != "s3cret" {
		t.Errorf("decoded %+v", v)
	}
	var w struct {
		Password string `yaml:"password"`
	}
	err = c.Connectors[1].Config.Decode(&w)
	if err == nil || !strings.Contains(err.Error(), "password: environment variable IDSYNC_TEST_UNSET is not set") {
		t.Errorf("unset variable: %v", err)
	}
}
