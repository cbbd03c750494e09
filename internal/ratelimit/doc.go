// Package ratelimit shares each destination's call budgets between every consumer replica
// through Redis, as sliding windows: Limit{Count: N, Window: W} means at most N calls in any
// window of length W, however the calls are spread over replicas (DESIGN.md, consumer
// promises 6, 7 and 10).
//
// A caller takes a slot with Wait (or one try with Acquire) right before each call to
// Trustpilot, and reports a 429 with Throttled (or imposes a pause with Cooldown).
//
// Invariants:
//   - Exact sliding windows. One Lua script per try reads the Redis server clock (TIME),
//     checks every limit and the cool-down, and takes the slot or not, atomically. So among
//     any N+1 slots of one destination under Limit{N, W}, the first and the last are at
//     least W+Margin apart on the Redis clock, whatever the number of replicas. (GCRA, as in
//     redis_rate, does not give this: with a burst of N it admits about 2N in one window.)
//   - Margin. Trustpilot counts a call when it arrives; the limiter, when the slot is taken.
//     If the delays from slot to arrival of two calls differ by less than Margin, their
//     arrivals are no closer than their slots minus Margin, so any N+1 arrivals are at least
//     W apart and no window of length W at Trustpilot holds N+1 calls. Default 250ms: far
//     above loopback and data-centre jitter and GC pauses; it costs Margin/W of the budget
//     (0.08% of a 5-minute window, 0.007% of an hour). Take the slot just before sending,
//     after any token mint, so that the delay stays short.
//   - Used as fully as allowed. A try that finds no room returns the exact time until the
//     oldest slot of the fullest window leaves it (or the cool-down ends); Wait sleeps that
//     long plus a random jitter below Options.Jitter and tries again. A destination that
//     always has callers waiting gets N slots per W+Margin, minus the wake-up latency.
//   - Server clock only. Replicas never compare their own clocks. Slot times only grow: if
//     the Redis clock steps back, new slots are stamped just after the newest one, which
//     can only delay slots, never admit extra ones.
//   - No call without a decision. Every error means "do not call": ErrUnavailable when
//     Redis fails (the caller retries later), ErrInvalid for bad arguments, ctx.Err() when
//     the caller gives up. A try cut short may have taken a slot that is then unused; the
//     limiter errs towards fewer calls, never more.
//   - Cool-downs apply to every replica and only grow: a new cool-down that ends earlier
//     than the current one changes nothing. While one lasts, no slot is taken.
//   - Keys. Per destination D: "<KeyPrefix>{D}:log", a sorted set of the slots of the
//     longest window (plus Margin), and "<KeyPrefix>{D}:cooldown", a hash with the
//     cool-down's end ("until", server microseconds) and the count of exponential steps
//     ("strikes"). Both carry the hash tag {D}, so the scripts run on Redis Cluster. Both
//     expire once they no longer matter: the log after its longest window plus Margin, the
//     cool-down CooldownMax after it ends. Correctness never depends on expiry.
//   - Same limits everywhere. Every replica must pass the same limits for a destination
//     (they come from one activation file): a try forgets the slots older than its own
//     longest window.
//
// It needs Redis 5 or later (scripts replicate their effects, so a script may read TIME
// before writing).
package ratelimit
