package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/consumer"
	"github.com/invitepipe/invitepipe/internal/kafkaconn"
	"github.com/invitepipe/invitepipe/internal/metrics"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

const partitions = 3

// fastGroup keeps rebalances short in tests: the broker's minimum session timeout is 6s.
var fastGroup = consumer.Config{
	PartitionInflight: 8,
	MaxInflight:       16,
	CommitInterval:    100 * time.Millisecond,
	DrainTimeout:      3 * time.Second,
	SessionTimeout:    6 * time.Second,
	HeartbeatInterval: time.Second,
	RebalanceTimeout:  10 * time.Second,
	FetchMaxWait:      100 * time.Millisecond,
}

// fixture is a fresh topic and group on the real broker.
type fixture struct {
	t       *testing.T
	conn    *kafkaconn.Conn
	topic   string
	group   string
	client  *kafka.Client
	counter *handled
	// cfg configures the consumers started next; topic and group are filled in.
	cfg consumer.Config
}

func newFixture(t *testing.T) *fixture {
	brokers := testenv.Kafka(t)
	f := &fixture{t: t, conn: &kafkaconn.Conn{Brokers: brokers, Dialer: &kafka.Dialer{Timeout: 10 * time.Second}, Transport: &kafka.Transport{}},
		topic: testenv.UniqueName(t, "rows"), group: testenv.UniqueName(t, "group"), counter: newHandled(), cfg: fastGroup}
	testenv.CreateTopic(t, brokers, f.topic, partitions)
	f.client = &kafka.Client{Addr: kafka.TCP(brokers...), Transport: f.conn.Transport}
	return f
}

// produce writes n messages keyed row-0..row-n-1 and returns the end offset of each
// partition.
func (f *fixture) produce(n int) map[int]int64 {
	f.t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(f.conn.Brokers...), Topic: f.topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchSize: 500, BatchTimeout: 10 * time.Millisecond, Transport: f.conn.Transport}
	defer w.Close()
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: fmt.Appendf(nil, "row-%d", i), Value: fmt.Appendf(nil, `{"i":%d}`, i)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		f.t.Fatalf("produce: %v", err)
	}
	return testenv.EndOffsets(f.t, f.client, f.topic)
}

// committed returns the group's committed offset per partition (-1: none).
func (f *fixture) committed() map[int]int64 {
	return testenv.CommittedOffsets(f.client, f.group, f.topic, []int{0, 1, 2})
}

// waitCommitted waits until the group's commits reach ends on every partition.
func (f *fixture) waitCommitted(ends map[int]int64, within time.Duration) {
	f.t.Helper()
	testenv.WaitCommitted(f.t, f.client, f.group, f.topic, ends, within)
}

// start runs a consumer with h until the returned stop function is called; stop waits
// for Run to return and fails the test on an error.
func (f *fixture) start(h consumer.Handler) (stop func()) {
	stop, _ = f.startConsumer(h)
	return stop
}

// startConsumer is start that also returns the consumer.
func (f *fixture) startConsumer(h consumer.Handler) (stop func(), c *consumer.Consumer) {
	f.t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(f.t)).Level(zerolog.InfoLevel)
	cfg := f.cfg
	cfg.Topic, cfg.Group = f.topic, f.group
	c, err := consumer.New(f.conn, cfg, h, log, metrics.New("test"))
	if err != nil {
		f.t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					f.t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				f.t.Error("Run did not return within 30s of cancel")
			}
		})
	}
	f.t.Cleanup(stop)
	return stop, c
}

// handlerFunc is a Handler from a function; expiring is a test failure.
type handlerFunc func(ctx, draining context.Context, m kafka.Message) error

func (f handlerFunc) Handle(ctx, draining context.Context, m kafka.Message) error {
	return f(ctx, draining, m)
}
func (f handlerFunc) Expire(context.Context, kafka.Message, time.Duration) error {
	return errors.New("handlerFunc: no message should expire")
}

// handled counts, per key, how many times a message reached an outcome.
type handled struct {
	mu   sync.Mutex
	seen map[string]int
}

func newHandled() *handled { return &handled{seen: map[string]int{}} }

func (h *handled) add(key string) {
	h.mu.Lock()
	h.seen[key]++
	h.mu.Unlock()
}

func (h *handled) missing(n int) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for i := range n {
		if k := fmt.Sprintf("row-%d", i); h.seen[k] == 0 {
			out = append(out, k)
		}
	}
	return out
}

// workload handles messages concurrently with random durations, as calls to Trustpilot
// would take.
func (f *fixture) workload(maxDelay time.Duration) handlerFunc {
	return func(ctx, draining context.Context, m kafka.Message) error {
		select {
		case <-time.After(rand.N(maxDelay)):
		case <-ctx.Done():
			return ctx.Err()
		}
		f.counter.add(string(m.Key))
		return nil
	}
}

func TestConsumerCommitsEverythingHandled(t *testing.T) {
	f := newFixture(t)
	const n = 2000
	ends := f.produce(n)
	_, c := f.startConsumer(f.workload(5 * time.Millisecond))
	f.waitCommitted(ends, 60*time.Second)
	if m := f.counter.missing(n); len(m) > 0 {
		t.Fatalf("%d messages committed without being handled, e.g. %v", len(m), m[:min(5, len(m))])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if lag, err := c.Lag(ctx); err != nil || lag != 0 {
		t.Errorf("Lag = %d, %v after everything was committed; want 0", lag, err)
	}
}

// TestConsumerNeverCommitsPastAMessageWithoutOutcome holds one message in flight until
// the consumer stops: the commit must stop right below it, and a new consumer must get
// it again.
func TestConsumerNeverCommitsPastAMessageWithoutOutcome(t *testing.T) {
	f := newFixture(t)
	const n = 300
	ends := f.produce(n)
	var heldOffset, heldPartition = int64(-1), -1
	var mu sync.Mutex
	held := make(chan struct{})
	stop := f.start(handlerFunc(func(ctx, draining context.Context, m kafka.Message) error {
		if string(m.Key) == "row-7" {
			mu.Lock()
			heldOffset, heldPartition = m.Offset, m.Partition
			mu.Unlock()
			close(held)
			select { // no outcome until the consumer drains
			case <-draining.Done():
				return errors.New("abandoned at shutdown")
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		f.counter.add(string(m.Key))
		return nil
	}))
	<-held
	// Every other partition reaches its end; the held one stops at the held message.
	mu.Lock()
	want := map[int]int64{}
	for p, end := range ends {
		want[p] = end
	}
	want[heldPartition] = heldOffset
	mu.Unlock()
	f.waitCommitted(want, 60*time.Second)
	stop()
	if got := f.committed()[heldPartition]; got != heldOffset {
		t.Fatalf("after shutdown partition %d committed %d, want %d (the held message)", heldPartition, got, heldOffset)
	}
	// A new member resumes at the held message and finishes.
	f.start(f.workload(time.Millisecond))
	f.waitCommitted(ends, 60*time.Second)
	if m := f.counter.missing(n); len(m) > 0 {
		t.Fatalf("missing after restart: %v", m)
	}
}

// TestConsumerRebalance runs three members, stops one mid-stream and starts another:
// every message is handled and the commits reach the end.
func TestConsumerRebalance(t *testing.T) {
	f := newFixture(t)
	const n = 3000
	ends := f.produce(n)
	slow := f.workload(20 * time.Millisecond)
	stopA := f.start(slow)
	f.start(slow)
	f.start(slow)
	testenv.WaitFor(t, 30*time.Second, "a quarter of the messages handled", func() bool { return len(f.counter.missing(n)) <= n*3/4 })
	stopA()
	f.start(slow)
	f.waitCommitted(ends, 90*time.Second)
	if m := f.counter.missing(n); len(m) > 0 {
		t.Fatalf("%d messages lost in the rebalance, e.g. %v", len(m), m[:min(5, len(m))])
	}
}

// TestConsumerProcessSlots runs a member with few process slots through two generation
// ends (a second member joins, then leaves) and checks that it still handles everything.
// A process slot held by an idle partition, or not given back when a generation ends,
// stalls the member's other partitions for good.
func TestConsumerProcessSlots(t *testing.T) {
	for _, tc := range []struct {
		name string
		// maxInflight is the member's process-wide bound.
		maxInflight int
		// holdFirst, if set, is the key whose first delivery the handler holds past the
		// drain deadline, ignoring stop.
		holdFirst string
	}{
		// Caught up, every partition's fetcher waits for its next message.
		{name: "idle fetchers at the generation end", maxInflight: partitions},
		// One partition done early must not keep the slot the others need.
		{name: "fewer process slots than partitions", maxInflight: 1},
		// A handler that outlives the drain returns its slot after the generation ended.
		{name: "handler past the drain deadline", maxInflight: 1, holdFirst: "row-7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.cfg.MaxInflight = tc.maxInflight
			held := make(chan struct{})
			var once sync.Once
			work := f.workload(time.Millisecond)
			h := handlerFunc(func(ctx, draining context.Context, m kafka.Message) error {
				if string(m.Key) == tc.holdFirst {
					first := false
					once.Do(func() { first = true; close(held) })
					if first {
						<-ctx.Done()
						return ctx.Err()
					}
				}
				return work(ctx, draining, m)
			})
			ends := f.produce(30)
			f.start(h)
			if tc.holdFirst == "" {
				f.waitCommitted(ends, 60*time.Second)
				close(held)
			}
			<-held

			stopB, b := f.startConsumer(f.workload(time.Millisecond))
			testenv.WaitFor(t, 30*time.Second, "the second member to join", b.Joined)
			stopB()

			const n = 300
			ends = f.produce(n)
			f.waitCommitted(ends, 60*time.Second)
			if m := f.counter.missing(n); len(m) > 0 {
				t.Fatalf("%d messages committed without being handled, e.g. %v", len(m), m[:min(5, len(m))])
			}
		})
	}
}

func TestLagCountsUncommitted(t *testing.T) {
	f := newFixture(t)
	f.produce(120)
	cfg := fastGroup
	cfg.Topic, cfg.Group = f.topic, f.group
	c, err := consumer.New(f.conn, cfg, f.workload(time.Millisecond), zerolog.Nop(), metrics.New("test"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if lag, err := c.Lag(ctx); err != nil || lag != 120 {
		t.Errorf("Lag of a group without commits = %d, %v; want 120", lag, err)
	}
}
