// Package bench is `invitepipe bench`: a load run of the consumer against the in-process
// Trustpilot sandbox, with its cost per part, so a number measured on a shared machine
// can be read correctly.
//
// A run creates its own rows and dead-letter topics and consumer group, writes an
// activation file of D destinations and A activations (a mix of service, product and
// both), writes N row messages in the row.v1 format (with a share of exact duplicates of
// earlier rows and of bad rows), runs the consumer in this process or as R child
// processes (`invitepipe consume`), and has the sandbox answer with a latency drawn
// uniformly in [min, max], injected faults and a call budget per destination.
//
// Invariants:
//   - Correctness is checked, never assumed: a run ends only once the sandbox accepted
//     one invitation per valid row, the dead-letter topic holds one record per bad row
//     and the group has committed every row (so every duplicate was seen), bounded by
//     Options.Timeout; it waits on those conditions, never on a sleep. Report.Correct
//     is false, and Run returns ErrIncorrect, when the sandbox saw a reference twice.
//   - Timings are measurements, never asserted: they depend on the machine and on what
//     else runs on it. The CPU time of each part (consumer processes, Redis server,
//     Kafka broker, this process) is reported beside them for that reason.
//   - Each part's CPU time is read from /proc/<pid>/stat of the process that runs it:
//     the consumer processes over their whole life, the Redis server and the broker
//     (found by the loopback port they listen on) and this process over the measured
//     window, from the first row written to the last outcome. A part running in this
//     process (an embedded Kafka or Redis, an in-process consumer) is counted in this
//     process's line, not twice. A part on another host is not measured.
//   - Redis counts are of two kinds, named apart: the server's total_commands_processed
//     over the window (every command executed, those a Lua script runs included, and
//     any other client's of a shared server), and, for an in-process consumer only, the
//     client's own: round trips (a command or a pipeline) and commands sent.
//   - Secrets are made up per run; child processes get them through their environment,
//     the in-process consumer through its lookup function. They are never printed.
//   - References carry the run's id, so runs never see each other's rows, and the
//     consumer's ledger keeps them for a day by default (--ledger-retention), so runs
//     leave little behind in Redis.
package bench
