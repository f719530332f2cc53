package netguard

import "testing"

func TestAllowList(t *testing.T) {
	a, err := ParseAllowList([]string{"127.0.0.1:8080", "10.0.0.7", "192.168.0.0/16", " "})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:8080", true},
		{"127.0.0.1:8081", false},
		{"[::ffff:127.0.0.1]:8080", true},
		{"10.0.0.7:443", true},
		{"10.0.0.8:443", false},
		{"192.168.44.1:80", true},
		{"169.254.169.254:80", false},
		{"not an address", false},
	}
	for _, tt := range tests {
		if got := a.Allows(tt.addr); got != tt.want {
			t.Errorf("Allows(%q) = %v, want %v", tt.addr, got, tt.want)
		}
	}
	if _, err := ParseAllowList([]string{"example.com"}); err == nil {
		t.Fatal("host name accepted as an allow entry")
	}
}
