package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
)

const watermarkVersion = 1

// watermark is what a delta import continues from: the @odata.deltaLink of
// each object type, e.g.
//
//	{"v":1,"delta":{"user":"https://graph.microsoft.com/v1.0/users/delta?$deltatoken=…","group":"…"}}
type watermark struct {
	V     int               `json:"v"`
	Delta map[string]string `json:"delta"`
}

func (w watermark) encode() string {
	b, _ := json.Marshal(w) // maps of strings always marshal
	return string(b)
}

// parseWatermark reads a watermark and checks that every delta link is the
// delta function of its collection under base: a stored watermark can never
// send the access token elsewhere.
func parseWatermark(s string, base *url.URL) (watermark, error) {
	var w watermark
	if strings.TrimSpace(s) == "" {
		return w, errors.New("there is none (no full import yet)")
	}
	d := json.NewDecoder(strings.NewReader(s))
	d.DisallowUnknownFields()
	if err := d.Decode(&w); err != nil {
		return watermark{}, fmt.Errorf("not a graph connector watermark: %w", err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return watermark{}, errors.New("not a graph connector watermark: trailing data")
	}
	if w.V != watermarkVersion {
		return watermark{}, fmt.Errorf("version %d is not %d", w.V, watermarkVersion)
	}
	if len(w.Delta) == 0 {
		return watermark{}, errors.New("it holds no delta link")
	}
	types := make([]string, 0, len(w.Delta))
	for t := range w.Delta {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		ot := typeByName(t)
		if ot == nil {
			return watermark{}, fmt.Errorf("unknown object type %q", t)
		}
		if err := checkDeltaLink(base, ot.coll, w.Delta[t]); err != nil {
			return watermark{}, err
		}
	}
	return w, nil
}

// checkDeltaLink checks that link is the delta function of coll under base
// (…/users/delta, or its fully qualified name …/users/microsoft.graph.delta
// or …/users/microsoft.graph.delta()), with a query.
func checkDeltaLink(base *url.URL, coll, link string) error {
	u, err := url.Parse(link)
	fn := ""
	if err == nil {
		fn, _ = strings.CutPrefix(u.Path, base.Path+"/"+coll+"/")
	}
	if err != nil || u.Scheme != base.Scheme || !strings.EqualFold(u.Host, base.Host) || u.User != nil ||
		fn != "delta" && fn != "microsoft.graph.delta" && fn != "microsoft.graph.delta()" || u.RawQuery == "" || u.Fragment != "" {
		return fmt.Errorf("the delta link of %s is not %s/%s/delta?…", coll, base, coll)
	}
	if bytes.ContainsAny([]byte(link), "\x00\r\n") {
		return fmt.Errorf("the delta link of %s holds control characters", coll)
	}
	return nil
}
