package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rio "viewstamp/replica/io"
	"viewstamp/replica/io/os/disk"
)

// run executes the command line in-process and returns its output.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// formatted is a freshly formatted data file of replica 1 of 3, with
// io_uring if allowed here.
func formatted(t *testing.T) string {
	t.Helper()
	path := filepath.Join(directIODir(t), "0_1.viewstamp")
	_, err := run(t, "format", "--cluster", "340282366920938463463374607431768211455", "--replica", "1", "--replica-count", "3", path)
	if errors.Is(err, disk.ErrUringUnavailable) {
		_, err = run(t, "format", "--cluster", "340282366920938463463374607431768211455", "--replica", "1", "--replica-count", "3", "--io", "sync", path)
	}
	if err != nil {
		t.Skipf("cannot format a data file here: %v", err)
	}
	return path
}

func TestFormatRefusesAnExistingFile(t *testing.T) {
	path := formatted(t)
	before, _ := os.ReadFile(path)
	_, err := run(t, "format", "--cluster", "0", "--replica", "0", "--replica-count", "3", "--io", "sync", path)
	if err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("second format: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("a refused format changed the file")
	}
}

func TestFormatChecksFlags(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--cluster", "0", "--replica", "3", "--replica-count", "3"},
		{"--cluster", "0", "--replica", "0", "--replica-count", "7"},
		{"--cluster", "-1", "--replica", "0", "--replica-count", "1"},
		{"--cluster", "340282366920938463463374607431768211456", "--replica", "0", "--replica-count", "1"},
		{"--replica", "0", "--replica-count", "1"},
		{"--cluster", "0", "--replica", "0", "--replica-count", "1", "--io", "aio"},
	} {
		path := filepath.Join(dir, "x")
		if _, err := run(t, append(append([]string{"format"}, args...), path)...); err == nil {
			t.Errorf("format %v: accepted", args)
		}
		if _, err := os.Stat(path); err == nil {
			t.Errorf("format %v: left a file behind", args)
			_ = os.Remove(path)
		}
	}
}

func TestStartRefusesWhatIsNotADataFile(t *testing.T) {
	dir := directIODir(t)
	small := filepath.Join(dir, "small")
	if err := os.WriteFile(small, []byte("not a data file"), 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage")
	f, err := os.Create(garbage)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(int64(grid())); err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteAt(bytes.Repeat([]byte{0xA5}, 1<<20), 0)
	_ = f.Close()
	for path, want := range map[string]string{
		small:                        "not a data file",
		garbage:                      "no valid superblock copy",
		filepath.Join(dir, "absent"): "no such file",
	} {
		for _, cmd := range []string{"start", "inspect"} {
			args := []string{cmd, path}
			if cmd == "start" {
				args = []string{cmd, "--addresses", "3001,3002,3003", path}
			}
			if _, err := run(t, args...); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s %s: %v, want an error naming %q", cmd, filepath.Base(path), err, want)
			}
		}
	}
	path := formatted(t)
	if _, err := run(t, "start", "--addresses", "3001,3002", path); err == nil || !strings.Contains(err.Error(), "replica 1 of a cluster of 3") {
		t.Errorf("start with two addresses for a cluster of three: %v", err)
	}
}

func TestInspectFreshFile(t *testing.T) {
	path := formatted(t)
	out, err := run(t, "inspect", "--json", path)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Cluster != "340282366920938463463374607431768211455" || rep.Replica != 1 || rep.ReplicaCount != 3 {
		t.Fatalf("cluster %s replica %d of %d", rep.Cluster, rep.Replica, rep.ReplicaCount)
	}
	for _, c := range rep.Superblock {
		if !c.Valid || c.Sequence != 1 || c.View != 0 || c.Checkpoint != 0 {
			t.Fatalf("superblock copy %+v", c)
		}
	}
	w := rep.WAL
	if w.Present != 1 || w.Operations["root"] != 1 || w.Empty != w.Slots-1 || w.Slots != int(journalSlotCount) {
		t.Fatalf("WAL %+v", w)
	}
	if rep.Grid == nil || rep.Grid.BlocksAcquired != 0 || len(rep.Sessions) != 0 {
		t.Fatalf("grid %+v sessions %v (%s)", rep.Grid, rep.Sessions, rep.Unopened)
	}
	text, err := run(t, "inspect", path)
	if err != nil || !strings.Contains(text, "copy 3: sequence 1, checkpoint 0, view 0") || !strings.Contains(text, "wal: 256 slots, 1 present") {
		t.Fatalf("inspect: %v\n%s", err, text)
	}
}

func TestVersion(t *testing.T) {
	out, err := run(t, "version", "--verbose")
	if err != nil || !strings.HasPrefix(out, "viewstamp replica "+version) || !strings.Contains(out, "journal_slot_count=256") || !strings.Contains(out, ", release 0.17.9") {
		t.Fatalf("version: %v\n%s", err, out)
	}
}

// grid is the size of a data file's zones before the grid.
func grid() uint64 { return productionConfig(1).Layout().Zones[rio.ZoneGrid].Offset }
