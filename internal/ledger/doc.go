// Package ledger is the consumer's Redis record of which reference numbers were sent to
// which Trustpilot business unit, so that no invitation is sent twice by invitepipe and
// an ambiguous send is visible instead of guessed (the README's consumer promises).
//
// # States and operations
//
// An entry, keyed by (business unit id, reference number), is absent, reserved by an
// owner until its lease ends, an unknown outcome (a reservation whose lease ended
// unconfirmed, or that was marked unknown), or confirmed. Every operation reads the entry
// and changes it atomically inside a Lua script call (EVALSHA); with Options.Batch the
// operations of concurrent callers share one call, each still atomic and answered as if
// alone:
//
//	found:        absent      confirmed   own reservation  other's live    unknown outcome
//	Reserve       Reserved    Duplicate   Reserved         Busy            UnknownOutcome
//	TakeOver      Reserved    Duplicate   Reserved         Busy            Reserved
//	Confirm       confirm*    -           confirm          confirm*        confirm*
//	Release       -           lost        delete           lost            lost
//	MarkUnknown   mark*       lost        mark             lost            -
//	Forget        -           lost        delete           lost            lost
//
// "-" changes nothing and returns nil; "lost" changes nothing and returns ErrLeaseLost;
// "*" changes the entry and returns ErrLeaseLost. The owner's own reservation counts as its own whether or not its lease
// ended, as long as nobody acted on it.
//
// # Invariants
//
//   - Nothing is sent without the ledger. Any error means: do not call Trustpilot and do
//     not dead-letter the message; back off and ask again. errors.Is(err,
//     ErrUnavailable) marks errors that heal by themselves (network, failover, LOADING,
//     READONLY, CLUSTERDOWN, TRYAGAIN, BUSY); the others (authentication, ACL, OOM)
//     need an operator.
//   - A confirmed reference stays confirmed: no operation deletes it or turns it back
//     into a reservation. It is forgotten at least Options.Retention and at most
//     Retention plus 30 days after its confirmation.
//   - A live reservation of another owner is never taken, released or marked. Only
//     Confirm overwrites it, because Confirm records an invitation that was sent.
//   - A reservation whose lease ended unconfirmed is kept, as an unknown outcome, until
//     Confirm, TakeOver (and then Forget) resolves it, or for the retention. It is never
//     silently treated as free.
//   - Leases run on the Redis server's clock (TIME inside the script), so all replicas
//     agree on them. This process's clock only picks which keys to send and may be off
//     by up to the layout's 30-day time slice; beyond that every call fails with
//     ErrClockSkew and writes nothing.
//   - Every operation is idempotent for its owner: repeating it after a lost reply (as
//     go-redis does on a network error) answers as the first call did or reports the
//     state the first call reached.
//   - All keys of one call on a Redis Cluster share one hash slot, so the ledger works
//     unchanged on a single server, Sentinel and Cluster (redis.UniversalClient). No
//     KEYS or SCAN is ever used.
//
// # How the consumer uses it
//
// Reserve before calling Trustpilot with an owner token unique to this attempt at this
// message (e.g. pod, partition, offset and a random part); Reserve again with the same
// owner. The consumer reserves first (so a duplicate spends no rate-limit slot), then
// takes a slot, and Releases at once when no slot is free: a reservation is held only
// for the slot's single try and the call, never while the message waits for its
// destination. Then, by the answer:
//
//   - Duplicate: the message's outcome is "duplicate"; commit it.
//   - Busy: another worker is sending this reference. Wait Result.Wait and Reserve
//     again; this is not a failure and does not use the retry budget.
//   - UnknownOutcome, policy resend: TakeOver and go on as after Reserved.
//   - UnknownOutcome, policy dlq: write the message to the DLQ with class
//     unknown_outcome and leave the entry as it is: every later message with the
//     reference (a replay, an upstream retry, a redelivery after a crash) meets the same
//     answer and is dead-lettered too, never sent. An operator who checked Trustpilot
//     and found no invitation clears the mark with TakeOver then Forget (any owner
//     token), and redrives the record.
//   - Reserved: call Trustpilot and act on the result as below.
//
// After the call:
//
//   - 2xx: Confirm; the outcome is "sent" even with ErrLeaseLost (log it). Retry
//     Confirm on ErrUnavailable until it succeeds.
//   - Certainly not created (429, 401/403/404, refused connection, failure before the
//     request was written): Release, then retry the message later.
//   - Ambiguous (timeout after the request was written, connection cut before the
//     answer, gateway 502/504): MarkUnknown, then retry the message later; the retry
//     meets UnknownOutcome and the policy decides.
//   - Rejected for good (400, 415): DLQ with class rejected, then Forget, so that the
//     fixed row can be sent.
//
// # Layout and size
//
// A reference's entry is a field of a Redis hash. Its key is
//
//	<KeyPrefix>{<business unit id>:<bucket>}:<epoch>
//
// where bucket is FNV-1a(reference) mod 1024 as 3 hex digits and epoch is the 30-day
// time slice (Unix time / 30 days) of the entry's last change. The field is the reference
// (or a 17-byte SHA-256 digest of one longer than 32 bytes); the value is empty when
// confirmed and "<lease end ms>:<owner>" when reserved (the owner, too, is digested past
// 40 bytes). Every key expires Retention after its epoch ends (PEXPIREAT), which bounds
// how long confirmed and abandoned entries live without per-field TTLs (HEXPIRE needs
// Redis 7.4; Debian 12 ships 7.0). A lookup reads the reference's bucket in each epoch
// the retention reaches (16 or 17 keys for 400 days, one spare on each side) inside the
// one script call. Confirm, Release, MarkUnknown and Forget follow the owner's Reserve,
// which moved the entry to the current epoch, so they first name only the recent
// epochs' keys (the next, the current and the previous) and every retained epoch's only
// when the entry is not there. The braces are the Cluster hash tag: one operation's keys
// share a slot, and a business unit's buckets spread over the cluster.
//
// Each bucket of an epoch holds about 1/1024 of the business unit's references of those
// 30 days, so up to about 520,000 references per business unit and epoch stay in
// Redis's compact listpack encoding (hash-max-listpack-entries 512, Redis 7's default).
// A listpack is scanned field by field, so a lookup's CPU grows with its bucket's fill:
// measured by `invitepipe bench` (BENCHMARKS.md), Redis CPU per invitation went from 31
// µs on an empty ledger to 56 µs once one business unit held 470,000 references (about
// 460 per bucket). A lower hash-max-listpack-entries (e.g. 128) trades memory for that
// CPU: buckets past it become hashtables (68 instead of 24 bytes per entry, below).
// Measured on Redis 7.0 with 100,000 confirmed 12-byte references
// (INVITEPIPE_MEASURE=1 go test -run TestMeasureMemory -v):
//
//	layout                                          bytes per entry (used_memory)
//	ledger, 1 business unit (98 per bucket)           24
//	ledger, 10 business units (10 per bucket)         34
//	ledger, 100 business units (1-2 per bucket)      106
//	ledger, 1 business unit, over the listpack limit  68 (hash-max-listpack-entries 64)
//	naive SET invitepipe:ledger:<bu>:<ref> ... EX    181
//
// Small business units pay the per-key overhead (about 100 bytes) per reference, but
// that is bounded by 1024 keys per business unit and epoch.
//
// # Redis CPU
//
// Reserve plus Confirm of a new reference is two operations. Alone, each is a script
// call, and the call costs Redis more than the commands it runs: on Redis 7.0, INFO
// commandstats gave 13.4 µs per EVALSHA under load, of which its HGET, HSET, PEXPIREAT
// and TIME took about 2. A batch (Options.Batch) pays that cost once for all its
// operations: `invitepipe bench` measured Redis CPU per invitation at 26 µs without and
// 15 µs with batching (BENCHMARKS.md). Batches need a client that reaches every key on
// one server (*redis.Client); on a Cluster a batch carries one hash tag's operations,
// and those of one bucket rarely meet.
//
// # Operating Redis for the ledger
//
// The ledger is as durable as Redis: use AOF persistence and a replica, and
// maxmemory-policy noeviction (every ledger key has a TTL, so a volatile-* policy would
// evict them as readily as allkeys-*). An evicted or lost key forgets sent references,
// and replaying the topic would then send them again. Redis 5 or later is required
// (scripts that read TIME replicate their effects); the tests run on 7.0.
package ledger
