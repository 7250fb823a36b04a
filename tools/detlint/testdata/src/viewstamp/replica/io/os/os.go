// Package os is the production binding: goroutines and real time are its job.
package os

import (
	"os"
	"sync"
	"time"
)

func Serve(stop chan struct{}) {
	var mu sync.Mutex
	go func() {
		mu.Lock()
		defer mu.Unlock()
		<-stop
	}()
	for range map[int]int{} {
	}
	_ = time.Now()
	_ = os.Getpid()
}
