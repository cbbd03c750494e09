// Package ratelimit shares the call budgets of Trustpilot API keys and of destinations
// between every consumer replica through Redis, as sliding windows: Limit{Count: N,
// Window: W} means at most N calls in any window of length W, however the calls are
// spread over replicas (the README's consumer promises on budgets and retries).
//
// Trustpilot counts calls per API key, and one key often serves several destinations
// (business units). So a call counts against a Budget: its key's windows (KeyLimits),
// shared by every destination of the key, and its destination's own windows (Limits).
// A caller takes a slot with Acquire (one try) or Wait right before each call, reports
// every 429 with Throttled and every success with Recovered, and may impose a pause with
// Cooldown. Cool-downs, their escalation and the learned cap belong to the key.
//
// Invariants:
//   - Exact sliding windows, key and destination together. One Lua script per try reads
//     the Redis server clock (TIME), checks every window of the key, the key's learned cap
//     and cool-down, and every window of the destination, and takes the slot in the key's
//     log and in the destination's log, or in neither, atomically. So among any N+1 slots
//     of one key (of any of its destinations) under a key Limit{N, W}, and among any N+1
//     slots of one destination under its Limit{N, W}, the first and the last are at least
//     W+Margin apart on the Redis clock, whatever the number of replicas. (GCRA, as in
//     redis_rate, does not give this: with a burst of N it admits about 2N in one window.)
//   - Margin. Trustpilot counts a call when it arrives; the limiter, when the slot is taken.
//     If the delays from slot to arrival of two calls differ by less than Margin, their
//     arrivals are no closer than their slots minus Margin, so any N+1 arrivals are at least
//     W apart and no window of length W at Trustpilot holds N+1 calls. Default 250ms: far
//     above loopback and data-centre jitter and GC pauses; it costs Margin/W of the budget
//     (0.08% of a 5-minute window, 0.007% of an hour). Take the slot just before sending,
//     after any token mint, so that the delay stays short.
//   - Used as fully as allowed. A try that finds no room returns the exact time until the
//     oldest slot of the fullest window leaves it, the learned cap grows by one, or the
//     cool-down ends, whichever binds; Wait sleeps that long plus a random jitter below
//     Options.Jitter and tries again. A budget that always has callers waiting gets N
//     slots per W+Margin, minus the wake-up latency.
//   - Unlimited means no Redis. A Limit whose Count is Unlimited (1,000,000) or more is not
//     enforced: Acquire drops it before the script, whatever its Window. A Budget with no
//     enforced Limit left (Budget.Unlimited) gets 0 at once without a Redis call, so
//     neither the key's cool-down nor its learned cap holds it back: they act only
//     through the key's windows, and a key that must honour 429s needs one.
//   - Server clock only. Replicas never compare their own clocks. Slot times only grow: if
//     the Redis clock steps back, new slots are stamped just after the newest one of both
//     logs, which can only delay slots, never admit extra ones.
//   - No call without a decision. Every error means "do not call": ErrUnavailable when
//     Redis cannot serve for now (rediserr.Unavailable: network, timeout, failover,
//     LOADING, BUSY...; the caller retries later), ErrRedis when Redis answers an error
//     that needs an operator (NOAUTH, WRONGPASS, NOPERM, OOM, WRONGTYPE, a failing
//     script), ErrInvalid for bad arguments, ctx.Err() when the caller gives up. A try cut
//     short may have taken a slot that is then unused; the limiter errs towards fewer
//     calls, never more.
//   - Cool-downs belong to the key, apply to every replica and every destination of the
//     key, and only grow: a new cool-down that ends earlier than the current one changes
//     nothing. While one lasts, no slot of the key is taken.
//   - A success ends the escalation. A 429 without Retry-After outside a cool-down cools
//     the key down for Options.CooldownBase times 2^strikes (at most CooldownMax) and adds
//     a strike; Recovered, called after every 2xx, clears the strikes, so isolated 429s
//     (a success in between) always get CooldownBase and only 429s in a row escalate.
//     Strikes are also forgotten once CooldownMax has passed after a cool-down ended
//     (the replica that saw the 429 may never succeed on that key). Recovered costs no
//     Redis round trip unless this process reported a 429 on the key since its last
//     Recovered for it (an in-process set, guarded by a mutex); then one HDEL.
//   - Learned cap. When another application spends the same key, Trustpilot's real limit
//     is below KeyLimits and 429s come back after every cool-down; so the key learns a
//     cap, AIMD-style, from its own logs. Every 429 without Retry-After is recorded (also
//     those during a cool-down). At a 429 that starts a cool-down, with n the key's slots
//     and r its recorded 429s in the last CapWindow+Margin, the key counts as throttled
//     persistently when n >= 20, r >= 3 and either r >= n/20 (5% of its calls refused) or
//     this is the third 429 in a row with no success in between. Fewer than 20 calls say
//     too little about the limit (3 refused of 3 would cut it to 1, regained only after
//     an hour): the cool-downs alone hold such a key back, and a success restores it at
//     once. Then, and only then, the cap is
//     cut to c0 = max(1, floor(9/10 * (n-r))) at time t0, 9/10 of the calls Trustpilot
//     accepted -- unless a cap was cut less than CapWindow ago (it has not regained that
//     cut yet) and a success came since the last 429: such 429s answer the excess that
//     the last cut already removed, and cutting on each would compound.
//     A cap in force is one more limit on the key's log: at time t at most
//     floor(c0*(8+2^x)/9) slots in any CapWindow+Margin, x = (t-t0)/CapWindow. So it
//     regains the cut (10/9 of c0, about what was accepted) after one CapWindow, the
//     probe that finds out whether the squeeze is over, and grows ever faster after that:
//     +3/9 of c0 after two windows, +7/9 after three, doubling each window, so a deep cut
//     from a transient squeeze is undone within a few windows (from 1 to 1000 slots in
//     about 13). It is void 24 windows after its last cut (it is then above Unlimited).
//     Under a steady squeeze the key converges to 9/10 of what Trustpilot accepts and
//     probes back up to it each CapWindow; a probe costs a few 429s (3 in a row, or up to
//     5% of the window's calls when successes separate them) instead of one after every
//     cool-down. 429s that say nothing about the rate (Trustpilot answers some at random,
//     say 2% of calls) stay below the threshold and never cut the cap: cutting 9/10 on
//     each would ratchet the budget down to a fraction of itself. The price: random 429s
//     on 5% of calls or more look like a squeeze. Strikes and the cap are separate:
//     Recovered ends the escalation but leaves the cap to grow back.
//   - Fresh first. A backfill call (Budget.Backfill: a row of a backfill, weeks of orders
//     sent at the budget's pace) must not take the slots that today's rows wait for. So a
//     fresh call refused for want of a slot marks what refused it (the key, when its
//     windows, cap or cool-down bound; the destination, when its own windows did) for the
//     wait it was given plus Options.FreshGrace, and a backfill call takes no slot while
//     its key or its destination is marked: it is told to wait until the mark ends. Marks
//     only grow. Fresh calls that keep waiting keep the marks alive, so backfill calls get
//     only what fresh calls leave; with no fresh call waiting they use the whole budget.
//     The grace is the time a waiting fresh call has to come back for its slot (the
//     consumer hands its waiters over at once); one that comes later may find a backfill
//     call took it. A refused backfill call marks nothing.
//   - Fair shares. Destinations of one key (Budget.Shared) must not hold each other back:
//     first come, first served would let the one with the longest backlog take every slot
//     that frees, a whole window at a time. So a fresh call refused by the key (its windows,
//     cap or cool-down), whose destination's own windows would let it take the key's next
//     slot, marks its destination waiting for the wait it was given plus
//     Options.FreshGrace (marks only grow), and while other destinations of the key are
//     marked, a call takes at most its share of each key window in force (its count, or
//     the learned cap, divided among the destinations marked and itself, rounded up; its
//     slots are counted in its own log, which a sharing destination always keeps). Refused
//     for its share, it is told to wait until its slots fall below it or the first other
//     mark ends. A refusal for a share marks nothing, so a destination at its share never
//     keeps the others below theirs; backfill calls mark nothing either (they wait for
//     fresh ones anyway). The cost: a slot a waiting destination does not come back for
//     within the grace stays free that long. The key's windows and the destinations' own
//     hold as before: a share only refuses.
//   - Keys. Per API key K (Budget.Key, a hash of the key) and destination D:
//     "<KeyPrefix>{K}:log", a sorted set of the key's slots (scored in server
//     microseconds) over its longest window and at least CapWindow, plus Margin;
//     "<KeyPrefix>{K}:dest:D:log", the same for D's own windows, only when D has one or
//     shares the key (then over the key's windows too); "<KeyPrefix>{K}:waiting", a sorted
//     set of the logs of the key's destinations marked waiting, scored by the mark's end;
//     "<KeyPrefix>{K}:cooldown", a hash with the cool-down's end ("until", server
//     microseconds), the exponential steps ("strikes"), and the learned cap ("cap" = c0,
//     "cap_at" = t0 in server microseconds); "<KeyPrefix>{K}:refused", a sorted set of
//     the key's 429s without Retry-After over CapWindow plus Margin; "<KeyPrefix>{K}:fresh"
//     and "<KeyPrefix>{K}:dest:D:fresh", the fresh marks, strings that expire with the
//     mark. All carry the hash
//     tag {K}, so the scripts run on Redis Cluster. Each expires once it no longer
//     matters: a log after its longest window plus Margin, the cool-down CooldownMax
//     after it ends or 24 CapWindows after its cap's last cut, whichever is later.
//     Correctness never depends on expiry.
//   - Same limits everywhere. Every replica must pass the same KeyLimits for a key (for
//     every destination of it) and the same Limits for a destination, and use the same
//     KeyPrefix, Margin and CapWindow (they come from one activation file): a try forgets
//     the slots older than its own longest window.
//
// It needs Redis 5 or later (scripts replicate their effects, so a script may read TIME
// before writing).
package ratelimit
