package producer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/source"
)

// t0 is the base of the tests' cursor timestamps.
var t0 = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

// cursorRun is one run of a cursor test and what it must do.
type cursorRun struct {
	name        string
	before      func(t *testing.T) // changes the source before the run
	since       time.Time
	limit       int64
	backfill    bool
	wantRead    int64
	wantSkipped int64
	wantEmitted []string // row ids, sorted by ids()
	wantCursor  string
	wantLimit   bool
	wantHeld    int64
}

// recorder is a Writer that remembers the row ids of the messages Kafka acknowledged.
type recorder struct {
	Writer
	ids []string
}

func (r *recorder) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	if err := r.Writer.WriteMessages(ctx, msgs...); err != nil {
		return err
	}
	for _, m := range msgs {
		_, id, _ := strings.Cut(string(m.Key), "/")
		r.ids = append(r.ids, id)
	}
	return nil
}

// runAll runs each step in turn, then checks that the topic holds each emitted row once.
func runAll(t *testing.T, e *env, p *Producer, job Job, runs []cursorRun) {
	t.Helper()
	rec := &recorder{Writer: p.Writer}
	p.Writer = rec
	var all []string
	for i, r := range runs {
		if r.before != nil {
			r.before(t)
		}
		rec.ids = nil
		j := job
		j.Since, j.Limit, j.Backfill = r.since, r.limit, r.backfill
		sum := p.Run(context.Background(), j, false)
		if sum.Err != nil {
			t.Fatalf("run %d (%s): %v", i+1, r.name, sum.Err)
		}
		got := slices.Sorted(slices.Values(rec.ids))
		want := slices.Sorted(slices.Values(r.wantEmitted))
		if !slices.Equal(got, want) || sum.Emitted != int64(len(want)) || sum.New != int64(len(want)) {
			t.Fatalf("run %d (%s): emitted %v (summary %+v), want %v", i+1, r.name, got, sum, want)
		}
		if sum.Read != r.wantRead || sum.Skipped != r.wantSkipped || sum.Cursor != r.wantCursor || sum.LimitReached != r.wantLimit || sum.Held != r.wantHeld || sum.Invalid != 0 {
			t.Fatalf("run %d (%s): %+v, want read %d, skipped %d, cursor %q, limit reached %v, held %d",
				i+1, r.name, sum, r.wantRead, r.wantSkipped, r.wantCursor, r.wantLimit, r.wantHeld)
		}
		all = append(all, want...)
	}
	slices.Sort(all)
	if got := rowIDs(e.readTopic(t)); !slices.Equal(got, all) {
		t.Fatalf("topic rows %v, want each of %v once", got, all)
	}
}

// stamp is t0 plus m minutes, as the state stores a timestamp cursor.
func stamp(m int) string { return t0.Add(time.Duration(m) * time.Minute).Format(time.RFC3339Nano) }

func TestCursorModePostgreSQL(t *testing.T) {
	e := newEnv(t)
	p := e.producer(t, 2) // several batches per run
	dsn, table, conn := pgTable(t)
	insert := func(c *pgx.Conn, id string, minutes int) func(t *testing.T) {
		return func(t *testing.T) {
			t.Helper()
			if _, err := c.Exec(context.Background(), "INSERT INTO "+table+" (order_id, placed) VALUES ($1, $2)", id, t0.Add(time.Duration(minutes)*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
	}
	steps := func(fs ...func(t *testing.T)) func(t *testing.T) {
		return func(t *testing.T) {
			for _, f := range fs {
				f(t)
			}
		}
	}
	// A second connection holds a transaction open across runs: its row commits late.
	late, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { late.Close(context.Background()) })
	var tx pgx.Tx
	spec := Spec{Type: "postgresql", DSNEnv: "ORDERS_DSN", PrimaryKey: "order_id", Mode: "cursor",
		Query:  "SELECT order_id, placed FROM " + table + " -- the wrapper starts its WHERE on a new line",
		Cursor: Cursor{Column: "placed", Kind: CursorTime, Lookback: 10 * time.Minute}}
	src, err := spec.Open("", func(string) (string, bool) { return dsn, true }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := src.(source.CursorReader); !ok {
		t.Fatalf("the postgresql source in cursor mode is a %T, not a source.CursorReader", src)
	}
	runAll(t, e, p, spec.Job(e.activation, src), []cursorRun{
		{
			name:     "a first run emits every row",
			before:   steps(insert(conn, "o-1", 0), insert(conn, "o-2", 1), insert(conn, "o-3", 2)),
			wantRead: 3, wantEmitted: []string{"o-1", "o-2", "o-3"}, wantCursor: stamp(2),
		},
		{
			name:   "a second run reads back over the look-back only and emits only the rows above the cursor",
			before: steps(insert(conn, "o-old", -30), insert(conn, "o-4", 3), insert(conn, "o-5", 4)),
			// placed >= 09:52: o-1 ... o-5; o-old is below the bound and not read.
			wantRead: 5, wantEmitted: []string{"o-4", "o-5"}, wantCursor: stamp(4),
		},
		{
			name: "a row whose transaction is still open is not visible yet",
			before: func(t *testing.T) {
				var err error
				if tx, err = late.Begin(context.Background()); err != nil {
					t.Fatal(err)
				}
				if _, err := tx.Exec(context.Background(), "INSERT INTO "+table+" (order_id, placed) VALUES ('o-late', $1)", t0.Add(5*time.Minute)); err != nil {
					t.Fatal(err)
				}
				insert(conn, "o-6", 6)(t)
			},
			wantRead: 6, wantEmitted: []string{"o-6"}, wantCursor: stamp(6),
		},
		{
			name: "the row committed late, inside the look-back window, is emitted once on the next run",
			before: func(t *testing.T) {
				if err := tx.Commit(context.Background()); err != nil {
					t.Fatal(err)
				}
			},
			// placed >= 09:56: o-1 ... o-6 and o-late.
			wantRead: 7, wantEmitted: []string{"o-late"}, wantCursor: stamp(6),
		},
		{
			name:     "a tie at the boundary is emitted once, the row at the cursor not again",
			before:   insert(conn, "o-tie", 6),
			wantRead: 8, wantEmitted: []string{"o-tie"}, wantCursor: stamp(6),
		},
		{
			name:     "nothing new: nothing repeated",
			wantRead: 8, wantCursor: stamp(6),
		},
	})
}

// cursorFile writes rows (id and cursor value) to a csv file with RFC 3339 timestamps in
// +02:00 (a cursor value m is t0 plus m minutes), or to an ndjson file with integers.
type cursorFile struct {
	kind   string
	cursor Cursor
	value  func(m int) string
	stored func(m int) string // the cursor as the state stores it
}

var cursorFiles = []cursorFile{
	{
		kind: "csv", cursor: Cursor{Column: "placed", Kind: CursorTime, Lookback: 2 * time.Minute},
		value: func(m int) string {
			return t0.Add(time.Duration(m) * time.Minute).In(time.FixedZone("", 2*3600)).Format(time.RFC3339)
		},
		stored: stamp,
	},
	{
		kind: "ndjson", cursor: Cursor{Column: "placed", Kind: CursorInt, LookbackCount: 2},
		value:  func(m int) string { return fmt.Sprint(m) },
		stored: func(m int) string { return fmt.Sprint(m) },
	},
}

type fileRow struct {
	id string
	m  int
}

func (f cursorFile) write(t *testing.T, dir string, rows ...fileRow) {
	t.Helper()
	var b strings.Builder
	if f.kind == "csv" {
		b.WriteString("order_id,placed\n")
	}
	for _, r := range rows {
		if f.kind == "csv" {
			fmt.Fprintf(&b, "%s,%s\n", r.id, f.value(r.m))
		} else {
			fmt.Fprintf(&b, `{"order_id":%q,"placed":%s}`+"\n", r.id, f.value(r.m))
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "orders."+f.kind), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (f cursorFile) open(t *testing.T) (dir string, job func(e *env) Job) {
	t.Helper()
	dir = t.TempDir()
	spec := Spec{Type: f.kind, Path: "orders." + f.kind, PrimaryKey: "order_id", Mode: "cursor", Cursor: f.cursor}
	src, err := spec.Open(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return dir, func(e *env) Job { return spec.Job(e.activation, src) }
}

func TestCursorModeFiles(t *testing.T) {
	for _, f := range cursorFiles {
		t.Run(f.kind, func(t *testing.T) {
			e := newEnv(t)
			p := e.producer(t, 2)
			dir, job := f.open(t)
			first := []fileRow{{"o-1", 1}, {"o-2", 2}, {"o-3", 3}}
			second := append(slices.Clone(first), fileRow{"o-0", 0}, fileRow{"o-late", 2}, fileRow{"o-4", 4})
			third := append(slices.Clone(second), fileRow{"o-tie", 4})
			runAll(t, e, p, job(e), []cursorRun{
				{
					name:     "a first run emits every row",
					before:   func(t *testing.T) { f.write(t, dir, first...) },
					wantRead: 3, wantEmitted: []string{"o-1", "o-2", "o-3"}, wantCursor: f.stored(3),
				},
				{
					name:   "rows below the look-back are skipped; a late row inside it is emitted",
					before: func(t *testing.T) { f.write(t, dir, second...) },
					// the bound is 3 less 2: o-0 is below it.
					wantRead: 6, wantSkipped: 1, wantEmitted: []string{"o-late", "o-4"}, wantCursor: f.stored(4),
				},
				{
					name:     "a tie at the boundary is emitted once",
					before:   func(t *testing.T) { f.write(t, dir, third...) },
					wantRead: 7, wantSkipped: 2, wantEmitted: []string{"o-tie"}, wantCursor: f.stored(4),
				},
				{
					name:     "nothing new: nothing repeated",
					wantRead: 7, wantSkipped: 2, wantCursor: f.stored(4),
				},
			})
			if n := e.stateLen(t); n != 6 {
				t.Fatalf("the state holds %d keys, want the 6 emitted (o-0 was never recorded)", n)
			}
		})
	}
}

func TestLimit(t *testing.T) {
	tests := []struct {
		name string
		job  func(t *testing.T, e *env) Job
		runs []cursorRun
	}{
		{
			name: "diff mode",
			job: func(t *testing.T, e *env) Job {
				grow, src := fileSource("csv")(t)
				grow(5)
				return e.job(src)
			},
			runs: []cursorRun{
				{name: "the first run stops at the limit", limit: 3, wantRead: 4, wantEmitted: ids(1, 3), wantLimit: true},
				{name: "the rest stay new", limit: 3, wantRead: 5, wantEmitted: ids(4, 5)},
				{name: "then nothing", limit: 3, wantRead: 5},
			},
		},
		{
			name: "cursor mode, postgresql in cursor order: the cursor stops at the last row emitted",
			job: func(t *testing.T, e *env) Job {
				dsn, table, conn := pgTable(t)
				for i := 1; i <= 5; i++ {
					if _, err := conn.Exec(context.Background(), "INSERT INTO "+table+" (order_id, placed) VALUES ($1, $2)", fmt.Sprintf("o-%d", i), t0.Add(time.Duration(6-i)*time.Minute)); err != nil {
						t.Fatal(err)
					}
				}
				spec := Spec{Type: "postgresql", DSNEnv: "ORDERS_DSN", PrimaryKey: "order_id", Mode: "cursor",
					Query: "SELECT order_id, placed FROM " + table, Cursor: Cursor{Column: "placed", Kind: CursorTime}}
				src, err := spec.Open("", func(string) (string, bool) { return dsn, true }, nil)
				if err != nil {
					t.Fatal(err)
				}
				return spec.Job(e.activation, src)
			},
			// o-5 is the oldest (t0+1m), o-1 the newest (t0+5m); a batch is 2 rows.
			runs: []cursorRun{
				{name: "the oldest two", limit: 2, wantRead: 4, wantEmitted: []string{"o-4", "o-5"}, wantCursor: stamp(2), wantLimit: true},
				{name: "the next two, read from the cursor", limit: 2, wantRead: 4, wantEmitted: []string{"o-2", "o-3"}, wantCursor: stamp(4), wantLimit: true},
				{name: "the last", limit: 2, wantRead: 2, wantEmitted: []string{"o-1"}, wantCursor: stamp(5)},
			},
		},
		{
			name: "cursor mode, a file newest first: the cursor waits until the file is through",
			job: func(t *testing.T, e *env) Job {
				f := cursorFiles[1] // ndjson, integers, look-back 2
				f.cursor.LookbackCount = 0
				dir, job := f.open(t)
				f.write(t, dir, fileRow{"o-5", 5}, fileRow{"o-4", 4}, fileRow{"o-3", 3}, fileRow{"o-2", 2}, fileRow{"o-1", 1})
				return job(e)
			},
			runs: []cursorRun{
				{name: "the newest two, the cursor unset", limit: 2, wantRead: 4, wantEmitted: []string{"o-4", "o-5"}, wantLimit: true},
				{name: "the next two, still unset", limit: 2, wantRead: 5, wantEmitted: []string{"o-2", "o-3"}, wantLimit: true},
				{name: "the last, and the cursor", limit: 2, wantRead: 5, wantEmitted: []string{"o-1"}, wantCursor: "5"},
				{name: "then only rows at the cursor are kept", limit: 2, wantRead: 5, wantSkipped: 4, wantCursor: "5"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			p := e.producer(t, 2)
			runAll(t, e, p, tt.job(t, e), tt.runs)
		})
	}
}

// TestBackfillHold runs limited backfill slices between scheduled runs: a slice holds the
// new rows its limit leaves, the scheduled runs skip them (in cursor mode keeping the
// cursor below them) while sending the rows that arrive meanwhile, and the next slices
// send the held rows, marked backfill, until one sends every new row and ends the hold.
func TestBackfillHold(t *testing.T) {
	t.Run("diff mode", func(t *testing.T) {
		e := newEnv(t)
		p := e.producer(t, 2)
		grow, src := fileSource("csv")(t)
		grow(5)
		runAll(t, e, p, e.job(src), []cursorRun{
			{name: "a slice holds what its limit leaves", backfill: true, limit: 2, wantRead: 5, wantEmitted: ids(1, 2), wantLimit: true, wantHeld: 3},
			{name: "a scheduled run skips the held rows", before: func(*testing.T) { grow(6) }, wantRead: 6, wantEmitted: ids(6, 6), wantHeld: 3},
			{name: "the next slice", backfill: true, limit: 2, wantRead: 6, wantEmitted: ids(3, 4), wantLimit: true, wantHeld: 1},
			{name: "still skipped", wantRead: 6, wantHeld: 1},
			{name: "a slice without a limit sends the rest", backfill: true, wantRead: 6, wantEmitted: ids(5, 5)},
			{name: "then scheduled runs send every new row", before: func(*testing.T) { grow(7) }, wantRead: 7, wantEmitted: ids(7, 7)},
		})
		checkPriorities(t, e, ids(1, 5), ids(6, 7))
		if holding, err := NewState(e.redis, e.prefix, e.activation).Holding(context.Background()); err != nil || holding {
			t.Errorf("Holding = %v, %v after a slice sent every new row; want false", holding, err)
		}
	})
	t.Run("cursor mode, postgresql in cursor order", func(t *testing.T) {
		e := newEnv(t)
		p := e.producer(t, 2)
		dsn, table, conn := pgTable(t)
		insert := func(i, minute int) {
			if _, err := conn.Exec(context.Background(), "INSERT INTO "+table+" (order_id, placed) VALUES ($1, $2)", fmt.Sprintf("o-%d", i), t0.Add(time.Duration(minute)*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		for i := 1; i <= 5; i++ {
			insert(i, 6-i) // o-5 is the oldest (t0+1m), o-1 the newest (t0+5m)
		}
		spec := Spec{Type: "postgresql", DSNEnv: "ORDERS_DSN", PrimaryKey: "order_id", Mode: "cursor",
			Query: "SELECT order_id, placed FROM " + table, Cursor: Cursor{Column: "placed", Kind: CursorTime}}
		src, err := spec.Open("", func(string) (string, bool) { return dsn, true }, nil)
		if err != nil {
			t.Fatal(err)
		}
		runAll(t, e, p, spec.Job(e.activation, src), []cursorRun{
			{name: "a slice: the oldest two, the rest held", backfill: true, limit: 2, wantRead: 5, wantEmitted: []string{"o-4", "o-5"}, wantCursor: stamp(2), wantLimit: true, wantHeld: 3},
			{name: "a scheduled run sends the new row, the cursor stays", before: func(*testing.T) { insert(6, 6) }, wantRead: 5, wantEmitted: []string{"o-6"}, wantCursor: stamp(2), wantHeld: 3},
			{name: "the next slice: the cursor stops before the row it holds", backfill: true, limit: 2, wantRead: 5, wantEmitted: []string{"o-2", "o-3"}, wantCursor: stamp(4), wantLimit: true, wantHeld: 1},
			{name: "a slice without a limit sends the last", backfill: true, wantRead: 3, wantEmitted: []string{"o-1"}, wantCursor: stamp(6)},
			{name: "then scheduled runs read from the newest row", wantRead: 1, wantCursor: stamp(6)},
		})
		checkPriorities(t, e, []string{"o-1", "o-2", "o-3", "o-4", "o-5"}, []string{"o-6"})
	})
}

// checkPriorities asserts that the topic holds the rows backfill marked as backfill rows
// and the rows fresh unmarked.
func checkPriorities(t *testing.T, e *env, backfill, fresh []string) {
	t.Helper()
	want := map[string]bool{}
	for _, id := range backfill {
		want[id] = true
	}
	for _, id := range fresh {
		want[id] = false
	}
	for _, m := range e.readTopic(t) {
		if isBackfill, ok := want[m.RowID]; !ok || m.Backfill != isBackfill {
			t.Errorf("row %s: backfill %v; want %v", m.RowID, m.Backfill, isBackfill)
		}
	}
}

func TestSince(t *testing.T) {
	since := t0.Add(2 * time.Minute)
	t.Run("csv: older rows are skipped and not recorded", func(t *testing.T) {
		e := newEnv(t)
		p := e.producer(t, 2)
		f := cursorFiles[0]
		dir, job := f.open(t)
		f.write(t, dir, fileRow{"o-1", 1}, fileRow{"o-2", 2}, fileRow{"o-3", 3}, fileRow{"o-4", 4})
		runAll(t, e, p, job(e), []cursorRun{
			{name: "since t0+2m", since: since, wantRead: 4, wantSkipped: 1, wantEmitted: ids(2, 4), wantCursor: stamp(4)},
		})
		seen, err := NewState(e.redis, e.prefix, e.activation).Seen(context.Background(), []uint64{Hash("o-1"), Hash("o-2")})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(seen, []bool{false, true}) {
			t.Fatalf("state holds o-1, o-2: %v, want only o-2 (o-1 skipped, never recorded)", seen)
		}
	})
	t.Run("postgresql: older rows are not read", func(t *testing.T) {
		e := newEnv(t)
		p := e.producer(t, 2)
		dsn, table, conn := pgTable(t)
		for i := 1; i <= 4; i++ {
			if _, err := conn.Exec(context.Background(), "INSERT INTO "+table+" (order_id, placed) VALUES ($1, $2)", fmt.Sprintf("o-%d", i), t0.Add(time.Duration(i)*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		spec := Spec{Type: "postgresql", DSNEnv: "ORDERS_DSN", PrimaryKey: "order_id", Mode: "cursor",
			Query: "SELECT order_id, placed FROM " + table, Cursor: Cursor{Column: "placed", Kind: CursorTime, Lookback: time.Hour}}
		src, err := spec.Open("", func(string) (string, bool) { return dsn, true }, nil)
		if err != nil {
			t.Fatal(err)
		}
		runAll(t, e, p, spec.Job(e.activation, src), []cursorRun{
			{name: "since t0+2m", since: since, wantRead: 3, wantEmitted: ids(2, 4), wantCursor: stamp(4)},
			// the look-back (1h) reaches below --since: --since still bounds the read.
			{name: "since again, nothing new", since: since, wantRead: 3, wantCursor: stamp(4)},
		})
		if n := e.stateLen(t); n != 3 {
			t.Fatalf("the state holds %d keys, want 3", n)
		}
	})
	tests := []struct {
		name    string
		cursor  Cursor
		wantErr string
	}{
		{name: "diff mode", wantErr: "--since needs mode: cursor"},
		{name: "an integer cursor", cursor: Cursor{Column: "id", Kind: CursorInt}, wantErr: `--since compares timestamps, and cursor column "id" holds integers`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			_, src := fileSource("csv")(t)
			job := e.job(src)
			job.Cursor, job.Since = tt.cursor, since
			sum := e.producer(t, 2).Run(context.Background(), job, false)
			if sum.Err == nil || !strings.Contains(sum.Err.Error(), tt.wantErr) || sum.Read != 0 {
				t.Fatalf("run: %+v, want %q before reading", sum, tt.wantErr)
			}
		})
	}
}

func TestProgress(t *testing.T) {
	e := newEnv(t)
	grow, src := fileSource("ndjson")(t)
	grow(3)
	p := e.producer(t, 10)
	var out strings.Builder
	p.Progress = &out
	if sum := p.Run(context.Background(), e.job(src), true); sum.Err != nil || sum.New != 3 {
		t.Fatalf("run: %+v", sum)
	}
	if !strings.Contains(out.String(), e.activation+": 0 new") || !strings.Contains(out.String(), "rows/s") {
		t.Fatalf("progress output %q, want the activation, its new rows and rows/s", out.String())
	}
}
