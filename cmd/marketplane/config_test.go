package main

import (
	"flag"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// TestTrustedProxies: the flag takes addresses and prefixes, and refuses
// what is neither rather than trusting nothing (or everything) quietly.
func TestTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []netip.Prefix
		err  string
	}{
		{in: "", want: nil},
		{in: "10.0.0.7", want: []netip.Prefix{netip.MustParsePrefix("10.0.0.7/32")}},
		{in: "10.0.0.0/8, ::1", want: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}},
		{in: "192.168.1.9/24", want: []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24")}},
		{in: "proxy.internal", err: `"proxy.internal" is not an address`},
		{in: "10.0.0.0/33", err: "is not an address"},
	} {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var c Config
		finish := bindConfig(fs, &c)
		if err := fs.Parse([]string{"--trusted-proxies", tc.in}); err != nil {
			t.Fatal(err)
		}
		err := finish()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want one saying %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if !slices.Equal(c.TrustedProxies, tc.want) {
			t.Errorf("%q: %v, want %v", tc.in, c.TrustedProxies, tc.want)
		}
	}
}
