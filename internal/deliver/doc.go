// Package deliver gives one row message its outcome: sent to Trustpilot exactly once,
// recognised as a duplicate, or dead-lettered with a reason. It is the consumer's
// Handler and keeps promises 2 to 7 of DESIGN.md's "Consumer semantics".
//
// Invariants:
//   - Trustpilot is called only while the reference number is reserved in the ledger
//     for this attempt; a 2xx is confirmed before the message counts as sent. Redis
//     unavailable means waiting, never sending without the ledger.
//   - A malformed message, an unknown activation or an invalid row is dead-lettered at
//     once, with no call and no retry.
//   - 400/415 dead-letter the row as rejected and forget its reservation, so a fixed row
//     can be redriven.
//   - 401 after a re-mint, 403 and 404 pause the destination: its messages are held (no
//     outcome, so not committed, not dead-lettered); one message probes it every probe
//     interval, and the first success resumes it.
//   - 429 and transient failures are retried with exponential backoff and full jitter,
//     honouring Retry-After; a 429 also cools the destination down for every replica.
//     Beyond the budget (attempts or elapsed time) the row is dead-lettered as
//     retries_exhausted.
//   - A call whose result is ambiguous (no complete answer, gateway 502/504) marks the
//     reference unknown; the unknown_outcome policy then decides, exactly as after a
//     crash: dlq (dead-letter as unknown_outcome and keep the mark, so no later message
//     with the reference is sent until an operator clears it) or resend.
//   - Every call waits for its destination's shared budget first, holding no
//     reservation while it waits: only a crash during the call itself leaves an unknown
//     outcome.
//   - Every wait that repeats (Redis unavailable, a reference Busy with another worker, a
//     failing dead-letter write) backs off exponentially up to the backoff cap; a Busy
//     holder is asked again before its lease ends, since it usually settles long before.
//     A Redis outage is logged once per message, not once per try.
//   - A dead-letter write that fails is retried; until it succeeds the message has no
//     outcome and its offset does not move.
package deliver
