// Package consumer reads the rows topic as a member of a consumer group, hands every
// message to a Handler, keeps aside the messages whose destination cannot take them now,
// and commits offsets only behind messages that have an outcome.
//
// Lanes. Every partition interleaves many destinations. Each destination is a lane. A
// lane that cannot take calls (its destination paused, cooling down after 429s, or out
// of budget) holds back only its own messages: the Handler answers a *lane.Wait naming
// the lane instead of an outcome, and the message is deferred. A deferred message holds no slot, no goroutine and, past a bound, no body;
// other lanes' messages, and messages that need no call, flow at full speed meanwhile.
//
// Invariants (the README's "The consumer: what it promises and how"):
//   - An offset is committed only when every message below it in its partition has an
//     outcome: the committed offset is the partition's contiguous watermark and never
//     passes a message in flight or deferred. A deferred message has no outcome.
//   - Messages of one partition are handled concurrently, at most Config.PartitionInflight
//     at a time, and at most Config.MaxInflight across the process: MaxInflight workers,
//     goroutines that live as long as Run, take the dispatched messages one at a time.
//     Only messages being handled hold a worker; a fetcher waiting for messages holds
//     none, and every worker comes back, even from a handler that finishes after its
//     drain deadline. Dispatched messages no worker took yet are dropped, uncommitted,
//     when the generation ends.
//   - A lane, per partition, is open, closed until a time, or probing. Every arriving
//     message is handed to the Handler once (it answers a waiting lane from memory, and
//     dead-letters rows that need no call at once); at a closure's end one deferred
//     message probes the lane; the probe's outcome (or word
//     that another partition's probe worked) opens it, and its deferred messages are
//     handed over again, oldest first, as slots free. A Wait of the message's own
//     (lane.Retry) defers only that message until its time.
//   - Memory is bounded: the watermark costs one bit per offset between it and the last
//     fetched; a deferred message costs a heap entry (offset, due time, timestamp: about
//     32 bytes) and, while the process keeps fewer than Config.MaxDeferredBodies, its body.
//     A message without its body is read again from Kafka when its turn comes, in forward
//     passes of at most Config.RescanBatch messages per partition (so about two reads per
//     message). A message Kafka deleted meanwhile is counted lost and logged as an error.
//   - Nothing ages out silently: a message deferred longer than Config.DeferMaxAge (by its
//     Kafka timestamp) is handed to Handler.Expire (dead-lettered as deferred_expired),
//     before Kafka's retention can delete it.
//   - Each group generation gets a goroutine per assigned partition and one committer.
//     When a generation ends (rebalance, shutdown), fetching stops, in-flight messages
//     drain for up to Config.DrainTimeout, the final watermark is committed
//     synchronously, and only then may the partition move to another member. Deferred
//     messages are simply left behind the watermark: the next owner reads them again.
//   - A rebalance redoes bounded work: with Config.Progress, each partition records in
//     Redis (fenced by the generation) which offsets past the watermark are done, every
//     CommitInterval and at the generation's end; the next owner skips them, so it redoes
//     at most the last interval's outcomes (and re-reads the deferred messages), and a
//     bad row it skips is not dead-lettered twice.
//   - A new group starts at the earliest offset; an existing group resumes at its
//     committed offsets. A message redelivered after a rebalance is handled again: the
//     Handler (its ledger) makes that harmless.
//   - Metrics: invitepipe_deferred_messages and invitepipe_deferred_oldest_seconds per
//     destination, invitepipe_destination_waiting{destination,reason}, and
//     invitepipe_actionable_lag (messages this process can act on now: not fetched yet,
//     or fetched and neither done nor deferred), on which KEDA scales.
package consumer
