package web

import (
	"net/url"
	"strings"
	"testing"
)

func TestSafeNext(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/runs", "/runs"},
		{"/metaverse?q=ada&attr=mail", "/metaverse?q=ada&attr=mail"},
		{"/a/../runs", "/runs"},
		{"", "/"},
		{"runs", "/"},
		{"//evil.example", "/"},
		{"/\\evil.example", "/"},
		{"https://evil.example/", "/"},
		// Browsers drop tabs and newlines from URLs: these would leave
		// the site as //evil.example.
		{"/\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"/\r\n/evil.example", "/"},
		{"/ /evil.example", "/"},
		{"/\u00a0/evil.example", "/"},
		{"/\x00/runs", "/"},
		{"/%09/evil.example", "/%09/evil.example"}, // stays encoded: a path
		{"/000%0", "/"},                            // not a URL reference (found by FuzzSafeNext)
	} {
		if got := safeNext(tc.in); got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzSafeNext: whatever next is, the redirect stays on the console's
// site, also as a browser reads it (tabs and newlines dropped).
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/runs", "//evil.example", "/\t/evil.example", "/a/../../b?c=d", "/\\x", "/%2f%2fevil"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://console.example/login")
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		browser := strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(got)
		u, err := base.Parse(browser)
		if err != nil {
			t.Fatalf("safeNext(%q) = %q, which does not parse: %v", next, got, err)
		}
		if u.Host != "console.example" || u.Scheme != "https" || !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") {
			t.Fatalf("safeNext(%q) = %q leaves the site (%s)", next, got, u)
		}
	})
}
