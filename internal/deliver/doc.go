// Package deliver gives one row message its outcome: sent to Trustpilot exactly once,
// recognised as a duplicate, or dead-lettered with a reason. It is the consumer's
// Handler and keeps the promises of the README's "The consumer: what it promises and how".
//
// It never sleeps on a destination. Whatever keeps a message from its destination now
// (paused, cooling down, out of budget, or its own retry backoff) is answered as a
// *lane.Wait; the consumer keeps the message aside, holding nothing another destination
// needs, and hands it over again when the wait is over. Each destination's gate (gate.go)
// remembers its pause and its budget or cool-down hold in process, so a message of a
// waiting destination is answered without a Redis round trip.
//
// Invariants:
//   - Trustpilot is called only while the reference number is reserved in the ledger
//     for this attempt, and only with a slot of the budget (the API key's and the
//     destination's own, ratelimit.Budget); a 2xx is confirmed before the message counts
//     as sent. The reservation is taken first (a duplicate spends no budget) and released
//     when no slot is free: a waiting message holds no reservation, so only a crash
//     during the call itself leaves an unknown outcome. Redis unavailable means
//     waiting, never sending without the ledger.
//   - A malformed message, an unknown activation, an invalid row, or a row older than
//     its activation's max_age (stale) is dead-lettered at once, with no call and no
//     retry. Handler.Expire dead-letters a message deferred too long (deferred_expired).
//   - 400/415 dead-letter the row as rejected and forget its reservation, so a fixed row
//     can be redriven.
//   - 401 after a re-mint, 403 and 404 pause the destination: its messages wait (no
//     outcome, so not committed, not dead-lettered); one message probes it every probe
//     interval, and the first answer that is not a destination problem resumes it.
//   - 429 is the API key's condition, never the row's: it cools the key down for every
//     replica and every destination on it, and spends none of the row's retry budget. A
//     success ends the escalation of cool-downs.
//   - The row's own transient failures (5xx, timeouts, network) are retried with
//     exponential backoff and full jitter, honouring Retry-After, as a wait of the
//     message alone; its attempt count survives its waits (tries.go). Beyond the budget
//     (attempts or elapsed time from the first failure) it is dead-lettered as
//     retries_exhausted.
//   - A call whose result is ambiguous (no complete answer, gateway 502/504) marks the
//     reference unknown; the unknown_outcome policy then decides, exactly as after a
//     crash: dlq (dead-letter as unknown_outcome and keep the mark, so no later message
//     with the reference is sent until an operator clears it) or resend.
//   - A reference Busy with another worker is asked again before that worker's lease
//     ends, as a wait of the message alone. Redis outages and failing dead-letter writes
//     are waited out in place with backoff (they hold back every destination alike); a
//     Redis outage is logged once per message, not once per try.
//   - A dead-letter write that fails is retried; until it succeeds the message has no
//     outcome and its offset does not move.
package deliver
