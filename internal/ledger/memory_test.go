package ledger_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/invitepipe/invitepipe/internal/ledger"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

// TestMeasureMemory measures what one confirmed reference costs in Redis, in the ledger's
// layout and in a naive layout of one string key per reference, on a private Redis:
//
//	INVITEPIPE_MEASURE=1 go test -run TestMeasureMemory -v ./internal/ledger
//
// It takes about a minute, so it runs only when asked.
func TestMeasureMemory(t *testing.T) {
	testenv.Measure(t, "the ledger's memory")
	r := testenv.StartRedis(t)
	opts, err := redis.ParseURL(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	opts.PoolSize = 16
	client := redis.NewClient(opts)
	defer client.Close()
	ctx := context.Background()

	const entries = 100_000
	ref := func(i int) string { return fmt.Sprintf("ORD-%08d", i) } // 12 bytes, like an order id
	businessUnit := func(i, units int) string { return fmt.Sprintf("507f191e810c19729de8%04x", i%units) }
	l, err := ledger.New(client, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	viaLedger := func(units int) func() {
		return func() {
			parallel(t, entries, func(i int) error {
				b, owner := businessUnit(i, units), "owner-"+strconv.Itoa(i)
				if _, err := l.Reserve(ctx, b, ref(i), owner); err != nil {
					return err
				}
				return l.Confirm(ctx, b, ref(i), owner)
			})
		}
	}
	layouts := []struct {
		name string
		// listpackEntries is hash-max-listpack-entries during the fill.
		listpackEntries string
		fill            func()
	}{
		{name: "ledger, 1 business unit", fill: viaLedger(1)},
		{name: "ledger, 1 business unit, hashtable buckets", listpackEntries: "64", fill: viaLedger(1)},
		{name: "ledger, 10 business units", fill: viaLedger(10)},
		{name: "ledger, 100 business units", fill: viaLedger(100)},
		{name: "naive SET per reference", fill: func() {
			parallel(t, entries, func(i int) error {
				key := "invitepipe:ledger:" + businessUnit(i, 1) + ":" + ref(i)
				return client.Set(ctx, key, "confirmed", ledger.DefaultRetention).Err()
			})
		}},
	}
	perEntry := map[string]float64{}
	for _, layout := range layouts {
		if err := client.FlushAll(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if layout.listpackEntries == "" {
			layout.listpackEntries = "128"
		}
		if err := client.ConfigSet(ctx, "hash-max-listpack-entries", layout.listpackEntries).Err(); err != nil {
			t.Fatal(err)
		}
		before := usedMemory(t, client)
		layout.fill()
		after := usedMemory(t, client)
		keys, usage, encodings := keyUsage(t, client)
		perEntry[layout.name] = float64(after-before) / entries
		t.Logf("%-44s %6.1f B/entry (INFO used_memory), %6.1f B/entry (sum of MEMORY USAGE), %d keys, encodings %v",
			layout.name, perEntry[layout.name], float64(usage)/entries, keys, encodings)
	}
	if ledgerCost, naive := perEntry["ledger, 1 business unit"], perEntry["naive SET per reference"]; ledgerCost*3 > naive {
		t.Errorf("ledger costs %.1f B/entry, naive %.1f: want at least 3 times less", ledgerCost, naive)
	}
}

// parallel runs do(0..n-1) on 16 goroutines, failing the test on the first error.
func parallel(t *testing.T, n int, do func(i int) error) {
	t.Helper()
	const workers = 16
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n && errs[w] == nil; i += workers {
				errs[w] = do(i)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// usedMemory returns INFO's used_memory.
func usedMemory(t *testing.T, client *redis.Client) int64 {
	t.Helper()
	info, err := client.Info(context.Background(), "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(info) {
		if value, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no used_memory in %q", info)
	return 0
}

// keyUsage returns the number of keys, the sum of their MEMORY USAGE and how many have
// each encoding.
func keyUsage(t *testing.T, client *redis.Client) (keys int, bytes int64, encodings map[string]int) {
	t.Helper()
	ctx := context.Background()
	encodings = map[string]int{}
	iter := client.Scan(ctx, 0, "*", 1000).Iterator()
	var batch []string
	flush := func() {
		if len(batch) == 0 {
			return
		}
		pipe := client.Pipeline()
		usage := make([]*redis.IntCmd, len(batch))
		encoding := make([]*redis.StringCmd, len(batch))
		for i, key := range batch {
			usage[i] = pipe.MemoryUsage(ctx, key, 0)
			encoding[i] = pipe.ObjectEncoding(ctx, key)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		for i := range batch {
			bytes += usage[i].Val()
			encodings[encoding[i].Val()]++
		}
		keys += len(batch)
		batch = batch[:0]
	}
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 1000 {
			flush()
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	flush()
	return keys, bytes, encodings
}
