package producer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/kafkaconn"
	"github.com/invitepipe/invitepipe/internal/row"
	"github.com/invitepipe/invitepipe/internal/source"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

// env is one test's topic, Redis and activation id.
type env struct {
	brokers    []string
	topic      string
	redis      *redis.Client
	activation string
	prefix     string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{brokers: testenv.Kafka(t), redis: testenv.RedisClient(t)}
	e.topic = testenv.UniqueName(t, "rows")
	e.activation = fmt.Sprintf("act-%08x", rand.Uint32())
	e.prefix = testenv.UniqueName(t, "producer") + ":"
	testenv.CreateTopic(t, e.brokers, e.topic, 3)
	return e
}

func (e *env) producer(t *testing.T, batch int) *Producer {
	t.Helper()
	w := NewWriter(&kafkaconn.Conn{Brokers: e.brokers}, e.topic, batch)
	t.Cleanup(func() { w.Close() })
	return &Producer{Redis: e.redis, Writer: w, KeyPrefix: e.prefix, BatchSize: batch, LockLease: 5 * time.Second}
}

func (e *env) job(src source.Source) Job {
	return Job{Activation: e.activation, PrimaryKey: "order_id", Source: src}
}

// stateLen is how many keys the activation's state holds.
func (e *env) stateLen(t *testing.T) int64 {
	t.Helper()
	n, err := NewState(e.redis, e.prefix, e.activation).Len(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// readTopic returns every message of the topic, decoded, checking each key.
func (e *env) readTopic(t *testing.T) []row.Message {
	t.Helper()
	ends := testenv.EndOffsets(t, &kafka.Client{Addr: kafka.TCP(e.brokers...)}, e.topic)
	var out []row.Message
	for p, end := range ends {
		if end == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: e.brokers, Topic: e.topic, Partition: p, MaxWait: 100 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("read partition %d: %v", p, err)
			}
			msg, err := row.Decode(m.Value)
			if err != nil {
				t.Fatalf("message at %d/%d does not decode: %v", p, m.Offset, err)
			}
			if want := msg.Activation + "/" + msg.RowID; string(m.Key) != want || msg.Activation != e.activation {
				t.Fatalf("message key %q, activation %q; want key %q for activation %q", m.Key, msg.Activation, want, e.activation)
			}
			if msg.EmittedAt.IsZero() {
				t.Fatalf("message %q has no emitted_at", m.Key)
			}
			out = append(out, msg)
			if m.Offset == end-1 {
				break
			}
		}
		cancel()
		r.Close()
	}
	return out
}

func rowIDs(msgs []row.Message) []string {
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.RowID
	}
	slices.Sort(ids)
	return ids
}

func ids(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("o-%d", i))
	}
	slices.Sort(out)
	return out
}

// growing is a source whose input grows to n rows (o-1 ... o-n) between runs.
type growing struct {
	name string
	make func(t *testing.T) (grow func(n int), src source.Source)
}

func fileSource(kind string) func(t *testing.T) (func(int), source.Source) {
	return func(t *testing.T) (func(int), source.Source) {
		dir := t.TempDir()
		path := filepath.Join(dir, "orders."+kind)
		grow := func(n int) {
			var b strings.Builder
			if kind == "csv" {
				b.WriteString("order_id,email,amount\n")
			}
			for i := 1; i <= n; i++ {
				if kind == "csv" {
					fmt.Fprintf(&b, "o-%d,c%d@example.com,\"1,%d\"\n", i, i, i)
				} else {
					fmt.Fprintf(&b, `{"order_id":"o-%d","email":"c%d@example.com","amount":1.%d0,"tags":["a"]}`+"\n", i, i, i)
				}
			}
			if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		spec := Spec{Type: kind, Path: "orders." + kind, PrimaryKey: "order_id", Mode: "diff"}
		src, err := spec.Open(dir, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return grow, src
	}
}

// pgTable creates a table of orders and returns a connection to fill it.
func pgTable(t *testing.T) (dsn, table string, conn *pgx.Conn) {
	t.Helper()
	dsn = testenv.PostgresURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	table = fmt.Sprintf("orders_%08x", rand.Uint32())
	if _, err := conn.Exec(ctx, "CREATE TABLE "+table+" (n int, order_id text, email text, amount numeric(8,2), placed timestamptz)"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Exec(context.Background(), "DROP TABLE "+table) })
	return dsn, table, conn
}

func pgSource(t *testing.T) (func(int), source.Source) {
	dsn, table, conn := pgTable(t)
	have := 0
	grow := func(n int) {
		for i := have + 1; i <= n; i++ {
			if _, err := conn.Exec(context.Background(), "INSERT INTO "+table+" VALUES ($1, $2, $3, $4, now())",
				i, fmt.Sprintf("o-%d", i), fmt.Sprintf("c%d@example.com", i), fmt.Sprintf("1.%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		have = n
	}
	spec := Spec{Type: "postgresql", Query: "SELECT order_id, email, amount, placed FROM " + table + " ORDER BY n", DSNEnv: "ORDERS_DSN", PrimaryKey: "order_id", Mode: "diff"}
	src, err := spec.Open("", func(string) (string, bool) { return dsn, true }, nil)
	if err != nil {
		t.Fatal(err)
	}
	return grow, src
}

func TestRunsEmitOnlyNewRows(t *testing.T) {
	for _, g := range []growing{{"csv", fileSource("csv")}, {"ndjson", fileSource("ndjson")}, {"postgresql", pgSource}} {
		t.Run(g.name, func(t *testing.T) {
			e := newEnv(t)
			p := e.producer(t, 2) // several batches per run
			grow, src := g.make(t)
			// The second run is a backfill: its rows, and only they, carry the priority.
			runs := []struct {
				rows        int
				wantEmitted int64
				backfill    bool
			}{{3, 3, false}, {5, 2, true}, {5, 0, false}}
			for i, r := range runs {
				grow(r.rows)
				job := e.job(src)
				job.Backfill = r.backfill
				sum := p.Run(context.Background(), job, false)
				if sum.Err != nil {
					t.Fatalf("run %d: %v", i+1, sum.Err)
				}
				if sum.Read != int64(r.rows) || sum.New != r.wantEmitted || sum.Emitted != r.wantEmitted || sum.Invalid != 0 || sum.Duplicates != 0 {
					t.Fatalf("run %d: %+v, want read %d, new and emitted %d", i+1, sum, r.rows, r.wantEmitted)
				}
				msgs := e.readTopic(t)
				if got, want := rowIDs(msgs), ids(1, r.rows); !slices.Equal(got, want) {
					t.Fatalf("after run %d the topic holds rows %v, want each of %v once", i+1, got, want)
				}
				if n := e.stateLen(t); n != int64(r.rows) {
					t.Fatalf("after run %d the state holds %d keys, want %d", i+1, n, r.rows)
				}
			}
			msgs := e.readTopic(t)
			for _, m := range msgs {
				if m.Row["email"].Kind != row.String || m.Row["amount"].Kind == row.Null {
					t.Fatalf("row %s lost columns: %+v", m.RowID, m.Row)
				}
				if want := m.RowID == "o-4" || m.RowID == "o-5"; m.Backfill != want {
					t.Fatalf("row %s: backfill %v, want %v (only the second run's rows)", m.RowID, m.Backfill, want)
				}
			}
		})
	}
}

func TestCrashBetweenAckAndAdvanceReemitsAndSkipsNothing(t *testing.T) {
	e := newEnv(t)
	grow, src := fileSource("csv")(t)
	grow(5)
	p := e.producer(t, 2)
	crash := errors.New("crash after the ack")
	p.afterAck = func(_ context.Context, batch int) error {
		if batch == 2 {
			return crash
		}
		return nil
	}
	sum := p.Run(context.Background(), e.job(src), false)
	if !errors.Is(sum.Err, crash) || sum.Emitted != 4 {
		t.Fatalf("crashed run: %+v, want the crash after 4 rows acknowledged", sum)
	}
	if n := e.stateLen(t); n != 2 {
		t.Fatalf("after the crash the state holds %d keys, want 2 (only the first batch advanced)", n)
	}
	p.afterAck = nil
	sum = p.Run(context.Background(), e.job(src), false)
	if sum.Err != nil || sum.Emitted != 3 {
		t.Fatalf("run after the crash: %+v, want rows o-3, o-4 (again) and o-5 emitted", sum)
	}
	sum = p.Run(context.Background(), e.job(src), false)
	if sum.Err != nil || sum.Emitted != 0 {
		t.Fatalf("third run: %+v, want nothing emitted", sum)
	}
	want := append(ids(1, 5), "o-3", "o-4")
	slices.Sort(want)
	if got := rowIDs(e.readTopic(t)); !slices.Equal(got, want) {
		t.Fatalf("topic rows %v, want %v (the unrecorded batch twice, nothing missing)", got, want)
	}
}

func TestOneRunAtATime(t *testing.T) {
	e := newEnv(t)
	grow, src := fileSource("csv")(t)
	grow(2)
	first := e.producer(t, 10)
	second := e.producer(t, 10)
	secondDone := make(chan Summary, 1)
	first.afterAck = func(ctx context.Context, _ int) error {
		// While the first run holds the lock, a second run of the activation starts.
		secondDone <- second.Run(ctx, e.job(src), false)
		return nil
	}
	sum := first.Run(context.Background(), e.job(src), false)
	if sum.Err != nil || sum.Emitted != 2 {
		t.Fatalf("first run: %+v, want 2 rows emitted", sum)
	}
	other := <-secondDone
	if !errors.Is(other.Err, ErrLocked) || other.Read != 0 || other.Emitted != 0 {
		t.Fatalf("second run during the first: %+v, want ErrLocked before reading anything", other)
	}
	// Once the first run ended, its lock is free.
	sum = second.Run(context.Background(), e.job(src), false)
	if sum.Err != nil || sum.Emitted != 0 || sum.Read != 2 {
		t.Fatalf("second run after the first: %+v, want 2 rows read, none new", sum)
	}
}

func TestFencedRunRecordsNothing(t *testing.T) {
	e := newEnv(t)
	grow, src := fileSource("csv")(t)
	grow(3)
	p := e.producer(t, 10)
	p.afterAck = func(ctx context.Context, _ int) error {
		// The lease expired and another run took the lock.
		return e.redis.Set(ctx, e.prefix+"{"+e.activation+"}:lock", "another-run", time.Minute).Err()
	}
	sum := p.Run(context.Background(), e.job(src), false)
	if !errors.Is(sum.Err, ErrFenced) {
		t.Fatalf("run that lost its lock: %+v, want ErrFenced", sum)
	}
	if n := e.stateLen(t); n != 0 {
		t.Fatalf("a fenced run advanced the state to %d keys", n)
	}
	if got, _ := e.redis.Get(context.Background(), e.prefix+"{"+e.activation+"}:lock").Result(); got != "another-run" {
		t.Fatalf("the fenced run released the other run's lock (lock now %q)", got)
	}
}

func TestDryRunAndReset(t *testing.T) {
	e := newEnv(t)
	grow, src := fileSource("ndjson")(t)
	grow(3)
	p := e.producer(t, 10)
	sum := p.Run(context.Background(), e.job(src), true)
	if sum.Err != nil || sum.New != 3 || sum.Emitted != 0 {
		t.Fatalf("dry run: %+v, want 3 new, none emitted", sum)
	}
	if n := e.stateLen(t); n != 0 {
		t.Fatalf("dry run changed the state: %d keys", n)
	}
	if got := e.readTopic(t); len(got) != 0 {
		t.Fatalf("dry run wrote %d messages", len(got))
	}
	slice := e.job(src)
	slice.Backfill, slice.Limit = true, 1
	if sum = p.Run(context.Background(), slice, false); sum.Emitted != 1 || sum.Held != 2 {
		t.Fatalf("backfill slice: %+v, want 1 emitted, 2 held", sum)
	}
	if err := p.Reset(context.Background(), e.activation); err != nil {
		t.Fatal(err)
	}
	if n := e.stateLen(t); n != 0 {
		t.Fatalf("after Reset the state holds %d keys", n)
	}
	if holding, err := NewState(e.redis, e.prefix, e.activation).Holding(context.Background()); err != nil || holding {
		t.Fatalf("after Reset Holding = %v, %v; want false", holding, err)
	}
	if sum = p.Run(context.Background(), e.job(src), false); sum.Emitted != 3 {
		t.Fatalf("run after Reset: %+v, want every row emitted again (none held)", sum)
	}
}

func TestBadInputIsCountedAndNeverRecorded(t *testing.T) {
	tests := []struct {
		name         string
		src          func(t *testing.T) source.Source
		wantRead     int64
		wantEmitted  int64
		wantInvalid  int64
		wantDups     int64
		wantProblems []string
		wantErr      string
	}{
		{
			name: "malformed csv lines, an empty key and duplicate keys",
			src: func(t *testing.T) source.Source {
				return fileWith(t, "csv", "order_id,email\no-1,a@example.com\no-2\n,c@example.com\no-1,d@example.com\no-3,\"e\n")
			},
			wantRead: 5, wantEmitted: 1, wantInvalid: 3, wantDups: 1,
			wantProblems: []string{"line 3, column 2: 1 fields, the header has 2", `orders.csv:4: primary key column "order_id" is empty`, "line 6, column"},
		},
		{
			name: "a missing key column",
			src: func(t *testing.T) source.Source {
				return fileWith(t, "ndjson", `{"id":"o-1"}`+"\n"+`{"order_id":"o-2"}`+"\n"+`{"order_id":null}`+"\nnot json\n")
			},
			wantRead: 4, wantEmitted: 1, wantInvalid: 3,
			wantProblems: []string{`orders.ndjson:1: primary key column "order_id" is missing`, `orders.ndjson:3: primary key column "order_id" is missing`, "line 4, column 2: not JSON"},
		},
		{
			name: "a query error after some rows emits them and records only them",
			src: func(t *testing.T) source.Source {
				dsn, table, conn := pgTable(t)
				for i := 1; i <= 4; i++ {
					if _, err := conn.Exec(context.Background(), "INSERT INTO "+table+" (n, order_id) VALUES ($1, $2)", i, fmt.Sprintf("o-%d", i)); err != nil {
						t.Fatal(err)
					}
				}
				return postgresqlSource(t, dsn, "SELECT order_id, 1/(3-n) AS boom FROM (SELECT * FROM "+table+" ORDER BY n) AS s")
			},
			wantRead: 2, wantEmitted: 2,
			wantErr: "postgresql: query: ERROR: division by zero",
		},
		{
			name: "an unreachable database",
			src: func(t *testing.T) source.Source {
				return postgresqlSource(t, "postgres://invitepipe:pw@127.0.0.1:1/invitepipe", "SELECT 1")
			},
			wantErr: "postgresql: connect (ORDERS_DSN)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			p := e.producer(t, 1) // one batch per row: a failure comes after earlier batches
			sum := p.Run(context.Background(), e.job(tt.src(t)), false)
			if tt.wantErr == "" && sum.Err != nil || tt.wantErr != "" && (sum.Err == nil || !strings.Contains(sum.Err.Error(), tt.wantErr)) {
				t.Fatalf("run error %v, want %q", sum.Err, tt.wantErr)
			}
			if sum.Read != tt.wantRead || sum.Emitted != tt.wantEmitted || sum.Invalid != tt.wantInvalid || sum.Duplicates != tt.wantDups {
				t.Fatalf("summary %+v, want read %d emitted %d invalid %d duplicates %d", sum, tt.wantRead, tt.wantEmitted, tt.wantInvalid, tt.wantDups)
			}
			if len(sum.Problems) != len(tt.wantProblems) {
				t.Fatalf("problems %q, want %q", sum.Problems, tt.wantProblems)
			}
			for i, w := range tt.wantProblems {
				if !strings.Contains(sum.Problems[i], w) {
					t.Errorf("problem %d: %q, want it to contain %q", i, sum.Problems[i], w)
				}
			}
			if n := e.stateLen(t); n != tt.wantEmitted {
				t.Fatalf("state holds %d keys, want exactly the %d emitted", n, tt.wantEmitted)
			}
			if got := len(e.readTopic(t)); int64(got) != tt.wantEmitted {
				t.Fatalf("topic holds %d messages, want %d", got, tt.wantEmitted)
			}
		})
	}
}

func fileWith(t *testing.T, kind, content string) source.Source {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "orders."+kind), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := Spec{Type: kind, Path: "orders." + kind, PrimaryKey: "order_id", Mode: "diff"}.Open(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func postgresqlSource(t *testing.T, dsn, query string) source.Source {
	t.Helper()
	spec := Spec{Type: "postgresql", Query: query, DSNEnv: "ORDERS_DSN", PrimaryKey: "order_id", Mode: "diff"}
	src, err := spec.Open("", func(string) (string, bool) { return dsn, true }, nil)
	if err != nil {
		t.Fatal(err)
	}
	return src
}
