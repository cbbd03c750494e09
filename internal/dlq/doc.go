// Package dlq writes and reads dead-letter records (schemas/dlq.v1.md).
//
// Invariants:
//   - A dead-letter record keeps the original record's key and value bytes unchanged, so
//     a redrive republishes exactly what the producer wrote; the original headers follow
//     invitepipe's own.
//   - Why it is there travels in headers: class, reason, attempts, source topic,
//     partition and offset, and the time it failed.
//   - Write returns only once every in-sync replica has the record (acks=all); until
//     then the consumer must not commit the source offset.
//   - Reasons never carry a secret, and emails in them are masked by the caller.
package dlq
