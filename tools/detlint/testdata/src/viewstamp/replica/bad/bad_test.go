package bad

import (
	"sync"
	"testing"
	"time"
)

// Test files may drive a simulation with real goroutines and timers.
func TestConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	c := make(chan int, 1)
	wg.Add(1)
	go func() { defer wg.Done(); c <- 1 }()
	wg.Wait()
	select {
	case <-c:
	case <-time.After(time.Second):
	}
	for range map[int]int{1: 1} {
	}
}
