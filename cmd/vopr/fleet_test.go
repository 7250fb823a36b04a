package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The fleet manifests call vopr swarm with flags this binary must still
// have: a renamed flag would otherwise surface only on the fleet, at night.
func TestFleetManifestsUseRealFlags(t *testing.T) {
	files, _ := filepath.Glob("../../deploy/k8s/*.yaml")
	files = append(files, "../../.github/workflows/swarm.yml")
	root := newRoot(nil, nil, new(int))
	swarmCmd, _, err := root.Find([]string{"swarm"})
	if err != nil {
		t.Fatal(err)
	}
	mergeCmd, _, _ := root.Find([]string{"swarm", "merge"})
	calls := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(b), "\\\n", " ") // shell line continuations
		for _, line := range strings.Split(text, "\n") {
			_, call, ok := strings.Cut(line, "vopr swarm")
			if !ok || strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			calls++
			cmd := swarmCmd
			if strings.HasPrefix(strings.TrimSpace(call), "merge") {
				cmd = mergeCmd
			}
			for _, tok := range strings.Fields(call) {
				if !strings.HasPrefix(tok, "--") {
					continue
				}
				name, _, _ := strings.Cut(strings.TrimPrefix(tok, "--"), "=")
				if cmd.Flags().Lookup(name) == nil {
					t.Errorf("%s: %q has no flag --%s", filepath.Base(f), cmd.CommandPath(), name)
				}
			}
		}
	}
	if calls < 3 {
		t.Errorf("found %d vopr swarm calls in the manifests", calls)
	}
}

// The Indexed Job's completion count is its shard count: a mismatch
// silently skips or repeats part of the range.
func TestIndexedJobShardsMatchCompletions(t *testing.T) {
	b, err := os.ReadFile("../../deploy/k8s/swarm-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	completions := regexp.MustCompile(`(?m)^\s*completions:\s*(\d+)`).FindStringSubmatch(s)
	shards := regexp.MustCompile(`name:\s*SHARDS,\s*value:\s*"(\d+)"`).FindStringSubmatch(s)
	if completions == nil || shards == nil || completions[1] != shards[1] {
		t.Fatalf("completions %v, SHARDS %v", completions, shards)
	}
	for _, want := range []string{"completionMode: Indexed", `--shard "$JOB_COMPLETION_INDEX/$SHARDS"`} {
		if !strings.Contains(s, want) {
			t.Errorf("swarm-job.yaml lacks %q", want)
		}
	}
}
