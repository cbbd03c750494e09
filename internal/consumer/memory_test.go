package consumer_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/procstat"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

// TestMeasureDeferredMemory holds 1,000,000 rows of a paused destination (lane b) and
// 100,000 of a working one (lane a) on 6 partitions, then reports the process's memory
// while b's rows wait, and how long b takes to drain once it works (bodies read again
// from Kafka past the default 10,000 kept):
//
//	INVITEPIPE_MEASURE=1 go test -run TestMeasureDeferredMemory -v -timeout 30m ./internal/consumer
//
// It takes minutes, so it runs only when asked; BENCHMARKS.md has its numbers.
func TestMeasureDeferredMemory(t *testing.T) {
	testenv.Measure(t, "the memory of deferred rows")
	nb, na := 1_000_000, 100_000
	if n, err := strconv.Atoi(os.Getenv("INVITEPIPE_MEASURE_ROWS")); err == nil {
		nb, na = n, n/10
	}
	brokers := testenv.Kafka(t)
	f := newFixture(t)
	testenv.CreateTopic(t, brokers, f.topic+"-m", 6)
	f.topic += "-m"
	f.cfg.PartitionInflight, f.cfg.MaxInflight = 32, 256

	start := time.Now()
	ends := f.produceRows(na, nb)
	t.Logf("produced %d rows in %s", na+nb, time.Since(start).Round(time.Second))

	h := newLaneHandler(time.Second)
	_, c := f.startConsumer(h)
	start = time.Now()
	testenv.WaitFor(t, 20*time.Minute, "every row of b deferred and every row of a done", func() bool {
		once, _ := h.count(h.done, "a-")
		return once == na && c.Deferred() == nb
	})
	t.Logf("%d rows of a sent and %d of b deferred after %s", na, nb, time.Since(start).Round(time.Second))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("while %d rows wait: RSS %d MiB, Go heap in use %d MiB", nb, mib(t, "VmRSS"), ms.HeapInuse>>20)

	start = time.Now()
	h.open.Store(true)
	f.waitCommitted(ends, 30*time.Minute)
	d := time.Since(start)
	once, more := h.count(h.done, "b-")
	t.Logf("b drained in %s (%.0f rows/s): %d sent once, %d more often; peak RSS %d MiB", d.Round(time.Second), float64(nb)/d.Seconds(), once, more, mib(t, "VmHWM"))
	if once != nb || more != 0 {
		t.Errorf("lane b: %d once, %d more often; want %d and 0", once, more, nb)
	}
}

// produceRows writes na rows of lane a and nb of lane b, of a realistic size, in batches.
func (f *fixture) produceRows(na, nb int) map[int]int64 {
	f.t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(f.conn.Brokers...), Topic: f.topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
		BatchSize: 5000, BatchBytes: 8 << 20, BatchTimeout: 20 * time.Millisecond, Compression: kafka.Lz4, Transport: f.conn.Transport}
	defer w.Close()
	ctx := context.Background()
	batch := make([]kafka.Message, 0, 20000)
	flush := func() {
		if err := w.WriteMessages(ctx, batch...); err != nil {
			f.t.Fatalf("produce: %v", err)
		}
		batch = batch[:0]
	}
	for i := 0; i < nb; i++ {
		batch = append(batch, row("b", i))
		if i%10 == 0 && i/10 < na {
			batch = append(batch, row("a", i/10))
		}
		if len(batch) >= cap(batch)-1 {
			flush()
		}
	}
	flush()
	return testenv.EndOffsets(f.t, f.client, f.topic)
}

func row(lane string, i int) kafka.Message {
	key := fmt.Sprintf("%s-%d", lane, i)
	return kafka.Message{Key: []byte(key), Value: fmt.Appendf(nil,
		`{"activation":"orders-%s","row_id":%q,"emitted_at":"2026-11-25T10:00:00Z","row":{"order_id":%q,"name":"Ann Lee","email":"ann.lee@example.com","lang":"en-US","sku":"SKU-1","store":"berlin-mitte"}}`, lane, key, key)}
}

// mib reads a memory field of this process's /proc status ("VmRSS", "VmHWM"), in MiB.
func mib(t *testing.T, field string) int64 {
	n, err := procstat.Memory(os.Getpid(), field)
	if err != nil {
		t.Fatal(err)
	}
	return n >> 20
}
