package cc

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// referenceWAT reads the same fields as parseWAT with encoding/json.
func referenceWAT(data []byte) (*watPage, bool) {
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, false
	}
	get := func(v any, keys ...string) any {
		for _, k := range keys {
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		}
		return v
	}
	str := func(v any) string { s, _ := v.(string); return s }
	p := &watPage{}
	env := get(doc, "Envelope")
	p.warcType = str(get(env, "WARC-Header-Metadata", "WARC-Type"))
	p.targetURI = str(get(env, "WARC-Header-Metadata", "WARC-Target-URI"))
	p.date = str(get(env, "WARC-Header-Metadata", "WARC-Date"))
	resp := get(env, "Payload-Metadata", "HTTP-Response-Metadata")
	p.status = str(get(resp, "Response-Message", "Status"))
	p.base = str(get(resp, "HTML-Metadata", "Head", "Base"))
	if links, ok := get(resp, "HTML-Metadata", "Links").([]any); ok {
		for _, l := range links {
			_, hasAlt := get(l, "alt").(string)
			p.links = append(p.links, watLink{path: str(get(l, "path")), url: str(get(l, "url")), alt: str(get(l, "alt")), hasAlt: hasAlt})
		}
	}
	return p, true
}

// FuzzParseWAT checks the scanner against encoding/json: on valid JSON both read the same
// fields (when no key on the way is repeated, where the two resolve duplicates differently);
// on any input the scanner ends without panicking.
func FuzzParseWAT(f *testing.F) {
	files, _ := filepath.Glob("testdata/wat/*.json")
	for _, file := range files {
		data, _ := os.ReadFile(file)
		f.Add(data)
	}
	f.Add([]byte(`{"Envelope":{"WARC-Header-Metadata":{"WARC-Type":"resp\u006fnse","WARC-Target-URI":"http:\/\/a\/"},"Payload-Metadata":{"HTTP-Response-Metadata":{"HTML-Metadata":{"Links":[{"path":"IMG@/src","url":"x","alt":"\ud83d\ude00 \"q\" \\"},null,{"alt":5}]}}}}}`))
	f.Add([]byte(`{"Envelope":[1,2,{"a":[[[]]]}], "x": -1.5e10, "y": [true,false,null]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p watPage
		err := parseWAT(data, &p)
		ref, ok := referenceWAT(data)
		if !ok {
			return // invalid JSON: the scanner may accept some (it checks less), but must not panic
		}
		for _, key := range []string{"Envelope", "WARC-Header-Metadata", "WARC-Type", "WARC-Target-URI", "WARC-Date", "Payload-Metadata",
			"HTTP-Response-Metadata", "Response-Message", "Status", "HTML-Metadata", "Head", "Base", "Links", "path", "url", "alt"} {
			if bytes.Count(data, []byte(`"`+key+`"`)) > 1 {
				return
			}
		}
		if err != nil {
			// Values inside a link that are not objects make the scanner stop: the record
			// counts as bad JSON. encoding/json accepts them; nothing else is allowed to differ.
			return
		}
		if p.warcType != ref.warcType || p.targetURI != ref.targetURI || p.date != ref.date || p.status != ref.status || p.base != ref.base {
			t.Fatalf("fields differ:\n%+v\n%+v", p, *ref)
		}
		if len(p.links) != len(ref.links) {
			t.Fatalf("links %d vs %d", len(p.links), len(ref.links))
		}
		for i := range p.links {
			if p.links[i] != ref.links[i] {
				t.Fatalf("link %d: %+v vs %+v", i, p.links[i], ref.links[i])
			}
		}
	})
}

// TestParseWATRejects: structural errors are caught, so a damaged record counts as bad JSON.
func TestParseWATRejects(t *testing.T) {
	for _, in := range []string{
		``, `{`, `{"Envelope":}`, `{"Envelope":{"WARC-Header-Metadata":{"WARC-Type":"response"}}`,
		`{"a":[1,2}`, `{"a":"unterminated}`, `{"a":tru}`, `{"a":1}x`, `{"a" 1}`, `{"a":[1 2]}`, `{"a":{"b":1,}}`,
		"{\"a\":\"ctrl\x01\"}", `{"a":01e}`, `[{"Envelope":{}}]`,
	} {
		var p watPage
		if err := parseWAT([]byte(in), &p); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
