// Package embedded starts in-process stand-ins for Kafka (kfake, from franz-go) and
// Redis (miniredis) on loopback, so that `invitepipe demo` runs on a machine with
// neither, and fast unit tests of the demo need no service.
//
// Never in integration tests: those run against real Kafka and real Redis (package
// testenv), because the stand-ins only approximate them (kfake's replication and
// retention, miniredis's persistence, memory and clock are not the real ones).
//
// Invariants:
//   - Everything listens on 127.0.0.1 on a port the system picks, and only there.
//   - The Kafka stand-in has its topics created with the partitions asked for before
//     Kafka returns, so producers and consumers never race their creation.
//   - Close stops the stand-in and frees its port; its data is gone.
package embedded
