// Package ndjson is the producer's NDJSON source: one JSON object per line, from one
// file, every file a glob matches (in lexical order), or standard input.
//
// Invariants:
//   - Each non-blank line is one JSON object whose values follow the row contract:
//     strings, numbers (kept as json.Number, their exact text), booleans, null, and arrays
//     of strings. A null value is kept as null.
//   - A line that is not such an object (bad JSON, another type, a nested object, an
//     array holding a non-string, longer than MaxLine) becomes a source.Record with Err
//     naming the file, the line and the column (the byte offset, 1-based, for bad JSON;
//     the field's name otherwise), and reading goes on with the next line.
//   - A byte order mark before the first line is skipped. Blank lines are skipped.
//   - One line is in memory at a time.
package ndjson
