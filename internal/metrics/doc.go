// Package metrics defines invitepipe's Prometheus metrics on a registry of their own: the
// consumer's (Metrics) and the producer's (Producer, the invitepipe_producer_* series).
//
// Invariants:
//   - Metric names and labels are a contract for dashboards and alerts (the
//     README lists them, deploy/ uses them); they change only on purpose.
//   - No label ever carries a row id, an email or a reference number: label values are
//     outcomes, destination names, activation ids and HTTP status codes, a small fixed
//     set.
//   - Each Metrics and Producer has its own registry, so tests and several consumers or
//     producers in one process never share counters, and a producer exports no consumer
//     series (nor the reverse).
//   - invitepipe_producer_rows_total adds up the counts of the runs' summaries, one
//     outcome per count (read, new, emitted, invalid, duplicate); dry runs add nothing.
package metrics
