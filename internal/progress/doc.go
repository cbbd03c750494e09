// Package progress keeps, in Redis, which offsets of a partition already have their
// outcome beyond the group's committed offset, so that the next owner of the partition
// (after a rebalance, a crash or a restart) skips them instead of handling them again.
//
// Why: a row waiting for its destination keeps the committed offset behind it, while
// the rows after it are sent. Without this record every rebalance would hand all those
// rows to the ledger again (and dead-letter bad rows again). Kafka's commit metadata
// cannot carry it (kafka-go's Generation.CommitOffsets sends none, and brokers cap it at
// 4 KB).
//
// Invariants:
//   - A snapshot states facts that never stop being true: each set bit is an offset that
//     had its outcome. A stale snapshot only knows fewer of them, so loading an old one
//     costs redone work, never a lost row.
//   - Fenced by the group generation: Save is refused when a later generation of the
//     group already saved the partition, so a member that lost the partition never
//     overwrites its new owner's record.
//   - One key per (group, topic, partition): "<prefix>{<group>/<topic>/<partition>}",
//     a hash with the generation, the first offset and the bitmap. It expires after TTL
//     without a save (a partition no one consumes no longer needs it). A replay that
//     moves the group's offsets back must Clear the group's records, or rows would be
//     skipped as done.
package progress
