package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/testenv"
)

// lockedBuffer collects a command's output while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// logLines returns the JSON log lines of out whose message is msg.
func logLines(out, msg string) []map[string]any {
	var lines []map[string]any
	for _, l := range strings.Split(out, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["message"] == msg {
			lines = append(lines, m)
		}
	}
	return lines
}

// scrape returns the value of each sample of /metrics at admin, by its text before the
// value (e.g. `invitepipe_producer_rows_total{activation="a",outcome="read"}`).
func scrape(t *testing.T, admin string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	samples := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if strings.HasPrefix(line, "#") || i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			samples[line[:i]] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return samples
}

// topicKeys returns the keys of every message of topic, sorted.
func topicKeys(t *testing.T, brokers []string, topic string) []string {
	t.Helper()
	var keys []string
	for p, end := range testenv.EndOffsets(t, &kafka.Client{Addr: kafka.TCP(brokers...)}, topic) {
		if end == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("read partition %d: %v", p, err)
			}
			keys = append(keys, string(m.Key))
			if m.Offset == end-1 {
				break
			}
		}
		cancel()
		r.Close()
	}
	slices.Sort(keys)
	return keys
}

func TestProduceSchedule(t *testing.T) {
	brokers := testenv.Kafka(t)
	redisURL := testenv.RedisURL(t)
	topic := testenv.UniqueName(t, "rows")
	testenv.CreateTopic(t, brokers, topic, 2)
	t.Setenv("INVITEPIPE_KAFKA_BROKERS", strings.Join(brokers, ","))
	t.Setenv("INVITEPIPE_KAFKA_TOPIC", topic)
	t.Setenv("INVITEPIPE_REDIS_URL", redisURL)
	t.Setenv("INVITEPIPE_ADMIN_ADDR", "127.0.0.1:0")

	id := fmt.Sprintf("orders-%08x", rand.Uint32())
	dir := t.TempDir()
	activations := filepath.Join(dir, "activations.yaml")
	file := strings.Replace(checkFile, "id: orders", "id: "+id, 1) +
		"    source: { type: csv, path: orders.csv }\n    schedule: 1s\n" +
		// An activation with a source and no schedule is left to --once.
		"  - id: once-only\n    destination: shop\n    invitation_type: service\n" +
		"    mapping: { consumer_name: name, consumer_email: email, reference_number: order_id }\n" +
		"    source: { type: csv, path: missing.csv }\n"
	if err := os.WriteFile(activations, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	// Written aside and renamed, so that a run never reads a half-written file.
	writeCSV := func(rows int) {
		t.Helper()
		var b strings.Builder
		b.WriteString("order_id,name,email\n")
		for i := 1; i <= rows; i++ {
			fmt.Fprintf(&b, "A-%d,N%d,n%d@example.com\n", i, i, i)
		}
		tmp := filepath.Join(dir, "orders.csv.tmp")
		if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "orders.csv")); err != nil {
			t.Fatal(err)
		}
	}
	writeCSV(2)

	started := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out lockedBuffer
	done := make(chan error, 1)
	go func() { done <- runProduce(ctx, []string{"--activations", activations}, &out) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("output:\n%s", out.String())
		}
	})

	var admin string
	testenv.WaitFor(t, 30*time.Second, "the producer to log its admin address", func() bool {
		select {
		case err := <-done:
			t.Fatalf("produce returned early: %v\n%s", err, out.String())
		default:
		}
		if lines := logLines(out.String(), "producing on schedule"); len(lines) > 0 {
			admin, _ = lines[0]["admin"].(string)
			if got := fmt.Sprint(lines[0]["activations"]); got != "["+id+"=1s]" {
				t.Fatalf("scheduled activations %s, want [%s=1s] (once-only has no schedule)", got, id)
			}
		}
		return admin != ""
	})
	sample := func(name, outcome string) string {
		if outcome == "" {
			return fmt.Sprintf("%s{activation=%q}", name, id)
		}
		return fmt.Sprintf("%s{activation=%q,outcome=%q}", name, id, outcome)
	}
	emitted, runs := sample("invitepipe_producer_rows_total", "emitted"), sample("invitepipe_producer_run_duration_seconds_count", "")
	waitMetric := func(what string, cond func(map[string]float64) bool) map[string]float64 {
		t.Helper()
		var m map[string]float64
		testenv.WaitFor(t, 30*time.Second, what, func() bool {
			m = scrape(t, admin)
			return cond(m)
		})
		return m
	}

	waitMetric("the first run to emit 2 rows", func(m map[string]float64) bool { return m[emitted] == 2 })
	writeCSV(3)
	m := waitMetric("a later run to emit the new row", func(m map[string]float64) bool { return m[emitted] >= 3 })
	after := m[runs]
	m = waitMetric("one more run", func(m map[string]float64) bool { return m[runs] > after })

	t.Run("rows were emitted once", func(t *testing.T) {
		want := []string{id + "/A-1", id + "/A-2", id + "/A-3"}
		if got := topicKeys(t, brokers, topic); !slices.Equal(got, want) {
			t.Errorf("topic holds %v, want each of %v once", got, want)
		}
	})
	t.Run("metrics count the runs", func(t *testing.T) {
		if m[runs] < 3 {
			t.Errorf("%s = %v, want at least 3 runs", runs, m[runs])
		}
		for outcome, want := range map[string]float64{"new": 3, "emitted": 3, "invalid": 0, "duplicate": 0} {
			if got, ok := m[sample("invitepipe_producer_rows_total", outcome)]; !ok || got != want {
				t.Errorf("rows_total{outcome=%q} = %v (exported: %v), want %v", outcome, got, ok, want)
			}
		}
		// Every run read the whole file: 2, then 3 rows each.
		if read := m[sample("invitepipe_producer_rows_total", "read")]; read < 2+3+3 {
			t.Errorf("rows_total{outcome=\"read\"} = %v, want at least 8 after 3 runs", read)
		}
		last := m[sample("invitepipe_producer_last_success_timestamp_seconds", "")]
		if last < float64(started.Unix()) || last > float64(time.Now().Unix()+1) {
			t.Errorf("last_success_timestamp = %v, want a time since the test started (%d)", last, started.Unix())
		}
		for k := range m {
			if strings.Contains(k, `activation="once-only"`) {
				t.Errorf("once-only, which has no schedule, ran: %s", k)
			}
		}
	})
	t.Run("readyz", func(t *testing.T) {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Ready  bool              `json:"ready"`
			Checks map[string]string `json:"checks"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || !body.Ready || body.Checks["redis"] != "ok" || body.Checks["kafka"] != "ok" {
			t.Errorf("/readyz = %d %+v, want 200 with redis and kafka ok", resp.StatusCode, body)
		}
	})
	t.Run("stops on cancel", func(t *testing.T) {
		cancel()
		select {
		case err := <-done:
			done <- err // for the cleanup
			if err != nil {
				t.Fatalf("produce returned %v after cancel, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("produce did not return within 10s of cancel")
		}
		if len(logLines(out.String(), "stopped cleanly")) != 1 {
			t.Error("no \"stopped cleanly\" log line")
		}
		if _, err := http.Get("http://" + admin + "/livez"); err == nil {
			t.Error("the admin server still answers after produce returned")
		}
	})
}

func TestProduceScheduleRefuses(t *testing.T) {
	dir := t.TempDir()
	base := strings.Replace(checkFile, "    mapping:", "    source: { type: csv, path: orders.csv }\n    mapping:", 1)
	tests := []struct {
		name, file string
		args       []string
		want       string
	}{
		{name: "no schedule", file: base, want: "no activation with a source has a schedule: add one (e.g. schedule: 15m)"},
		{name: "named activation without a schedule", file: base, args: []string{"--activation", "orders"}, want: "--activation orders: the activation has no schedule"},
		{name: "stdin", file: strings.Replace(base, "path: orders.csv }", "path: \"-\" }\n    schedule: 5m", 1), want: "can be read once only"},
		{name: "dry run without --once", file: base, args: []string{"--dry-run"}, want: "--dry-run needs --once"},
		{name: "backfill without --once", file: base, args: []string{"--backfill"}, want: "--backfill marks a --once run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml")
			if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			err := runProduce(context.Background(), append([]string{"--activations", path}, tt.args...), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// A tick that comes while the previous run still goes is skipped and logged; the next
// tick after the run ended starts one; loop returns once ctx ended and the run returned.
func TestScheduleSkipsTicksDuringARun(t *testing.T) {
	var log lockedBuffer
	s := &scheduler{log: zerolog.New(&log)}
	src := scheduledSource{sourceSpec: sourceSpec{id: "orders"}, every: 5 * time.Millisecond}
	started := make(chan int, 10)
	release := make(chan struct{})
	var mu sync.Mutex
	inRun, maxInRun, calls := 0, 0, 0
	run := func(ctx context.Context, _ scheduledSource) {
		mu.Lock()
		calls++
		inRun++
		maxInRun = max(maxInRun, inRun)
		n := calls
		mu.Unlock()
		started <- n
		if n == 1 {
			<-release // the first run lasts until the test saw ticks skipped
		} else {
			<-ctx.Done() // the second lasts until shutdown
		}
		mu.Lock()
		inRun--
		mu.Unlock()
	}
	ctx, cancel := context.WithCancel(context.Background())
	returned := make(chan struct{})
	go func() { s.loop(ctx, src, run); close(returned) }()

	if n := <-started; n != 1 {
		t.Fatalf("first call is number %d", n)
	}
	skipped := func() int { return len(logLines(log.String(), "the previous run is still going: this run is skipped")) }
	testenv.WaitFor(t, 10*time.Second, "two ticks skipped during the first run", func() bool { return skipped() >= 2 })
	close(release)
	select {
	case n := <-started:
		if n != 2 {
			t.Fatalf("call number %d after the first run ended, want 2", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no run started after the first one ended")
	}
	cancel()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("loop did not return after cancel")
	}
	mu.Lock()
	defer mu.Unlock()
	if maxInRun != 1 || inRun != 0 {
		t.Errorf("at most %d runs at once, %d still running after loop returned; want 1 and 0", maxInRun, inRun)
	}
	if calls != 2 {
		t.Errorf("%d runs, want 2 (every other tick was skipped)", calls)
	}
}
