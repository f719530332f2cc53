package stages

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestSharedPath(t *testing.T) {
	tests := []struct {
		in, err string
		abs     bool
	}{
		{in: "/shared/pairs", abs: true},
		{in: "relative/pairs", abs: true},
		{in: "s3://bucket/pairs", err: "not a URL"},
		{in: "https://example.org/list.txt", err: "not a URL"},
	}
	for _, tt := range tests {
		got, err := sharedPath("out", tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "--out") {
				t.Errorf("%q: err %v, want %q naming --out", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !filepath.IsAbs(got) || filepath.Base(got) != filepath.Base(tt.in) {
			t.Errorf("%q: %q, %v", tt.in, got, err)
		}
	}
}
