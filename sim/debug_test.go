package sim

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"viewstamp/faults"
)

func TestDebugSeed(t *testing.T) {
	s := os.Getenv("SEED")
	if s == "" {
		t.Skip()
	}
	seed, _ := strconv.ParseUint(s, 10, 64)
	c, err := New(faults.Draw(seed, faults.Limits{}), Config{})
	if err != nil {
		t.Fatal(err)
	}
	c.Run()
	for i, r := range c.replicas {
		if r == nil {
			fmt.Println(i, "down")
			continue
		}
		fmt.Println(i, r.Debug())
	}
}
