module viewstamp/bench/raftpeer

go 1.26.8

require (
	go.etcd.io/raft/v3 v3.7.0
	golang.org/x/sys v0.49.0
	viewstamp v0.0.0
)

require google.golang.org/protobuf v1.36.11

replace viewstamp => ../..
