// Package kafkaconn turns the INVITEPIPE_KAFKA_* settings into kafka-go dialers and
// transports, so the consumer, the producer, the DLQ writer and the tools connect the same
// way.
//
// Invariants:
//   - TLS, when on, verifies the brokers' certificates (system roots or the configured CA
//     file); there is no switch to skip verification.
//   - SASL credentials are used only to build the mechanism; they are never logged or put
//     in an error.
package kafkaconn
