// Package dlq writes and reads dead-letter records (schemas/dlq.v1.md), and lists,
// selects and redrives them for `invitepipe dlq`.
//
// Invariants:
//   - A dead-letter record keeps the original record's key and value bytes unchanged, so
//     a redrive republishes exactly what the producer wrote; the original headers follow
//     invitepipe's own.
//   - Why it is there travels in headers: class, reason, attempts, source topic,
//     partition and offset, and the time it failed.
//   - Write returns only once every in-sync replica has the record (acks=all); until
//     then the consumer must not commit the source offset.
//   - Reasons never carry a secret, and emails in them are masked by the caller;
//     Record.Masked masks the key and value for printing.
//   - Read reads the topic from each partition's first offset to its end when it started,
//     then returns; it joins no consumer group and commits nothing. A Snapshot pins those
//     ends, so that reading it again reads the same messages.
//   - Nothing holds the records it reads: a redrive reads its Snapshot twice (Plan, then
//     Execute) and keeps counts, a sample of SampleSize and the ledger marks of its
//     unknown_outcome records, so its memory does not grow with the selection.
//   - A redrive writes each selected record back to the rows topic with its original key,
//     value and other headers, none of the dead-letter headers, and HeaderRedrive naming
//     the redrive; a redriven row that fails again keeps HeaderRedrive on its new record.
//   - A redrive never selects an unknown_outcome record without the operator's
//     acceptance (ErrPossibleDuplicates); with it, the record's ledger mark is cleared
//     (TakeOver, then Forget) before any row is written. It takes no rate-limit budget:
//     the consumer paces the redriven rows.
package dlq
