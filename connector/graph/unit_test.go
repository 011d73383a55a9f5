// Unit tests of the connector's parsers and helpers; where a server is
// needed, Microsoft Graph is faked (internal/graphfake), because no Graph is
// runnable here.
package graph

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/model"
)

var testBase, _ = url.Parse("https://graph.microsoft.com/v1.0")

func TestParseWatermark(t *testing.T) {
	good := `{"v":1,"delta":{"user":"https://graph.microsoft.com/v1.0/users/delta?$deltatoken=abc","group":"https://graph.microsoft.com/v1.0/groups/microsoft.graph.delta()?$deltatoken=x"}}`
	w, err := parseWatermark(good, testBase)
	if err != nil || len(w.Delta) != 2 {
		t.Fatalf("good watermark: %v %v", w, err)
	}
	for _, tt := range []struct{ wm, want string }{
		{"", "no full import"},
		{"{", "not a graph connector watermark"},
		{`{"v":1,"delta":{}}`, "no delta link"},
		{`{"v":2,"delta":{"user":"x"}}`, "version 2"},
		{`{"v":1,"delta":{"user":"x"},"extra":1}`, "unknown field"},
		{good + "{}", "trailing data"},
		{`{"v":1,"delta":{"printer":"https://graph.microsoft.com/v1.0/users/delta?$deltatoken=abc"}}`, `unknown object type "printer"`},
		{`{"v":1,"delta":{"user":"https://graph.microsoft.com/v1.0/groups/delta?$deltatoken=abc"}}`, "delta link of users"},
		{`{"v":1,"delta":{"user":"http://graph.microsoft.com/v1.0/users/delta?$deltatoken=abc"}}`, "delta link of users"},
		{`{"v":1,"delta":{"user":"https://graph.microsoft.com.evil.com/v1.0/users/delta?$deltatoken=abc"}}`, "delta link of users"},
		{`{"v":1,"delta":{"user":"https://me@graph.microsoft.com/v1.0/users/delta?$deltatoken=abc"}}`, "delta link of users"},
		{`{"v":1,"delta":{"user":"https://graph.microsoft.com/v1.0/users/delta"}}`, "delta link of users"},
	} {
		if _, err := parseWatermark(tt.wm, testBase); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.wm, err, tt.want)
		}
	}
}

func FuzzParseWatermark(f *testing.F) {
	f.Add(`{"v":1,"delta":{"user":"https://graph.microsoft.com/v1.0/users/delta?$deltatoken=abc"}}`)
	f.Add(`{"v":1,"delta":{"contact":"https://graph.microsoft.com/v1.0/contacts/delta?$deltatoken=a%20b"}}`)
	f.Add(`{"v":1,"delta":null}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, s string) {
		w, err := parseWatermark(s, testBase)
		if err != nil {
			return
		}
		// What parses round-trips, and names only links under the base.
		again, err := parseWatermark(w.encode(), testBase)
		if err != nil || len(again.Delta) != len(w.Delta) {
			t.Fatalf("round trip of %q: %v", s, err)
		}
		for k, v := range w.Delta {
			u, err := url.Parse(v)
			if err != nil || !strings.EqualFold(u.Host, "graph.microsoft.com") || u.Scheme != "https" || again.Delta[k] != v {
				t.Fatalf("%q: link %q", s, v)
			}
		}
	})
}

func FuzzDecodeObject(f *testing.F) {
	f.Add(`{"id":"1","displayName":"A","accountEnabled":true,"businessPhones":["1"],"proxyAddresses":null}`)
	f.Add(`{"id":1}`)
	f.Add(`{"id":"1","businessPhones":[null,"x",3]}`)
	f.Add(`null`)
	sel := selections(connector.ImportRequest{})[0]
	f.Fuzz(func(t *testing.T, s string) {
		o, err := decodeObject(sel, json.RawMessage(s))
		if o == nil {
			t.Fatal("nil object")
		}
		if err == nil && o.Anchor == "" {
			t.Fatal("an object without anchor")
		}
	})
}

func TestDecodeValue(t *testing.T) {
	ot := typeByName(TypeUser)
	for _, tt := range []struct {
		attr, raw string
		want      model.Values
		err       string
	}{
		{"displayName", `"A"`, model.Str("A"), ""},
		{"displayName", `""`, model.Values{}, ""},
		{"displayName", `null`, model.Values{}, ""},
		{"displayName", `12`, model.Values{}, "want a string, got 12"},
		{"accountEnabled", `false`, model.Values{Type: model.Boolean, Values: []string{"false"}}, ""},
		{"accountEnabled", `"true"`, model.Values{}, "want true or false"},
		{"telephoneNumber", `["1",null,""]`, model.Str("1"), ""},
		{"telephoneNumber", `[]`, model.Values{}, ""},
		{"telephoneNumber", `"1"`, model.Values{}, "want a list of strings"},
	} {
		got, err := decodeValue(ot.attr(tt.attr), json.RawMessage(tt.raw))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s %s: %v, want %q", tt.attr, tt.raw, err, tt.err)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) || len(got.Values) > 0 && got.Type != tt.want.Type {
			t.Errorf("%s %s = %+v, %v; want %+v", tt.attr, tt.raw, got, err, tt.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "2": 2 * time.Second, "0": 0, "-1": 0, "soon": 0, "99999": maxRetryAfter,
		now.Add(30 * time.Second).Format(http.TimeFormat): 30 * time.Second,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("Retry-After %q = %s, want %s", v, got, want)
		}
	}
}

func TestBackoffCappedWithJitter(t *testing.T) {
	c := &client{s: &settings{retryCap: 4 * time.Second}}
	for attempt := range 10 {
		d := c.backoff(attempt)
		ceil := min(retryBase<<attempt, 4*time.Second)
		if d < ceil/2 || d > ceil {
			t.Errorf("attempt %d: %s not in [%s, %s]", attempt, d, ceil/2, ceil)
		}
	}
}

func TestEncodeQuery(t *testing.T) {
	got := encodeQuery([][2]string{{"$filter", "userPrincipalName eq 'o''brien+x@contoso.com'"}, {"$select", "id,displayName"}})
	want := "$filter=userPrincipalName%20eq%20%27o%27%27brien%2Bx%40contoso.com%27&$select=id%2CdisplayName"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestNewPassword(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		pw, err := newPassword()
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) != 32 || seen[pw] || !strings.ContainsAny(pw, "abcdefghijkmnopqrstuvwxyz") || !strings.ContainsAny(pw, "ABCDEFGHJKLMNPQRSTUVWXYZ") ||
			!strings.ContainsAny(pw, "23456789") || !strings.ContainsAny(pw, "!#$%&*+-=?@^_") {
			t.Fatalf("password %d characters, classes missing or repeated", len(pw))
		}
		seen[pw] = true
	}
}

func TestAPIErrorText(t *testing.T) {
	c := &client{s: &settings{clientSecret: "hush", base: testBase}}
	req := &request{method: "PATCH", path: "/users/42"}
	for _, tt := range []struct{ body, want string }{
		{`{"error":{"code":"Request_BadRequest","message":"Invalid value hush\nnext"}}`, "PATCH /users/42: 400 Request_BadRequest: Invalid value [redacted] next"},
		{`{"error":{"code":5,"message":["x"]}}`, "PATCH /users/42: 400 Bad Request"},
		{`<html>oops</html>`, "PATCH /users/42: 400 Bad Request"},
		{`{"error":"invalid"}`, "PATCH /users/42: 400 Bad Request"},
	} {
		e := c.apiError(req, &response{status: 400, body: []byte(tt.body)}, 0)
		if e.Error() != tt.want {
			t.Errorf("%s → %q, want %q", tt.body, e.Error(), tt.want)
		}
	}
}
