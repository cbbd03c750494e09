// Package rediserr tells the Redis errors that heal by themselves from those that need an
// operator, so that every package using Redis answers them alike: wait and retry the
// first, report the second.
//
// Invariants:
//   - Unavailable is true only for conditions Redis or the network recover from without a
//     change: the connection failed, was cut or timed out; the pool had no connection;
//     the server is loading its data, is a replica after a failover (READONLY), lost its
//     master (MASTERDOWN), its cluster is down or moving slots (CLUSTERDOWN, TRYAGAIN,
//     MOVED, ASK), it runs a long script (BUSY) or has too many clients.
//   - Everything else needs an operator: authentication and ACL (NOAUTH, WRONGPASS,
//     NOPERM), out of memory (OOM), a key of another type (WRONGTYPE), a failing script,
//     a closed client. Retrying does not help, so the caller must say so loudly.
//   - The caller's own cancellation is not unavailability: an error that wraps
//     context.Canceled is never Unavailable, whatever else it wraps. A deadline is
//     (Redis did not answer in time).
//   - It looks through wrapping (errors.Is, errors.As), so callers may classify their
//     own wrapped errors.
//   - It is a leaf: it imports only the standard library and go-redis.
package rediserr
