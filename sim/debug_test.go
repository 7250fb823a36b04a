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
		t.Skip("set SEED to dump a seed's final replica states")
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
		fmt.Println(i, r.Debug(), r.DebugOps(r.Op()-6, r.Op()))
	}
	for _, sc := range c.clients {
		fmt.Println("client", sc.index, sc.c.Busy(), sc.c.NextRequest(), sc.evicted)
	}
}
