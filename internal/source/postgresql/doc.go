// Package postgresql is the producer's PostgreSQL source: the rows of one SQL query,
// streamed with pgx as the server sends them.
//
// Invariants:
//   - The connection string comes from the environment variable the activation names
//     (source.dsn_env), never from the activation file; errors never quote it.
//   - Rows are handed over as they arrive; only the current row is in memory.
//   - Values follow the row contract: SQL NULL is an absent column; smallint, integer,
//     bigint and numeric are json.Number with their exact decimal text (numeric keeps
//     its scale, e.g. 12.50); real and double precision are json.Number in the shortest
//     text that reads back the same; boolean is a bool; text, varchar, char, uuid and
//     enums are strings; timestamptz is RFC 3339 in UTC, timestamp (without time zone)
//     RFC 3339 as stored, with a Z; date is YYYY-MM-DD; text[] is a []string.
//   - A value with no JSON form (NaN, infinity, an array holding NULL) makes its row a
//     source.Record with Err naming the row's position and the column; reading goes on.
//     A column of a type with no mapping (bytea, json, ...) fails the query as a whole,
//     naming the column and its type: cast it in the query (e.g. payload::text).
//   - In cursor mode (NewCursor) the query is wrapped, never edited: SELECT * FROM
//     (<query>) AS invitepipe_source WHERE "<cursor column>" >= $1 ORDER BY "<cursor
//     column>", the bound always a bound parameter ($1), never text in the SQL. The query
//     must return the cursor column under that name and must not end with a semicolon.
//   - A connection or query failure ends Read with an error; rows read before it were
//     already handed over.
package postgresql
