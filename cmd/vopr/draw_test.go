package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// What draw prints for a seed is what that seed's run records, with and
// without storage faults: a filter on draw's output picks the runs it names.
func TestDrawMatchesTheRunRecord(t *testing.T) {
	for _, extra := range [][]string{nil, {"--storage-faults"}, {"--storage-faults", "--storage-faults-off", "reformat,torn"}} {
		var out, errb bytes.Buffer
		args := append([]string{"draw", "--from", "40", "--count", "3", "--requests-max", "4"}, extra...)
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		sc := bufio.NewScanner(&out)
		sc.Buffer(nil, 1<<20)
		n := 0
		for sc.Scan() {
			var drawn struct {
				Seed    string         `json:"seed"`
				Options map[string]any `json:"options"`
			}
			if err := json.Unmarshal(sc.Bytes(), &drawn); err != nil {
				t.Fatalf("draw line %q: %v", sc.Text(), err)
			}
			var rout, rerr bytes.Buffer
			run(append([]string{"--seed", drawn.Seed, "--lite", "--requests-max", "4", "--json"}, extra...), &rout, &rerr)
			var rec struct {
				Options map[string]any `json:"options"`
			}
			if err := json.Unmarshal(rout.Bytes(), &rec); err != nil {
				t.Fatalf("seed %s: record: %v (%s)", drawn.Seed, err, rerr.String())
			}
			if !reflect.DeepEqual(drawn.Options, rec.Options) {
				t.Errorf("seed %s %v: draw printed\n%v\nthe run recorded\n%v", drawn.Seed, extra, drawn.Options, rec.Options)
			}
			n++
		}
		if n != 3 {
			t.Fatalf("%v: %d lines, want 3", extra, n)
		}
	}
}

func TestDrawRefusesBadRanges(t *testing.T) {
	for _, args := range [][]string{
		{"draw"},
		{"draw", "--from", "1", "--count", "0"},
		{"draw", "--from", "18446744073709551615", "--count", "2"},
		{"draw", "--from", "1", "--storage-faults-off", "torn"},
		{"draw", "--from", "1", "--storage-faults", "--storage-faults-off", "nope"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 1 {
			t.Errorf("%v: exit %d, want 1 (stderr %q)", args, code, errb.String())
		}
	}
}
