// Package testenv connects integration tests to the real services that scripts/services
// runs on loopback: Apache Kafka, Redis and PostgreSQL.
//
// Invariants:
//   - A service is found only through its INVITEPIPE_TEST_* variable (printed by
//     `scripts/services env`), never through a default address.
//   - A service that is unset or does not accept a TCP connection within a few seconds fails
//     the test when CI=true (CI must run every test) and skips it otherwise, naming the
//     command that starts the services.
//   - Kafka's TLS listener is trusted only through the test CA file that KafkaTLS returns;
//     no system trusts it, so a client that ignores the file cannot connect.
//   - Names from UniqueName differ between tests and between runs, so tests can share one
//     broker, one Redis and one database without seeing each other's topics, groups or keys.
//   - A Redis from StartRedis belongs to one test: stopping it never disturbs the shared
//     Redis that other test packages use at the same time.
package testenv
