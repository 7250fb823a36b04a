package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestParseSeed(t *testing.T) {
	if v, err := ParseSeed("42"); err != nil || v != 42 {
		t.Fatalf("decimal: %d %v", v, err)
	}
	hash := "0123456789abcdef0123456789abcdef00000000"
	if v, err := ParseSeed(hash); err != nil || v != 0x89abcdef00000000 {
		t.Fatalf("commit hash: %x %v", v, err)
	}
	for _, bad := range []string{"", "-1", "x", "18446744073709551616", strings.Repeat("g", 40)} {
		if _, err := ParseSeed(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestUsageErrorsExitOne(t *testing.T) {
	for _, args := range [][]string{{"--seed", "nope"}, {"--log", "loud", "--seed", "1"}, {"--bogus"}, {"1", "--seed", "2"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 1 {
			t.Errorf("%v: exit %d, want 1 (stderr %q)", args, code, errb.String())
		}
	}
}

func TestJSONRecord(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"--seed", "7", "--json"}, &out, &errb)
	var rec map[string]any
	if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out.String())
	}
	for _, k := range []string{"seed", "result", "exit_code", "ticks", "replica_count", "client_count", "requests_completed",
		"commit_max", "view_max", "crashes", "restarts", "messages", "options", "trace_hash"} {
		if _, ok := rec[k]; !ok {
			t.Errorf("record lacks %q", k)
		}
	}
	if rec["seed"] != "7" {
		t.Errorf("seed %v, want the string \"7\"", rec["seed"])
	}
	if int(rec["exit_code"].(float64)) != code {
		t.Errorf("exit code %d, record says %v", code, rec["exit_code"])
	}
}

func TestVerdictNamesReproduceCommand(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"--seed", "3", "--lite"}, &out, &errb)
	s := out.String()
	if code == 0 && !strings.Contains(s, "PASSED") {
		t.Fatalf("exit 0 without PASSED:\n%s", s)
	}
	if code != 0 && !strings.Contains(s, "reproduce: vopr --seed 3 --lite") {
		t.Fatalf("failure without a reproduce line:\n%s", s)
	}
}
