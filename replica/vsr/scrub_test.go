package vsr

import "testing"

// Every missing block is asked of every peer within the bound blockWindow
// promises, whatever the number of blocks and peers; asking always the
// oldest, or moving the window with the peer, would not.
func TestBlockWindowAsksEveryBlockOfEveryPeer(t *testing.T) {
	for replicas := 2; replicas <= ReplicasMax; replicas++ {
		peers := replicas - 1
		for n := 1; n <= 4*blocksPerRequest+3; n++ {
			asked := make(map[[2]int]bool)
			rounds := (n + blocksPerRequest - 1) / blocksPerRequest * peers
			for round := uint64(1); round <= uint64(rounds)+uint64(peers); round++ {
				peer := int(round % uint64(peers))
				start := blockWindow(round, peers, n)
				for i := range min(n, blocksPerRequest) {
					asked[[2]int{(start + i) % n, peer}] = true
				}
			}
			if len(asked) != n*peers {
				t.Fatalf("%d replicas, %d blocks: %d of %d (block, peer) pairs asked within %d rounds", replicas, n, len(asked), n*peers, rounds+peers)
			}
		}
	}
}
