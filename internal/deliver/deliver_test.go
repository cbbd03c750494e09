package deliver

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/destination"
	"github.com/invitepipe/invitepipe/internal/dlq"
	"github.com/invitepipe/invitepipe/internal/lane"
	"github.com/invitepipe/invitepipe/internal/ledger"
	"github.com/invitepipe/invitepipe/internal/metrics"
	"github.com/invitepipe/invitepipe/internal/ratelimit"
	"github.com/invitepipe/invitepipe/internal/sandbox"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

// fixture is a Handler wired to a sandbox and a Redis, with one activation "svc".
type fixture struct {
	h       *Handler
	sandbox *sandbox.Server
	metrics *metrics.Metrics
	log     *syncBuffer
}

// newFixture builds a Handler on the Redis of client with the given ledger lease; the
// sandbox takes latency to answer each invitation call.
func newFixture(t *testing.T, client redis.UniversalClient, lease, latency time.Duration) *fixture {
	t.Helper()
	return newFixtureWith(t, client, lease, latency, "")
}

// newFixtureWith is newFixture with extra YAML for the destination, e.g. a rate_limit.
func newFixtureWith(t *testing.T, client redis.UniversalClient, lease, latency time.Duration, extra string) *fixture {
	t.Helper()
	bu := strings.ReplaceAll(testenv.UniqueName(t, "bu"), ".", "-")
	cfg := sandbox.DefaultConfig()
	cfg.BusinessUnits = []sandbox.BusinessUnit{{ID: bu}}
	// A key of its own: budgets and cool-downs follow the API key, in the shared Redis.
	key := testenv.UniqueName(t, "key")
	cfg.Credentials = []sandbox.Credential{{APIKey: key, APISecret: sandbox.DefaultAPISecret}}
	cfg.RateLimits = nil
	cfg.Faults.LatencyMin, cfg.Faults.LatencyMax = latency, latency
	sb, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sb.Handler())
	t.Cleanup(func() { sb.Close(); ts.Close() })

	name := strings.ToLower(strings.NewReplacer(".", "-", "_", "-").Replace(testenv.UniqueName(t, "dest")))
	f, err := activation.Parse(fmt.Appendf(nil, `
destinations:
  - name: %s
    business_unit_id: %s
    credentials: { api_key_env: KEY, api_secret_env: SECRET, business_user_id_env: USER }
%s
activations:
  - id: svc
    destination: %s
    invitation_type: service
    mapping: { consumer_name: name, consumer_email: email, reference_number: order_id }
`, name, bu, extra, name))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"KEY": key, "SECRET": sandbox.DefaultAPISecret, "USER": sandbox.DefaultBusinessUserID}
	dests, err := destination.Build(f, config.Trustpilot{APIURL: ts.URL, InvitationsURL: ts.URL, RequestTimeout: 10 * time.Second},
		func(k string) (string, bool) { v, ok := vars[k]; return v, ok }, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.New(client, ledger.Options{Lease: lease})
	if err != nil {
		t.Fatal(err)
	}
	rl, err := ratelimit.New(client, ratelimit.Options{CooldownBase: 10 * time.Millisecond, CooldownMax: 40 * time.Millisecond, CapWindow: 50 * time.Millisecond, Margin: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{sandbox: sb, metrics: metrics.New("test"), log: &syncBuffer{}}
	fx.h, err = New(Config{
		UnknownOutcome: PolicyDLQ, Lease: lease, MaxAttempts: 5, MaxElapsed: time.Minute,
		Backoff: time.Millisecond, BackoffMax: 4 * time.Millisecond, ProbeInterval: 20 * time.Millisecond, Owner: "test",
	}, f, dests, l, rl, &noDeadLetters{t}, fx.metrics, zerolog.New(fx.log))
	if err != nil {
		t.Fatal(err)
	}
	return fx
}

// rowMessage is a valid row message of activation svc for reference ref at offset.
func rowMessage(ref string, offset int64) kafka.Message {
	return kafka.Message{Offset: offset, Key: []byte("svc/" + ref), Value: fmt.Appendf(nil,
		`{"activation":"svc","row_id":%q,"row":{"order_id":%q,"name":"Ann Lee","email":"ann@example.com"}}`, ref, ref)}
}

// settle hands msg to h as the consumer would: again and again while h answers a
// *lane.Wait (after the wait), until h gives an outcome or another error. waits, when
// not nil, receives every wait.
func settle(t *testing.T, h *Handler, ctx, draining context.Context, msg kafka.Message, waits chan<- *lane.Wait) error {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := h.Handle(ctx, draining, msg)
		w := lane.As(err)
		if w == nil {
			return err
		}
		if waits != nil {
			waits <- w
		}
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after a minute: %v", w)
		}
		if err := sleep(draining, time.Until(w.Until)); err != nil {
			return err
		}
	}
}

// A duplicate that meets the original's reservation asks again soon, not when the
// reservation's lease ends: with a one-hour lease both messages still finish at once.
func TestBusyReferenceIsAskedAgainBeforeTheLeaseEnds(t *testing.T) {
	fx := newFixture(t, testenv.RedisClient(t), time.Hour, 500*time.Millisecond)
	done := make(chan error, 2)
	for offset := range int64(2) {
		go func() {
			done <- settle(t, fx.h, context.Background(), context.Background(), rowMessage("R-1", offset), nil)
		}()
	}
	deadline := time.After(30 * time.Second)
	for range 2 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Handle = %v, want an outcome", err)
			}
		case <-deadline:
			t.Fatal("a message with the same reference as one in flight waited for the lease to end")
		}
	}
	if n := fx.sandbox.Stats().AcceptedInvitations; n != 1 {
		t.Errorf("sandbox accepted %d invitations, want 1", n)
	}
	sent := testutil.ToFloat64(fx.metrics.Messages.WithLabelValues(metrics.OutcomeSent))
	dup := testutil.ToFloat64(fx.metrics.Messages.WithLabelValues(metrics.OutcomeDuplicate))
	if sent != 1 || dup != 1 {
		t.Errorf("outcomes: %v sent, %v duplicate; want 1 and 1", sent, dup)
	}
}

// While Redis is down a message waits, without calling Trustpilot, and says so once
// however many times it asks.
func TestRedisOutageIsLoggedOncePerMessage(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there: every dial is refused
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1})
	defer client.Close()
	tries := &countingHook{}
	client.AddHook(tries)
	fx := newFixture(t, client, time.Minute, 0)

	draining, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fx.h.Handle(context.Background(), draining, rowMessage("R-1", 0)) }()
	testenv.WaitFor(t, 30*time.Second, "10 tries to reach Redis", func() bool { return tries.count() >= 10 })
	stop()
	if err := <-done; err == nil {
		t.Fatal("Handle = nil without Redis, want the message left without an outcome")
	}
	if n := strings.Count(fx.log.String(), "ledger unavailable"); n != 1 {
		t.Errorf("%d warnings about the ledger for %d tries, want 1:\n%s", n, tries.count(), fx.log.String())
	}
	if n := fx.sandbox.Stats().Calls[sandbox.ClassInvitations]; len(n) != 0 {
		t.Errorf("Trustpilot was called without the ledger: %v", n)
	}
}

// noDeadLetters fails the test on any dead letter.
type noDeadLetters struct{ t *testing.T }

func (d *noDeadLetters) Write(_ context.Context, r dlq.Record) error {
	d.t.Errorf("unexpected dead letter %s: %s", r.Class, r.Reason)
	return nil
}

// countingHook counts the commands sent to Redis, answered or not.
type countingHook struct {
	mu sync.Mutex
	n  int
}

func (h *countingHook) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.mu.Lock()
		h.n++
		h.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// recordedDeadLetters keeps the dead letters written.
type recordedDeadLetters struct {
	mu  sync.Mutex
	got []dlq.Record
}

func (d *recordedDeadLetters) Write(_ context.Context, r dlq.Record) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.got = append(d.got, r)
	return nil
}

func (d *recordedDeadLetters) records() []dlq.Record {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]dlq.Record(nil), d.got...)
}

// TestOutcomes drives one message through each kind of answer and checks its outcome,
// the dead letter (class and calls made), what the sandbox accepted, and the metric.
func TestOutcomes(t *testing.T) {
	tests := []struct {
		name      string
		value     string // the message; empty: a valid row of reference R-1
		forced    int    // status the sandbox answers every invitation call with (0: none)
		twice     bool   // handle the message a second time
		wantClass dlq.Class
		wantCalls int // calls recorded in the dead letter
		wantSent  int
		outcome   string
	}{
		{name: "sent", wantSent: 1, outcome: metrics.OutcomeSent},
		{name: "the same row again is a duplicate", twice: true, wantSent: 1, outcome: metrics.OutcomeDuplicate},
		{name: "malformed", value: `{"activation":`, wantClass: dlq.Malformed, outcome: metrics.OutcomeDLQ},
		{name: "unknown activation", value: `{"activation":"returns","row_id":"1","row":{}}`, wantClass: dlq.UnknownActivation, outcome: metrics.OutcomeDLQ},
		{name: "invalid row", value: `{"activation":"svc","row_id":"1","row":{"order_id":"A#1","name":"N","email":"n@example.com"}}`, wantClass: dlq.InvalidRow, outcome: metrics.OutcomeDLQ},
		{name: "rejected by Trustpilot", forced: 400, wantClass: dlq.Rejected, wantCalls: 1, outcome: metrics.OutcomeDLQ},
		{name: "server errors exhaust the retry budget", forced: 500, wantClass: dlq.RetriesExhausted, wantCalls: 5, outcome: metrics.OutcomeDLQ},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, testenv.RedisClient(t), time.Minute, 0)
			dead := &recordedDeadLetters{}
			fx.h.dead = dead
			bu := fx.h.activations["svc"].dest.BusinessUnitID
			if tt.forced != 0 {
				if err := fx.sandbox.SetFaults(sandbox.Faults{Forced: map[string]sandbox.ForcedStatus{bu: {Status: tt.forced}}}); err != nil {
					t.Fatal(err)
				}
			}
			msg := rowMessage("R-1", 0)
			if tt.value != "" {
				msg.Value = []byte(tt.value)
			}
			for range 1 + btoi(tt.twice) {
				if err := settle(t, fx.h, context.Background(), context.Background(), msg, nil); err != nil {
					t.Fatalf("Handle: %v", err)
				}
			}
			got := dead.records()
			switch {
			case tt.wantClass == "" && len(got) != 0:
				t.Errorf("dead letters %+v, want none", got)
			case tt.wantClass != "" && (len(got) != 1 || got[0].Class != tt.wantClass || got[0].Attempts != tt.wantCalls):
				t.Errorf("dead letters %+v, want one of class %s after %d call(s)", got, tt.wantClass, tt.wantCalls)
			case tt.wantClass != "" && (string(got[0].Source.Value) != string(msg.Value) || got[0].Reason == ""):
				t.Errorf("dead letter %+v lost the original value or the reason", got[0])
			}
			if n := len(fx.sandbox.Invitations(bu, "")); n != tt.wantSent {
				t.Errorf("sandbox accepted %d invitations, want %d", n, tt.wantSent)
			}
			if v := testutil.ToFloat64(fx.metrics.Messages.WithLabelValues(tt.outcome)); v != 1 {
				t.Errorf("invitepipe_messages_total{outcome=%q} = %v, want 1", tt.outcome, v)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestPausedDestinationHoldsWithoutSpendingTheBudget: a 403 pauses the destination and
// holds the message (no dead letter) however many probes fail; once the destination
// answers again, the retry budget is whole.
func TestPausedDestinationHoldsWithoutSpendingTheBudget(t *testing.T) {
	fx := newFixture(t, testenv.RedisClient(t), time.Minute, 0)
	dead := &recordedDeadLetters{}
	fx.h.dead = dead
	bu := fx.h.activations["svc"].dest.BusinessUnitID
	dest := fx.h.activations["svc"].dest.Name
	force := func(status, code int) {
		t.Helper()
		if err := fx.sandbox.SetFaults(sandbox.Faults{Forced: map[string]sandbox.ForcedStatus{bu: {Status: status, ErrorCode: code}}}); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(status int) int { return fx.sandbox.Stats().Calls[sandbox.ClassInvitations][status] }
	force(403, 1014)
	done := make(chan error, 1)
	go func() {
		done <- settle(t, fx.h, context.Background(), context.Background(), rowMessage("R-1", 0), nil)
	}()
	testenv.WaitFor(t, 30*time.Second, "more failed probes than the retry budget", func() bool { return refused(403) > 6 })
	if got := dead.records(); len(got) != 0 {
		t.Fatalf("a paused destination dead-lettered %+v", got)
	}
	if v := testutil.ToFloat64(fx.metrics.DestinationPaused.WithLabelValues(dest)); v != 1 {
		t.Errorf("invitepipe_destination_paused = %v while refused, want 1", v)
	}
	if p := fx.h.Paused(); len(p) != 1 || !strings.HasPrefix(p[0], dest+": ") {
		t.Errorf("Paused() = %q, want the destination with its reason", p)
	}
	force(500, 0)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := dead.records()
	if len(got) != 1 || got[0].Class != dlq.RetriesExhausted || refused(500) != 5 {
		t.Fatalf("after the pause: dead letters %+v and %d server errors; want retries_exhausted after exactly 5", got, refused(500))
	}
	if v := testutil.ToFloat64(fx.metrics.DestinationPaused.WithLabelValues(dest)); v != 0 {
		t.Errorf("invitepipe_destination_paused = %v once answering again, want 0", v)
	}
}

// TestRateLimitedIsTheKeysConditionNotTheRows: 429s, however many, cool the destination
// down and make the message wait on its lane, never spending its retry budget nor
// dead-lettering it; the row's own server errors then spend the whole budget.
func TestRateLimitedIsTheKeysConditionNotTheRows(t *testing.T) {
	fx := newFixture(t, testenv.RedisClient(t), time.Minute, 0)
	dead := &recordedDeadLetters{}
	fx.h.dead = dead
	bu := fx.h.activations["svc"].dest.BusinessUnitID
	force := func(status int) {
		t.Helper()
		if err := fx.sandbox.SetFaults(sandbox.Faults{Forced: map[string]sandbox.ForcedStatus{bu: {Status: status}}}); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(status int) int { return fx.sandbox.Stats().Calls[sandbox.ClassInvitations][status] }
	force(429)
	waits := make(chan *lane.Wait, 1000)
	done := make(chan error, 1)
	go func() {
		done <- settle(t, fx.h, context.Background(), context.Background(), rowMessage("R-1", 0), waits)
	}()
	testenv.WaitFor(t, 30*time.Second, "more 429s than the retry budget", func() bool { return refused(429) > 6 })
	force(500)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	close(waits)
	for w := range waits {
		if w.Reason == lane.Paused {
			t.Errorf("wait %v; want cooling or budget (429: the key's cool-down and learned cap) or retry (500)", w)
		}
	}
	got := dead.records()
	if len(got) != 1 || got[0].Class != dlq.RetriesExhausted || refused(500) != 5 {
		t.Fatalf("dead letters %+v after %d server errors; want retries_exhausted after exactly 5 (429s spend none)", got, refused(500))
	}
}

// TestOutOfBudgetWaitsWithoutAReservation: once the budget is spent, a message waits on
// its lane until the slot frees, makes no call, and holds no reservation (another
// worker may reserve its reference); the next message of the destination is told the
// same without asking Redis.
func TestOutOfBudgetWaitsWithoutAReservation(t *testing.T) {
	client := testenv.RedisClient(t)
	fx := newFixtureWith(t, client, time.Minute, 0, "    rate_limit: { per_5min: 1 }")
	if err := fx.h.Handle(context.Background(), context.Background(), rowMessage("R-1", 0)); err != nil {
		t.Fatalf("first message: %v", err)
	}
	err := fx.h.Handle(context.Background(), context.Background(), rowMessage("R-2", 1))
	w := lane.As(err)
	if w == nil || w.Reason != lane.Budget || time.Until(w.Until) < 4*time.Minute {
		t.Fatalf("second message: %v; want a budget wait of about 5 minutes", err)
	}
	d := fx.h.activations["svc"].dest
	l, _ := ledger.New(client, ledger.Options{Lease: time.Minute})
	if res, err := l.Reserve(context.Background(), d.BusinessUnitID, "R-2", "someone-else"); err != nil || res.Status != ledger.Reserved {
		t.Errorf("Reserve by another worker = %+v, %v; want Reserved (the waiting message holds nothing)", res, err)
	}
	hook := &countingHook{}
	client.AddHook(hook)
	if w2 := lane.As(fx.h.Handle(context.Background(), context.Background(), rowMessage("R-3", 2))); w2 == nil || !w2.Until.Equal(w.Until) {
		t.Errorf("third message: %v; want the same wait until %v", w2, w.Until)
	}
	if hook.count() != 0 {
		t.Errorf("the third message cost %d Redis commands; the destination's hold needs none", hook.count())
	}
	if n := fx.sandbox.Stats().AcceptedInvitations; n != 1 {
		t.Errorf("sandbox accepted %d invitations; want 1", n)
	}
}

// TestHugeBudgetsMeanNoLimit: a schema-valid budget far beyond any rate
// (per_5min: 1000000000, per_hour: 12000000000, as benchmarks write "no limit") sends
// every message at once, and keeps no rate-limit state in Redis at all.
func TestHugeBudgetsMeanNoLimit(t *testing.T) {
	client := testenv.RedisClient(t)
	fx := newFixtureWith(t, client, time.Minute, 0, "    rate_limit: { per_5min: 1000000000, per_hour: 12000000000 }")
	d := fx.h.activations["svc"].dest
	if !d.Budget.Unlimited() {
		t.Fatalf("budget %+v is limited; want no limit", d.Budget)
	}
	const n = 50
	for i := range n {
		if err := fx.h.Handle(context.Background(), context.Background(), rowMessage(fmt.Sprintf("R-%d", i), int64(i))); err != nil {
			t.Fatalf("message %d: %v; want sent at once", i, err)
		}
	}
	if got := fx.sandbox.Stats().AcceptedInvitations; got != n {
		t.Errorf("sandbox accepted %d invitations; want %d", got, n)
	}
	keys, err := client.Keys(context.Background(), ratelimit.DefaultKeyPrefix+"{"+d.Budget.Key+"}*").Result()
	if err != nil || len(keys) != 0 {
		t.Errorf("rate-limit keys %v (%v); an unlimited budget needs none", keys, err)
	}
}
