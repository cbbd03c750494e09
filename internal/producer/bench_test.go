package producer

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/procstat"
	"github.com/invitepipe/invitepipe/internal/source"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

// TestMeasureProducer measures two runs of the producer over a 1,000,000-row source, a
// CSV file and a PostgreSQL table: the first emits every row, the second none. For each it
// logs rows/s and the process's peak RSS (VmHWM, reset before each run) and peak Go heap,
// against the shared Kafka, Redis and PostgreSQL:
//
//	INVITEPIPE_MEASURE=1 CI=true go test -run TestMeasure -v -timeout 30m ./internal/producer/
//
// INVITEPIPE_MEASURE_ROWS changes the row count. It takes minutes, so it runs only when
// asked.
func TestMeasureProducer(t *testing.T) {
	testenv.Measure(t, "the producer")
	rows := 1_000_000
	if v := os.Getenv("INVITEPIPE_MEASURE_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("INVITEPIPE_MEASURE_ROWS=%q is not a positive count", v)
		}
		rows = n
	}
	t.Run("csv", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "orders.csv")
		start := time.Now()
		writeMeasureCSV(t, path, rows)
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("generated %d rows, %.1f MiB, in %s", rows, float64(info.Size())/(1<<20), time.Since(start).Round(time.Millisecond))
		spec := Spec{Type: "csv", Path: path, PrimaryKey: "order_id", Mode: "diff"}
		src, err := spec.Open("", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		measureRuns(t, src, rows)
	})
	t.Run("postgresql", func(t *testing.T) {
		dsn := testenv.PostgresURL(t)
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		table := testenv.UniqueName(t, "orders")
		table = "measure_" + strings.NewReplacer(".", "_", "-", "_").Replace(table)
		start := time.Now()
		if _, err := conn.Exec(ctx, `CREATE TABLE `+table+` AS
			SELECT n, 'ORD-' || lpad(n::text, 8, '0') AS order_id, 'Customer ' || n AS name,
			       'customer.' || n || '@example.com' AS email, (n % 100000) / 100.0 AS amount,
			       'en-GB' AS lang, timestamptz '2026-01-01' + n * interval '1 second' AS placed
			FROM generate_series(1, $1::int) AS n`, rows); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Exec(context.Background(), "DROP TABLE "+table) })
		t.Logf("generated %d rows with generate_series in %s", rows, time.Since(start).Round(time.Millisecond))
		spec := Spec{Type: "postgresql", Query: "SELECT order_id, name, email, amount, lang, placed FROM " + table, DSNEnv: "ORDERS_DSN", PrimaryKey: "order_id", Mode: "diff"}
		src, err := spec.Open("", func(string) (string, bool) { return dsn, true }, nil)
		if err != nil {
			t.Fatal(err)
		}
		measureRuns(t, src, rows)
	})
}

// writeMeasureCSV writes rows orders to path, as the PostgreSQL table holds them.
func writeMeasureCSV(t *testing.T, path string, rows int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "order_id,name,email,amount,lang,placed")
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for n := 1; n <= rows; n++ {
		fmt.Fprintf(w, "ORD-%08d,Customer %d,customer.%d@example.com,%d.%02d,en-GB,%s\n", n, n, n, (n%100000)/100, n%100,
			base.Add(time.Duration(n)*time.Second).Format(time.RFC3339))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// measureRuns runs the producer twice over src (rows rows) on a fresh topic and
// activation, with the default batch size, and logs what each run cost.
func measureRuns(t *testing.T, src source.Source, rows int) {
	t.Helper()
	e := newEnv(t)
	p := e.producer(t, DefaultBatchSize)
	t.Cleanup(func() {
		// Forget the 1,000,000-key state and drop the topic: the services are shared.
		if err := p.Reset(context.Background(), e.activation); err != nil {
			t.Logf("reset: %v", err)
		}
		client := &kafka.Client{Addr: kafka.TCP(e.brokers...), Timeout: 30 * time.Second}
		if _, err := client.DeleteTopics(context.Background(), &kafka.DeleteTopicsRequest{Topics: []string{e.topic}}); err != nil {
			t.Logf("delete topic %s: %v", e.topic, err)
		}
	})
	for i, wantNew := range []int64{int64(rows), 0} {
		runtime.GC()
		debug.FreeOSMemory()
		baseRSS := procStatus(t, "VmRSS")
		resetPeakRSS(t)
		heap := sampleHeap()
		sum := p.Run(context.Background(), e.job(src), false)
		peakHeap := heap()
		peakRSS := procStatus(t, "VmHWM")
		if sum.Err != nil {
			msg := sum.Err.Error()
			if len(msg) > 500 {
				msg = msg[:500] + "..."
			}
			t.Fatalf("run %d: %s", i+1, msg)
		}
		if sum.Read != int64(rows) || sum.New != wantNew || sum.Emitted != wantNew || sum.Invalid != 0 || sum.Duplicates != 0 {
			t.Fatalf("run %d: %+v; want read %d, new and emitted %d", i+1, sum, rows, wantNew)
		}
		state := e.stateLen(t)
		t.Logf("run %d (%s): read %d, new %d in %s: %.0f rows/s; RSS %.0f MiB before, peak %.0f MiB (+%.0f MiB, %.1f B/row); peak Go heap %.0f MiB; state %d keys",
			i+1, map[bool]string{true: "all new", false: "none new"}[wantNew > 0], sum.Read, sum.New, sum.Duration.Round(time.Millisecond), sum.RowsPerSecond(),
			mib(baseRSS), mib(peakRSS), mib(peakRSS-baseRSS), float64(peakRSS-baseRSS)/float64(rows), mib(peakHeap), state)
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// procStatus returns a memory field of this process's /proc status, in bytes.
func procStatus(t *testing.T, field string) int64 {
	t.Helper()
	n, err := procstat.Memory(os.Getpid(), field)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// resetPeakRSS resets VmHWM to the current RSS (Linux: "5" to /proc/self/clear_refs).
func resetPeakRSS(t *testing.T) {
	t.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("reset the peak RSS: %v", err)
	}
}

// sampleHeap samples the Go heap in use every 20 ms until the returned function is
// called, which returns the largest sample.
func sampleHeap() func() int64 {
	var peak atomic.Int64
	var wg sync.WaitGroup
	done := make(chan struct{})
	read := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		if v := int64(m.HeapInuse); v > peak.Load() {
			peak.Store(v)
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			read()
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		wg.Wait()
		read()
		return peak.Load()
	}
}
