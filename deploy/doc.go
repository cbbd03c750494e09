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
//   - KEDA watches the brokers, group and topic the consumer uses.
//   - The dashboard and the alerts use only metric names, labels and outcomes that
//     internal/metrics defines, and the dashboard shows every metric.
//   - The compose stack points the consumer at the sandbox with the sandbox's default
//     credentials and publishes ports on 127.0.0.1 only.
package deploy
