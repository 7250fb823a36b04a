// Package lsm is the ledger's storage engine: a forest of log-structured
// merge trees of fixed-size values over an asynchronous grid of checksummed
// blocks, after TigerBeetle's.
//
// # Values and keys
//
// A tree stores values of one fixed size whose first KeySize bytes are the
// key, compared as unsigned bytes. Rather than generics over key and value
// codecs, the tree works on []byte: blocks are bytes anyway, so a lookup
// binary-searches a block in place with no decoding, every block is
// decodable by a scrubber or a repairing peer from its own header, and the
// typed encoding (big-endian keys, a storage layout that puts the key first)
// lives once in the layer above. Removes are tombstones, kept as a bitmap in
// the value block so values stay exactly their size.
//
// # Tables, levels, lookups, scans
//
// Puts go to the mutable table. At a bar's end it is sorted into the
// immutable table, which the next bar writes to level 0. A table on disk is
// one index block (per value block: checksum, address, key_min, key_max) and
// value blocks of sorted values. Every level, level 0 included, holds
// disjoint tables in key order, at most Growth^(level+1) of them, so a point
// lookup reads at most one index and one value block per level: mutable,
// immutable, then levels top down, the first version found wins. A scan is
// one cursor per source, merged in key order (or reversed), reading only the
// blocks that meet its range up to its limit. (Level 0 is disjoint too, as
// in TigerBeetle, rather than LevelDB's overlapping level 0 searched newest
// first: the immutable table merges into the level-0 tables it overlaps, so
// no level ever needs more than one probe.)
//
// # Compaction
//
// A bar is CompactionOps beats, one per committed op. The first half-bar
// compacts the even levels into the odd ones below (0->1, 2->3, ...), the
// second the immutable table into level 0 and the odd levels down (1->2,
// ...), so no level is written and read by two compactions at once. A level
// at its table limit gives up the table overlapping the fewest tables below
// (the first such, in key order); with no overlap it moves down without
// being rewritten, unless it and its neighbour are both less than half full,
// when they merge. At a half-bar's first beat the planned input values are
// summed, and each beat consumes ceil(remaining / beats left) of them, so
// the work of a half-bar spreads evenly and no commit waits for a whole
// compaction. Outputs become visible (and inputs are released to the grid)
// at the half-bar's end. A tombstone is dropped once nothing below it can
// hold its key (always at the last level).
//
// Determinism: compactions run one after another in a fixed order (tree ID,
// then level), each writing its blocks in merge order, so the sequence of
// acquires and writes - and so the grid's bytes - depends only on the ops,
// never on the order in which reads complete. Replicas at the same op have
// byte-identical grids, and any block can be fetched from any peer by
// (address, checksum).
//
// # Manifest and checkpoints
//
// The manifest is one append-only log, shared by all trees, of table events
// (insert, update on a move, remove) in blocks that link back to their
// predecessor by (address, checksum). At each half-bar's end the oldest
// blocks are compacted: the entries still newest for a live table (known in
// memory) are appended again and the blocks released, a few more blocks than
// the half-bar appended, so the log stays proportional to the live tables.
// Checkpoint, right after a bar's last beat, flushes the partial block and
// returns the oldest and newest blocks and the count, which the superblock
// keeps; Open walks the log from the newest block back, keeping each
// table's newest entry. The tables then hold every put before the checkpoint's bar; the
// replica replays that bar from its WAL, and those beats do no compaction
// (it is already in the checkpoint) but seal the replayed puts into the
// immutable table, leaving the forest as it was.
//
// References lists every block the forest holds; right after a checkpoint
// they are, with the free set's and client sessions' blocks, exactly the
// grid's acquired blocks (a leak check, and state sync's fetch list).
//
// Reads (lookups, scans, compaction's) see a snapshot: levels are replaced,
// never edited, and a released block stays intact until the next checkpoint
// is durable, so a read must finish before then - TigerBeetle's commit
// stages guarantee it. A block the grid cannot read intact fails a lookup,
// scan or Open with *BlockFaultError, and parks a compaction (the commit
// stalls) until the replica repairs it and calls RetryParked.
//
// # Grooves
//
// The typed layer above, one groove per object type (accounts, transfers,
// transfers_pending, account_events), is package storage/groove: an object
// tree keyed by timestamp, an id tree keyed by the id alone (a point Get; an
// orphaned id maps to timestamp 0), and one index tree per indexed field
// keyed by field ++ timestamp, zero optional fields not indexed. Queries are
// index scans merged by timestamp; prefetch resolves a batch's ids and
// timestamps into a bounded cache so execute runs in memory. Each tree's
// TableValueCountMax is the batch maximum of values it can receive per op
// times CompactionOps.
package lsm
