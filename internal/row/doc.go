// Package row decodes row messages, the values of the records on the rows topic, as
// schemas/row.v1.schema.json defines them.
//
// Invariants:
//   - Decode accepts exactly the messages the schema accepts (with its date-time format
//     asserted), at most MaxMessageBytes long. It does not run a schema validator: it is
//     on the consumer's hot path, so it checks the contract directly, and a differential
//     test and a fuzzer hold it to the compiled schema. The one difference: emitted_at is
//     held to RFC 3339 itself, where the validator also lets signed fields such as
//     "T+1:00:00Z" through.
//   - Duplicate keys resolve as encoding/json resolves them, the last one wins, so Decode
//     and every JSON tool built on encoding/json read the same message.
//   - Unknown top-level fields are ignored (forward compatibility); unknown is anything
//     but activation, row_id, emitted_at and row, compared case-sensitively.
//   - A message Decode refuses yields a *MalformedError (dead-letter class "malformed")
//     that says what is wrong and where, e.g. "row.address: objects are not allowed".
//     It names fields and columns but never quotes a value, which could hold personal
//     data.
//   - A number keeps its JSON literal exactly as sent; Value.Decimal writes it as plain
//     decimal text, so 1.234000123e+09 and 1234000123.0 both read "1234000123".
//   - Decode never panics, whatever the bytes.
package row
