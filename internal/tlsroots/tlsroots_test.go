package tlsroots

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPool(t *testing.T) {
	if _, err := Pool(""); err != nil {
		t.Fatalf("system pool: %v", err)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Pool(bad); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("a file without a certificate: %v", err)
	}
	if _, err := Pool(filepath.Join(dir, "missing.pem")); err == nil || !strings.Contains(err.Error(), "caFile:") {
		t.Errorf("a missing file: %v", err)
	}
}
