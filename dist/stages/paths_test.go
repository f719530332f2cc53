package stages

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestJobLocation(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: "/shared/pairs", want: "/shared/pairs"},
		{in: "relative/pairs", want: "abs"},
		{in: "file:///shared/pairs", want: "/shared/pairs"},
		{in: "s3://bucket/pairs?region=eu-west-1", want: "s3://bucket/pairs?region=eu-west-1"},
		{in: "file://host/pairs", err: "not a path"},
	}
	for _, tt := range tests {
		got, err := jobLocation("out", tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "--out") {
				t.Errorf("%q: err %v, want %q naming --out", tt.in, err, tt.err)
			}
			continue
		}
		switch {
		case err != nil:
			t.Errorf("%q: %v", tt.in, err)
		case tt.want == "abs":
			if !filepath.IsAbs(got) || filepath.Base(got) != filepath.Base(tt.in) {
				t.Errorf("%q: %q, want an absolute path", tt.in, got)
			}
		case got != tt.want:
			t.Errorf("%q: %q, want %q", tt.in, got, tt.want)
		}
	}
}
