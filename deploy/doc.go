// Package deploy holds no code: it is the home of the deployment files (Dockerfile,
// Kubernetes manifests, KEDA, the Grafana dashboard and the alerts) and of the test that
// keeps them consistent with the binary and with each other.
//
// Invariants, checked by deploy_test.go against the Go sources they depend on:
//   - Every YAML and JSON file under deploy/, and the root docker-compose.yml, parses.
//   - Every INVITEPIPE_* name they mention is a variable the binary reads
//     (internal/config's envconfig tags, or the sandbox's INVITEPIPE_SANDBOX_* ones).
//   - The consumer's probes hit /livez and /readyz on the admin port of
//     INVITEPIPE_ADMIN_ADDR; its pod is non-root with a read-only root filesystem, no
//     capabilities and the runtime's seccomp profile; its grace period outlasts the
//     consumer's shutdown (drain, final commit, leaving the group).
//   - Secrets reach the consumer only through the Secret, never in a ConfigMap or a
//     literal, and every credential variable the activation file names is set.
//   - KEDA scales on one Prometheus trigger, the sum of invitepipe_actionable_lag of the
//     consumer's scrape job, per replica: never on the group's Kafka lag, which rows
//     deferred for a waiting destination inflate. A missing answer is not zero.
//   - The dashboard, the alerts and the KEDA query use only metric names, labels and
//     label values (outcome, reason) that internal/metrics and internal/lane define, and
//     the dashboard shows every metric.
//   - The deferred-age alerts fire at 50% (warning) and 80% (critical) of the base's
//     INVITEPIPE_DEFER_MAX_AGE (0s: half of Kafka's default retention); lost deferred
//     rows and paused destinations are alerted on.
//   - The producer's CronJob runs a real subcommand and flags (produce --once), with
//     concurrencyPolicy Forbid, a few retries and a deadline before its next start; it
//     reads only variables of internal/config and the sources' dsn_env (from the
//     Secret), no Trustpilot credential, in a pod secured like the consumer's. Runs that
//     stop succeeding are alerted on (schedule mode's last-success metric per
//     activation; the CronJob's last successful time from kube-state-metrics).
//   - Every dead-letter class of internal/dlq is documented in schemas/dlq.v1.md and
//     named by the dead-letter alert.
//   - Every repository path the files name exists.
//   - The compose stack points the consumer at the sandbox with the sandbox's default
//     credentials and publishes ports on 127.0.0.1 only.
package deploy
