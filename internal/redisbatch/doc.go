// Package redisbatch runs the Redis script calls of concurrent callers together, so that
// Redis pays a script call's fixed cost once for many operations (most of what a short
// script costs it) and the client pays one round trip.
//
// # Invariants
//
//   - No wait is added by default: an operation that finds no batch under way goes at
//     once; the ones that arrive meanwhile go together in the next batch, as soon as it
//     has answered. Options.Delay may hold a batch back that long for more.
//   - A batch carries at most Options.Max operations, which bounds how long one script
//     call holds Redis (it serves nothing else meanwhile).
//   - An operation whose caller's context ended before its batch went is not run; Do
//     returns the context's error. Once its batch went, Do waits for the answer, bounded
//     by the client's own timeouts, so a caller never misses a write its operation made.
//     The batch runs on a context of its own: one caller's end never fails the others.
//   - Operations that must share a Redis Cluster hash slot share a group (Options.Group);
//     a group is one script call, a batch's groups one pipeline (Eval).
//   - Each operation stays what the script makes it (atomic, if the script applies each
//     in turn): batching changes what shares a call, never what an operation does.
package redisbatch
