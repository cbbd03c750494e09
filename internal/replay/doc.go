// Package replay moves a consumer group's committed offsets on the rows topic, to read a
// window of rows again (back) or to skip rows (forward), and keeps the consumer's
// progress records (package progress) true for the new offsets.
//
// A replay is planned first: per partition, the committed offset, the target offset and
// the rows affected (read again when moving back; skipped when moving forward, with how
// many of those were never sent). Execute carries a plan out.
//
// Invariants:
//   - Never moves an active group: Execute refuses while the group has members or is in
//     any state but Empty (or Dead: no group yet), checked again just before it changes
//     anything, and the commit itself (generation -1, no member id) is one that the
//     broker accepts only for a group without members.
//   - Never skips unsent rows without being told to: a forward move over offsets that
//     the progress records do not show done (rows deferred for a waiting destination,
//     rows not handled yet) is refused unless SkipUnsent is set.
//   - Clears the progress records of every partition it moves, before committing: a
//     record left behind would make the next owner skip offsets it believes done. A
//     crash between the two leaves the offsets where they were and the records gone,
//     which costs only redone work (the ledger recognises rows already sent); running
//     the replay again completes it.
//   - Acts on the plan it printed: Execute refuses when the committed offsets changed
//     since the plan was made.
//   - Targets stay inside the log: an explicit offset outside [log start, log end] is
//     refused; a time maps to the first offset whose timestamp is at or after it (the log
//     end when there is none). A partition without a committed offset resumes where the
//     consumer would start it: the log start.
package replay
