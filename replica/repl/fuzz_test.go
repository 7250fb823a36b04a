package repl

import (
	"reflect"
	"testing"
)

// Whatever the input, the parser returns statements or an error, never a
// panic, and every statement it accepts prints back into itself.
func FuzzParse(f *testing.F) {
	for _, s := range roundTrips {
		f.Add(s)
	}
	f.Add("create_accounts id=1 flags=linked|0x8000 code=max;\nlookup_accounts id=0x_1")
	f.Add("query_transfers # ; comment\n limit=1 ; ; get_account_balances account_id=1 flags=none")
	f.Fuzz(func(t *testing.T, src string) {
		ss, err := Parse(src)
		if err != nil {
			return
		}
		for _, s := range ss {
			again, err := ParseOne(s.String())
			if err != nil {
				t.Fatalf("%q printed as %q: %v", src, s.String(), err)
			}
			if !reflect.DeepEqual(normal(again), normal(s)) {
				t.Fatalf("%q printed as %q read back differently", src, s.String())
			}
		}
	})
}
