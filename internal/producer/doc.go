// Package producer runs activations' sources and emits, per run, only the rows that are
// new since the previous runs (mode diff, and mode cursor, which also bounds what is
// read), as row messages on the rows topic.
//
// Invariants:
//   - A row's identity is its primary key (source.primary_key, by default the column
//     mapped to reference_number), as text; its message has the key
//     "<activation>/<primary key>" and the value of schemas/row.v1.schema.json
//     ({"activation","row_id","emitted_at","row"}), written with acks from all in-sync
//     replicas and partitioned by murmur2 of the key, as Java clients partition.
//   - Insert-only: a key emitted once is never emitted again by diff, whatever its row
//     becomes. A key repeated within one run is emitted once and counted as a duplicate.
//     A record that is not a row, or a row whose key is missing or empty, is counted as
//     invalid, described (the first MaxProblems), and skipped; it is never in the state.
//   - The state advances only after Kafka acknowledged the batch: a crash in between
//     re-emits that batch on the next run (the consumer's ledger makes the copies
//     duplicates); no row is ever recorded without having been acknowledged, so none is
//     skipped. A dry run takes no lock, writes nothing and changes nothing.
//   - One run at a time per activation: a Redis lock (SET NX PX with a random token),
//     renewed every third of its lease. The script that advances the state checks the
//     token first (the fence), so a run whose lease expired and whose lock another run
//     took records nothing and stops with ErrFenced.
//   - State: per activation one Redis SET, "<prefix>{<activation>}:seen", of 8-byte
//     members, the xxHash64 of each emitted key; the lock is "<prefix>{<activation>}:lock"
//     (one hash tag: they live in one Redis Cluster slot, with the cursor and the held
//     set). None expires: forgetting the state, the cursor and the held set (Reset)
//     makes the next run emit every row again.
//   - Collisions: two distinct keys with one hash make the later one look emitted, so
//     it would be skipped. With N keys recorded, the chance that one given new key
//     collides is N/2^64 (5.4e-12 for N = 10^8), and the chance that any two of N keys
//     ever collide is at most N²/2^65 (2.7e-6 for N = 10^7, 2.7e-4 for N = 10^8): far
//     below the rate of rows lost upstream.
//   - Cursor mode reads only rows whose cursor column is at least the stored cursor less
//     the look-back (and at least Job.Since), then applies diff to them: a row that
//     became visible late, or ties the cursor, is emitted once if its value is within the
//     look-back; one older than that is never read. The cursor is the largest value of
//     the rows read that were emitted by this run or an earlier one; it is stored in
//     "<prefix>{<activation>}:cursor" by the same fenced script that records the run's
//     last batch, only after Kafka acknowledged it, and only when the run read its source
//     through (or, for a source in cursor order, up to Job.Limit): a run that failed, or
//     an unordered source stopped by the limit, leaves it where it was. It never moves
//     back. Rows below the bound, or without a usable cursor value (invalid), are never
//     recorded.
//   - Job.Limit caps the rows emitted by one run; the new rows after it stay unrecorded,
//     so the next run emits them. A limited backfill run (Job.Backfill) instead reads on
//     and holds them: it adds them to "<prefix>{<activation>}:held" in the fenced script
//     that records its batches, and every run that is not a backfill skips held rows
//     (Summary.Held) and, having skipped one, stores no cursor, so the rows stay above the
//     read bound. Backfill runs emit held rows like any new row and remove them from the
//     set; a backfill run that emits every new row of its source deletes it. A limit
//     also keeps the cursor below the first row it left: rows read after it, even rows
//     emitted before, do not move the cursor.
//   - Progress (Producer.Progress) is written only where the caller asks, never to logs.
//   - Memory: the state costs Redis about 56 bytes per key (a hashtable SET; measured as
//     used_memory growth for 1,000,000 keys). A run keeps the 8-byte hash of each
//     distinct key it read in a table at most half full (16 to 32 bytes per key,
//     keyset.go), for the duplicate count, and one batch of rows; never the whole input.
package producer
