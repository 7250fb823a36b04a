package bus

import (
	"slices"
	"testing"
)

func TestParseAddresses(t *testing.T) {
	for in, want := range map[string][]string{
		"127.0.0.1:3001,127.0.0.1:3002": {"127.0.0.1:3001", "127.0.0.1:3002"},
		"3001, 3002,3003":               {"127.0.0.1:3001", "127.0.0.1:3002", "127.0.0.1:3003"},
		"replica-0.db":                  {"replica-0.db:3001"},
		"[::1]:4000,[::1]":              {"[::1]:4000", "[::1]:3001"},
	} {
		got, err := ParseAddresses(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%q: got %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1,2,3,4,5,6,7", "0", "70000", "h:x", ":3001", "::1", "3001,127.0.0.1:3001"} {
		if got, err := ParseAddresses(in); err == nil {
			t.Errorf("%q: accepted as %q", in, got)
		}
	}
}
