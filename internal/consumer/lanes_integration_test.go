package consumer_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/lane"
	"github.com/invitepipe/invitepipe/internal/progress"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

// laneHandler puts keys "a-..." in lane a and "b-..." in lane b. Lane b waits (Paused,
// retried every interval) until open is set; expired messages are counted apart.
type laneHandler struct {
	interval time.Duration
	open     atomic.Bool
	// ownFirst, when set, answers each message's first try with a Retry wait of its own.
	ownFirst bool

	mu      sync.Mutex
	done    map[string]int // key -> outcomes
	expired map[string]int // key -> expiries
	tries   map[string]int // lane -> Handle calls
	tried   map[string]bool
}

func newLaneHandler(interval time.Duration) *laneHandler {
	return &laneHandler{interval: interval, done: map[string]int{}, expired: map[string]int{}, tries: map[string]int{}, tried: map[string]bool{}}
}

func laneOf(m kafka.Message) string {
	name, _, _ := strings.Cut(string(m.Key), "-")
	return name
}

func (h *laneHandler) Handle(_, _ context.Context, m kafka.Message) error {
	name := laneOf(m)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tries[name]++
	if name == "b" && !h.open.Load() {
		return &lane.Wait{Lane: "b", Until: time.Now().Add(h.interval), Reason: lane.Paused}
	}
	if h.ownFirst && !h.tried[string(m.Key)] {
		h.tried[string(m.Key)] = true
		return &lane.Wait{Lane: name, Until: time.Now().Add(h.interval), Reason: lane.Retry}
	}
	h.done[string(m.Key)]++
	return nil
}

func (h *laneHandler) Expire(_ context.Context, m kafka.Message, _ time.Duration) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expired[string(m.Key)]++
	return nil
}

// count returns how many keys with prefix have exactly one outcome in m, and how many
// have more than one.
func (h *laneHandler) count(m map[string]int, prefix string) (once, more int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, n := range m {
		if strings.HasPrefix(k, prefix) {
			if n == 1 {
				once++
			} else {
				more++
			}
		}
	}
	return once, more
}

func (h *laneHandler) triesOf(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tries[name]
}

// produceLanes writes na messages of lane a and nb of lane b, interleaved (one a, then
// b's share), and returns the end offsets.
func (f *fixture) produceLanes(na, nb int) map[int]int64 {
	f.t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(f.conn.Brokers...), Topic: f.topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchSize: 1000, BatchTimeout: 10 * time.Millisecond, Transport: f.conn.Transport}
	defer w.Close()
	var msgs []kafka.Message
	for i := 0; i < max(na, nb); i++ {
		if i < nb {
			msgs = append(msgs, kafka.Message{Key: fmt.Appendf(nil, "b-%d", i), Value: []byte(`{}`)})
		}
		if i < na {
			msgs = append(msgs, kafka.Message{Key: fmt.Appendf(nil, "a-%d", i), Value: []byte(`{}`)})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		f.t.Fatalf("produce: %v", err)
	}
	return testenv.EndOffsets(f.t, f.client, f.topic)
}

// TestLaneHeldBackHoldsBackOnlyItsOwn: lane b waits with far more messages per partition
// than bodies kept in memory; every message of lane a reaches its outcome meanwhile, b's
// messages are handed to the handler once on arrival, then only as probes (not again and
// again while deferred), the commits stop
// below b's first message, and once b opens every b message gets exactly one outcome
// (read again from Kafka where its body was not kept).
func TestLaneHeldBackHoldsBackOnlyItsOwn(t *testing.T) {
	f := newFixture(t)
	f.cfg.MaxDeferredBodies = 100
	f.cfg.RescanBatch = 64
	const na, nb = 1500, 4500 // 1,500 of b per partition, 15 times the bodies kept
	ends := f.produceLanes(na, nb)
	h := newLaneHandler(200 * time.Millisecond)
	_, c := f.startConsumer(h)

	testenv.WaitFor(t, 60*time.Second, "every message of lane a handled", func() bool {
		once, _ := h.count(h.done, "a-")
		return once == na
	})
	testenv.WaitFor(t, 30*time.Second, "every message of lane b deferred", func() bool { return c.Deferred() == nb })
	triesWhileHeld := h.triesOf("b")
	for p, off := range f.committed() {
		if off >= ends[p] {
			t.Errorf("partition %d committed %d, its end, while lane b's messages wait", p, off)
		}
	}
	if _, more := h.count(h.done, "a-"); more > 0 {
		t.Errorf("%d messages of lane a had more than one outcome", more)
	}
	t.Logf("lane b: %d Handle calls for %d messages while held back (%d beyond one per arrival)", triesWhileHeld, nb, triesWhileHeld-nb)
	if triesWhileHeld-nb >= nb/10 {
		t.Errorf("lane b's messages were handed to the handler %d times while held back; deferred messages must wait without being tried", triesWhileHeld)
	}

	h.open.Store(true)
	f.waitCommitted(ends, 90*time.Second)
	once, more := h.count(h.done, "b-")
	if once != nb || more != 0 {
		t.Fatalf("lane b after it opened: %d messages with one outcome, %d with more; want %d and 0", once, more, nb)
	}
	t.Logf("lane b: %d Handle calls in all for %d messages", h.triesOf("b"), nb)
}

// TestLaneDeferredTooLongExpires: lane b never opens; past DeferMaxAge each of its
// messages is expired exactly once, none is handled, and the commits reach the end.
func TestLaneDeferredTooLongExpires(t *testing.T) {
	f := newFixture(t)
	f.cfg.DeferMaxAge = 2 * time.Second
	f.cfg.MaxDeferredBodies = 50 // most are read again to be expired
	const na, nb = 300, 600
	ends := f.produceLanes(na, nb)
	h := newLaneHandler(time.Hour)
	f.start(h)
	f.waitCommitted(ends, 60*time.Second)
	if once, more := h.count(h.expired, "b-"); once != nb || more != 0 {
		t.Errorf("lane b: %d expired once, %d more often; want %d and 0", once, more, nb)
	}
	if once, _ := h.count(h.done, "b-"); once != 0 {
		t.Errorf("%d of lane b's messages were handled; a lane that never opens sends nothing", once)
	}
	if once, _ := h.count(h.done, "a-"); once != na {
		t.Errorf("lane a: %d handled; want %d", once, na)
	}
}

// TestLaneOwnWaitHoldsOnlyTheMessage: every message first asks to be retried later
// (its own wait): each still gets exactly one outcome and the lane is never closed.
func TestLaneOwnWaitHoldsOnlyTheMessage(t *testing.T) {
	f := newFixture(t)
	const na = 600
	ends := f.produceLanes(na, 0)
	h := newLaneHandler(300 * time.Millisecond)
	h.ownFirst = true
	f.start(h)
	f.waitCommitted(ends, 60*time.Second)
	if once, more := h.count(h.done, "a-"); once != na || more != 0 {
		t.Errorf("%d handled once, %d more often; want %d and 0", once, more, na)
	}
	if got := h.triesOf("a"); got != 2*na {
		t.Errorf("%d Handle calls; want %d (each message twice: its own wait, then its outcome)", got, 2*na)
	}
}

// TestRetentionReadsTheTopic: the consumer reads the topic's retention.ms, from which the
// default INVITEPIPE_DEFER_MAX_AGE derives (scripts/services sets log.retention.hours=24).
func TestRetentionReadsTheTopic(t *testing.T) {
	f := newFixture(t)
	_, c := f.startConsumer(handlerFunc(func(context.Context, context.Context, kafka.Message) error { return nil }))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := c.Retention(ctx)
	if err != nil || got != 24*time.Hour {
		t.Errorf("Retention = %v, %v; want 24h (the test broker's)", got, err)
	}
}

// TestProgressBoundsTheWorkARebalanceRedoes: lane b waits, so the commits stay below
// its first message while all of lane a is done. A new member of the group (the first
// one stopped) handles only lane b's messages again, not lane a's: the done offsets past
// the committed one were recorded in Redis. Without the record it handles them all.
func TestProgressBoundsTheWorkARebalanceRedoes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		record     bool
		wantRedone func(redone, na int) bool
	}{
		{name: "with the record", record: true, wantRedone: func(redone, na int) bool { return redone == 0 }},
		{name: "without", record: false, wantRedone: func(redone, na int) bool { return redone > na/2 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.record {
				store, err := progress.New(testenv.RedisClient(t), time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				f.cfg.Progress = store
			}
			const na, nb = 600, 300
			ends := f.produceLanes(na, nb)
			first := newLaneHandler(time.Hour)
			stop, c := f.startConsumer(first)
			testenv.WaitFor(t, 60*time.Second, "lane a done and lane b deferred", func() bool {
				once, _ := first.count(first.done, "a-")
				return once == na && c.Deferred() == nb
			})
			stop()

			second := newLaneHandler(100 * time.Millisecond)
			second.open.Store(true)
			f.start(second)
			f.waitCommitted(ends, 60*time.Second)
			redone := second.triesOf("a")
			t.Logf("%s: %d of lane a's %d done messages handled again after the rebalance", tc.name, redone, na)
			if !tc.wantRedone(redone, na) {
				t.Errorf("%d of lane a's messages handled again", redone)
			}
			if once, _ := second.count(second.done, "b-"); once != nb {
				t.Errorf("lane b: %d handled by the new member; want %d", once, nb)
			}
		})
	}
}
