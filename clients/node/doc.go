// Package node runs TigerBeetle's official Node.js client,
// tigerbeetle-node pinned by package.json and package-lock.json here,
// against real replica processes: the package's own test suite
// (dist/test.js) on a one-replica cluster, a failover load on three
// replicas whose primary is killed, and the package's benchmark. The
// client is code no one on this team wrote, so passing its suite is an
// external check of our wire protocol and ledger semantics.
//
// The tests need node and npm on PATH and the npm registry (once: npm ci
// installs into the repo's ignored out/node and is skipped while the lock
// file is unchanged). `make node-e2e` runs them; `make test` depends on it.
package node
