package peers

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestSCIMServer(t *testing.T) {
	s := SCIM(t)
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") || !strings.HasSuffix(s.URL, "/scim/v2") || s.Token == "" {
		t.Fatalf("unexpected server %+v", s)
	}
	get := func(path, token string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	if code, body := get("/ServiceProviderConfig", s.Token); code != 200 || body["patch"].(map[string]any)["supported"] != true {
		t.Fatalf("ServiceProviderConfig: %d %v", code, body)
	}
	if code, _ := get("/Users", "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: got %d, want 401", code)
	}
	if code, body := get("/ResourceTypes", s.Token); code != 200 || body["totalResults"] != float64(2) {
		t.Fatalf("ResourceTypes: %d %v", code, body)
	}
}

func TestSCIMServerNoPatch(t *testing.T) {
	s := StartSCIM(t, SCIMOptions{NoPatch: true})
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/ServiceProviderConfig", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Patch struct{ Supported bool } }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Patch.Supported {
		t.Fatalf("patch should be unsupported: %v %+v", err, body)
	}
}
