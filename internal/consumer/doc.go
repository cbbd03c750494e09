// Package consumer reads the rows topic as a member of a consumer group, hands every
// message to a Handler, and commits offsets only behind messages that have an outcome.
//
// Invariants (DESIGN.md, "Consumer semantics" 1, 8, 9 and 11):
//   - An offset is committed only when every message below it in its partition has an
//     outcome: the committed offset is the partition's contiguous watermark and never
//     passes a message in flight. Handler.Handle returning nil is the outcome.
//   - Messages of one partition are handled concurrently, at most Config.PartitionInflight
//     at a time, and at most Config.MaxInflight across the process; a slow message holds
//     one slot, not the partition, and a partition waiting for messages holds no process
//     slot. Process slots outlive generations: every one taken is given back, even by a
//     handler that finishes after its generation's drain deadline.
//   - Each group generation gets a goroutine per assigned partition and one committer.
//     When a generation ends (rebalance, shutdown), fetching stops, in-flight messages
//     drain for up to Config.DrainTimeout, the final watermark is committed synchronously,
//     and only then may the partition move to another member.
//   - A new group starts at the earliest offset; an existing group resumes at its
//     committed offsets. A message redelivered after a rebalance is handled again: the
//     Handler (its ledger) makes that harmless.
package consumer
