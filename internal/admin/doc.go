// Package admin serves /livez, /readyz and /metrics for Kubernetes and Prometheus.
//
// Invariants:
//   - /livez answers 200 while the process can serve HTTP; it never checks Kafka, Redis
//     or Trustpilot, so a dependency outage never restarts healthy pods. (A consumer that
//     makes no progress while the group has lag stops itself: consumer.Watchdog.)
//   - /readyz answers 200 only when every readiness check passes and the process is not
//     draining; 503 otherwise. Its JSON body names each check's result and lists the
//     destinations paused as misconfigured (these do not make the pod unready: the
//     invitepipe_destination_paused metric alerts on them).
//   - /metrics exposes only the registry it was given.
package admin
