// Package csv is the producer's CSV source: one file, every file a glob matches (in
// lexical order), or standard input.
//
// Invariants:
//   - The first record of each file is its header: the column names, each non-empty and
//     unique, else the file is an error as a whole. A byte order mark before it is
//     skipped.
//   - Fields follow RFC 4180 (quoted fields may hold commas, quotes and line breaks).
//     Every value is a string, as written; an empty field is the empty string.
//   - A record with the wrong number of fields, a bad quote or invalid UTF-8 becomes a
//     source.Record with Err naming the file, the line and the column (1-based), and
//     reading goes on with the next record. An unterminated quoted field runs to the end
//     of the file, as RFC 4180 reads it: that is one error, at the line where it starts.
//   - One record is in memory at a time.
package csv
