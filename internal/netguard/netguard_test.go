package netguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestCheckIP(t *testing.T) {
	tests := []struct {
		ip      string
		blocked bool
		reason  string
	}{
		{"93.184.216.34", false, ""},
		{"8.8.8.8", false, ""},
		{"2606:4700:4700::1111", false, ""},
		{"127.0.0.1", true, "loopback"},
		{"127.255.255.254", true, "loopback"},
		{"::1", true, "loopback"},
		{"10.1.2.3", true, "private"},
		{"172.16.0.1", true, "private"},
		{"172.31.255.255", true, "private"},
		{"172.32.0.1", false, ""},
		{"192.168.1.1", true, "private"},
		{"fc00::1", true, "private"},
		{"fd12:3456::1", true, "private"},
		{"169.254.1.1", true, "link-local"},
		{"fe80::1", true, "link-local"},
		{"fe80::1%eth0", true, "link-local"},
		{"169.254.169.254", true, "cloud metadata"},
		{"fd00:ec2::254", true, "cloud metadata"},
		{"0.0.0.0", true, "this network"},
		{"0.1.2.3", true, "this network"},
		{"::", true, "unspecified"},
		{"224.0.0.1", true, "multicast"},
		{"239.255.255.250", true, "multicast"},
		{"ff02::1", true, "multicast"},
		{"ff05::2", true, "multicast"},
		{"100.64.0.1", true, "carrier-grade NAT"},
		{"100.127.255.255", true, "carrier-grade NAT"},
		{"100.128.0.1", false, ""},
		{"255.255.255.255", true, "reserved"},
		{"::ffff:127.0.0.1", true, "IPv4-mapped loopback"},
		{"::ffff:169.254.169.254", true, "IPv4-mapped cloud metadata"},
		{"::ffff:10.0.0.1", true, "IPv4-mapped private"},
		{"::ffff:8.8.8.8", false, ""},
		{"64:ff9b::7f00:1", true, "IPv6-embedded loopback"},
		{"64:ff9b::808:808", false, ""},
		{"2002:a9fe:a9fe::1", true, "IPv6-embedded cloud metadata"},
		{"2002:0808:0808::1", false, ""},
		{"::127.0.0.1", true, "IPv6-embedded loopback"},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			err := CheckIP(netip.MustParseAddr(tt.ip))
			if (err != nil) != tt.blocked {
				t.Fatalf("CheckIP(%s) = %v, blocked want %v", tt.ip, err, tt.blocked)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, ErrBlocked) {
				t.Errorf("error %v does not wrap ErrBlocked", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not name reason %q", err, tt.reason)
			}
		})
	}
	if err := CheckIP(netip.Addr{}); !errors.Is(err, ErrBlocked) {
		t.Errorf("zero Addr: %v", err)
	}
}

func TestCheckAddress(t *testing.T) {
	for addr, blocked := range map[string]bool{
		"127.0.0.1:80":      true,
		"[::1]:443":         true,
		"[fe80::1%lo]:80":   true,
		"93.184.216.34:443": false,
		"93.184.216.34":     false,
		"not-an-address:80": true,
	} {
		if err := CheckAddress(addr); (err != nil) != blocked {
			t.Errorf("CheckAddress(%q) = %v, blocked want %v", addr, err, blocked)
		}
	}
}

// TestControlAtDial dials a real loopback listener through a name, so the
// guard has to judge the address the resolver produced, not the name.
func TestControlAtDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	for _, target := range []string{"127.0.0.1:" + port, "localhost:" + port} {
		d := net.Dialer{Control: Control(false)}
		c, err := d.DialContext(ctx, "tcp4", target)
		if err == nil {
			c.Close()
			t.Fatalf("dial %s: guard did not refuse", target)
		}
		if !errors.Is(err, ErrBlocked) {
			t.Fatalf("dial %s: %v, want ErrBlocked", target, err)
		}
		if !strings.Contains(err.Error(), "127.0.0.1") {
			t.Errorf("error %q does not name the address", err)
		}

		d = net.Dialer{Control: Control(true)}
		c, err = d.DialContext(ctx, "tcp4", target)
		if err != nil {
			t.Fatalf("dial %s with allowPrivate: %v", target, err)
		}
		c.Close()
	}
}

func BenchmarkCheckIP(b *testing.B) {
	ips := []netip.Addr{
		netip.MustParseAddr("93.184.216.34"),
		netip.MustParseAddr("2606:4700:4700::1111"),
		netip.MustParseAddr("10.0.0.1"),
		netip.MustParseAddr("::ffff:8.8.8.8"),
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = CheckIP(ips[i%len(ips)])
	}
}
