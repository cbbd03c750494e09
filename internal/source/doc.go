// Package source is what every producer source shares: a Record (one row, or why one
// line of the input is not a row), the Source interface that streams them, and the
// expansion of a file source's path (a file, a glob, or - for stdin).
//
// Invariants:
//   - A Source streams: it hands over one Record at a time through a callback and never
//     holds the whole input in memory.
//   - A row follows the row contract (schemas/row.v1.schema.json): each value is a
//     string, a json.Number (its exact text), a bool, nil, or a []string. A column whose
//     value is SQL NULL is absent.
//   - A line that is not a row is never dropped silently: it becomes a Record with Err
//     set, naming where it is (file, line and, when known, column), and reading goes on
//     with the next line. Only a problem with the input as a whole (a file that cannot be
//     opened, a failed query) ends Read with an error.
//   - Errors never quote the values of a row, only positions and column names.
//   - A CursorReader (the PostgreSQL source in cursor mode) returns only rows whose cursor
//     column is at least the bound it is given, in ascending cursor order; file sources
//     are not CursorReaders: the producer filters their rows itself.
package source
