// Package metrics defines invitepipe's Prometheus metrics on a registry of their own.
//
// Invariants:
//   - Metric names and labels are a contract for dashboards and alerts (the
//     README lists them, deploy/ uses them); they change only on purpose.
//   - No label ever carries a row id, an email or a reference number: label values are
//     outcomes, destination names and HTTP status codes, a small fixed set.
//   - Each Metrics has its own registry, so tests and several consumers in one process
//     never share counters.
package metrics
