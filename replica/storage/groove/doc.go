// Package groove is the typed layer between the ledger and the LSM forest:
// a groove is one object type of fixed size (accounts, transfers, pending
// transfers, account events) stored as a few trees of one lsm.Forest, with
// an object cache, a per-batch stash, scoped writes for linked chains, and
// index queries that merge scans.
//
// # Trees and keys
//
// A groove is configured by a Descriptor - the object size, the offsets of
// the little-endian id and timestamp in the object's own layout, and one
// Field per index, each a function from the object's bytes to a value -
// rather than by reflection over a Go type. Keys are big-endian so that
// lsm's byte order is numeric order:
//
//   - object tree: key = timestamp (8), value = timestamp ++ object. The
//     object keeps its wire layout; the 8-byte prefix is what lets the lsm,
//     whose key is a value's first bytes, key it without the groove knowing
//     the layout beyond the timestamp's offset.
//   - id tree: key = id (16), value = id ++ timestamp (24). The brief and
//     lsm's doc sketch the key as id ++ timestamp, found by a scan of
//     [id++0, id++max] with limit 1; since ids are unique the timestamp
//     need not be part of the key, and keying by id alone makes get-by-id a
//     point lookup (one index and one value block per level, as Get
//     guarantees) and an update of the entry a plain replace. This is also
//     TigerBeetle's layout ({id, timestamp, padding} keyed by id). An entry
//     with timestamp 0 is an orphaned id (InsertOrphan): used by a
//     transiently failed create, owned by no object.
//   - index trees: key = value = field ++ timestamp, the field widened to
//     8 bytes (u16, u32, u64) or 16 (u128). A zero value is not indexed, so
//     optional fields cost nothing when unset and a query for zero finds
//     nothing. Mutable fields (a pending transfer's status) move on Update:
//     a remove of the old key and a put of the new; Update refuses to change
//     any other indexed field, the id or the timestamp.
//
// Each tree's table size is its distinct puts per op (Config.PutsPerOpMax
// for the object tree, InsertsPerOpMax for the id tree and immutable
// indexes, twice PutsPerOpMax for mutable ones) times the forest's
// CompactionOps. Tree IDs follow TigerBeetle's numbering (ids.go), so the
// ledger's forest beats its trees in TigerBeetle's order and a block's tree
// id means the same thing in both.
//
// # Prefetch, cache and stash
//
// The ledger keeps its split: prefetch names what a batch needs, the groove
// loads it, and execute reads memory only. PrefetchSetup starts a batch;
// Prefetch(ids, timestamps, done) may be called more than once (a post
// names a pending transfer whose accounts a second stage then names). Each
// name not yet in the stash is served by the object cache if it holds it,
// else by the trees (id tree, then object tree), with at most PrefetchIOMax
// lookups in flight. Execute then calls GetByID and GetByTimestamp, which
// read only the stash and panic on a name that was not prefetched: a miss
// there is a bug in the ledger's prefetch, which must not be hidden by a
// silent synchronous read. A name found absent is stashed as absent, so
// "no such account" is an answer, not a miss.
//
// The object cache is set-associative (CacheWays ways) with CLOCK eviction
// inside a set, of a fixed CacheObjects capacity allocated up front; it is
// keyed by id when the objects have one (the ledger asks for hot accounts
// by id) and by timestamp otherwise. The stash is the batch's non-evicting
// working set, a fixed arena of StashMax objects with two open-addressing
// tables (id, timestamp -> entry) cleared in O(1) per batch: whatever the
// cache evicts, execute still finds what it was promised. Writes go through
// to the cache, so it never holds a stale copy.
//
// Replace is Update for a caller that keeps its own working set and
// vouches for the stored bytes itself, so a batch larger than one stash (a
// pulse expiring a backlog, loaded in rounds) can still write its updates.
//
// Determinism: completions only fill their request's slot; when all have
// completed, results enter the stash and the cache in request order. So
// the cache's contents, its hits and misses and every later read depend on
// the ops alone, never on the order in which the grid completed reads
// (TestDeterminism runs the same ops over FIFO and shuffled grids and
// compares writes, reads and cache counters).
//
// # Linked chains: scoped writes, not undo in the trees
//
// ScopeOpen / ScopeClose(persist) bracket a linked chain. Inside a scope
// the stash changes at once (a later event of the chain must see an earlier
// one's account update) with an undo log of previous entries, while tree
// and cache writes are queued. Persist applies the queue in order; discard
// restores the stash from the log and drops the queue. The alternative -
// writing to the trees and undoing with tombstones and re-puts - was
// rejected: a failed chain would then cost table space (the mutable table's
// capacity is distinct keys per bar, and tombstones are keys), its
// tombstones would survive into tables until compaction reaches the last
// level, and the grid's bytes would depend on failed work. With queued
// writes the forest only ever sees committed effects, exactly what the
// in-memory ledger's rollback leaves.
//
// # Queries
//
// A Stream is an index scan for one value (Index), every object (All), or
// an Intersect or Union of streams; Query runs one over a timestamp range
// with a limit, in either direction, and returns timestamps, whose objects
// the caller then prefetches. Leaves scan their tree in chunks of at most
// min(limit, QueryChunkMax) entries from where the merge needs them.
// Intersection is a zig-zag merge: a stream whose head is ahead makes the
// others seek to it (a fresh scan from that key, or a skip inside the
// loaded chunk), so a sparse field steps a dense one over what cannot
// match; union takes the least head of its children. Streams are polled by
// one driver loop, with IO only at the leaves, so completions never recurse
// and a query finishes (done once) only after every scan it issued has
// completed, also on a block fault. The cost is the results plus the
// entries and blocks the merge steps over, not the groove's size
// (TestQueryCost). ScanIndex is a range over a field's values themselves,
// for the pulse's expires_at scan.
//
// query_accounts / query_transfers with several fields set are an
// Intersect of their Index streams (All if none); get_account_transfers is
// Union(Index(debit_account_id), Index(credit_account_id)) (or one of them,
// by the filter's flags), intersected with the user_data and code indexes
// when those are set.
//
// # Forest
//
// Forest holds every groove's trees in one lsm.Forest; Beat, Checkpoint and
// Open pass through, refusing to run during a prefetch or an open scope.
// After Open the caches are empty: they only ever held copies.
package groove
