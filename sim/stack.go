package sim

import "strings"

// stableStack blanks the argument values in a goroutine stack, and the
// goroutine's number: argument values are heap addresses, which differ
// between runs of the same seed, and a crash's run record must replay byte
// for byte like any other (swarm shards are merged and compared record for
// record). Function names, files and lines stay.
func stableStack(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	for i, l := range lines {
		if rest, ok := strings.CutPrefix(l, "goroutine "); ok {
			if _, state, ok := strings.Cut(rest, " "); ok {
				lines[i] = "goroutine " + state
			}
			continue
		}
		if strings.HasPrefix(l, "\t") || !strings.HasSuffix(l, ")") {
			continue
		}
		if j := strings.LastIndexByte(l, '('); j > 0 {
			lines[i] = l[:j] + "(...)"
		}
	}
	return strings.Join(lines, "\n")
}
