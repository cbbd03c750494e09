package ratelimit_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/invitepipe/invitepipe/internal/ratelimit"
)

// op is one call on the limiter; it returns what the call returned as a duration (the
// wait of Acquire, the remaining cool-down of Throttled, 0 for Cooldown and Recovered).
type op func(context.Context, *ratelimit.Limiter) (time.Duration, error)

func acquire(b ratelimit.Budget) op {
	return func(ctx context.Context, l *ratelimit.Limiter) (time.Duration, error) {
		return l.Acquire(ctx, b)
	}
}

func cooldown(key string, d time.Duration) op {
	return func(ctx context.Context, l *ratelimit.Limiter) (time.Duration, error) {
		return 0, l.Cooldown(ctx, key, d)
	}
}

func throttled(key string, retryAfter time.Duration) op {
	return func(ctx context.Context, l *ratelimit.Limiter) (time.Duration, error) {
		return l.Throttled(ctx, key, retryAfter)
	}
}

func recovered(key string) op {
	return func(ctx context.Context, l *ratelimit.Limiter) (time.Duration, error) {
		return 0, l.Recovered(ctx, key)
	}
}

// keyBudget is a budget of key's own windows only.
func keyBudget(key string, limits ...ratelimit.Limit) ratelimit.Budget {
	return ratelimit.Budget{Key: key, KeyLimits: limits}
}

// step is one op at a time of the Redis clock, and what it must return.
type step struct {
	at   time.Duration // Redis clock, from the start of the scenario
	op   op
	want time.Duration
}

// every returns n steps of op, the first at from and each next one gap later, all
// wanting want.
func every(from, gap time.Duration, n int, o op, want time.Duration) []step {
	steps := make([]step, n)
	for i := range steps {
		steps[i] = step{at: from + time.Duration(i)*gap, op: o, want: want}
	}
	return steps
}

// scriptOptions are the options of the fixed-clock tests: Margin 250ms (the default),
// CooldownBase 1s, CooldownMax 3s, CapWindow 10s.
var scriptOptions = ratelimit.Options{CooldownBase: time.Second, CooldownMax: 3 * time.Second, CapWindow: 10 * time.Second}

// scriptStart is the Redis clock at the start of every fixed-clock scenario.
var scriptStart = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// TestScriptsOnRedisClock runs the scripts on miniredis with its clock (what TIME answers)
// set by the test, so every wait they return can be checked to the microsecond.
func TestScriptsOnRedisClock(t *testing.T) {
	perSecond := func(n int) ratelimit.Limit { return ratelimit.Limit{Count: n, Window: time.Second} }
	two, three10 := perSecond(2), ratelimit.Limit{Count: 3, Window: 10 * time.Second}
	a := func(limits ...ratelimit.Limit) op { return acquire(keyBudget("a", limits...)) }
	// Key k allows 3 calls per second to its destinations x and y together; each of them
	// allows itself 2.
	shared := func(dest string) op {
		return acquire(ratelimit.Budget{Key: "k", KeyLimits: []ratelimit.Limit{perSecond(3)}, Destination: dest, Limits: []ratelimit.Limit{two}})
	}
	// capped has a key window far above the learned caps of the scenarios.
	capped := acquire(keyBudget("c", ratelimit.Limit{Count: 100, Window: 10 * time.Second}))
	ms := time.Millisecond
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "Count slots, then a wait until the oldest leaves its window plus margin", steps: []step{
			{at: 0, op: a(perSecond(3)), want: 0},
			{at: 100 * ms, op: a(perSecond(3)), want: 0},
			{at: 200 * ms, op: a(perSecond(3)), want: 0},
			{at: 300 * ms, op: a(perSecond(3)), want: 950 * ms},
			{at: 1250*ms - time.Microsecond, op: a(perSecond(3)), want: time.Microsecond},
			{at: 1250 * ms, op: a(perSecond(3)), want: 0},
			{at: 1300 * ms, op: a(perSecond(3)), want: 50 * ms},
		}},
		{name: "the tighter limit binds, then the other", steps: []step{
			{at: 0, op: a(two, three10), want: 0},
			{at: 100 * ms, op: a(two, three10), want: 0},
			{at: 200 * ms, op: a(two, three10), want: 1050 * ms},
			{at: 1250 * ms, op: a(two, three10), want: 0},
			{at: 1300 * ms, op: a(two, three10), want: 8950 * ms},
			{at: 10250 * ms, op: a(two, three10), want: 0},
		}},
		{name: "a caller with fewer slots in the log than Count is not held back", steps: []step{
			{at: 0, op: a(perSecond(5)), want: 0},
			{at: 0, op: a(perSecond(5)), want: 0},
		}},
		{name: "keys have separate budgets and cool-downs", steps: []step{
			{at: 0, op: a(perSecond(1)), want: 0},
			{at: 100 * ms, op: a(perSecond(1)), want: 1150 * ms},
			{at: 100 * ms, op: acquire(keyBudget("b", perSecond(1))), want: 0},
			{at: 100 * ms, op: cooldown("b", time.Minute), want: 0},
			{at: 1250 * ms, op: a(perSecond(1)), want: 0},
		}},
		{name: "a key's window holds for its destinations together, each one's own too", steps: []step{
			{at: 0, op: shared("x"), want: 0},
			{at: 100 * ms, op: shared("x"), want: 0},
			{at: 200 * ms, op: shared("x"), want: 1050 * ms}, // x's own 2 per second
			{at: 300 * ms, op: shared("y"), want: 0},
			{at: 400 * ms, op: shared("y"), want: 850 * ms}, // the key's 3 per second
			{at: 1250 * ms, op: shared("y"), want: 0},       // the refused try took no slot of y
			{at: 1300 * ms, op: shared("y"), want: 250 * ms},
			{at: 1350 * ms, op: shared("x"), want: 0},
		}},
		{name: "a cool-down of the key holds back every destination of it", steps: []step{
			{at: 0, op: cooldown("k", time.Second), want: 0},
			{at: 0, op: shared("x"), want: time.Second},
			{at: 500 * ms, op: shared("y"), want: 500 * ms},
			{at: time.Second, op: shared("y"), want: 0},
		}},
		{name: "slots taken in one microsecond stay distinct", steps: []step{
			{at: 0, op: a(perSecond(2)), want: 0},
			{at: 0, op: a(perSecond(2)), want: 0},
			{at: 0, op: a(perSecond(2)), want: 1250*ms - 2*time.Microsecond},
		}},
		{name: "a Redis clock that steps back admits nothing extra", steps: []step{
			{at: 10 * time.Second, op: a(two), want: 0},
			{at: 10100 * ms, op: a(two), want: 0},
			{at: 5 * time.Second, op: a(two), want: 1150*ms - time.Microsecond},
			{at: 11250 * ms, op: a(two), want: 0},
		}},
		{name: "a cool-down holds slots back until it ends", steps: []step{
			{at: 0, op: cooldown("a", 2*time.Second), want: 0},
			{at: 0, op: a(perSecond(5)), want: 2 * time.Second},
			{at: 1500 * ms, op: a(perSecond(5)), want: 500 * ms},
			{at: 2 * time.Second, op: a(perSecond(5)), want: 0},
		}},
		{name: "the wait is the later of cool-down and window", steps: []step{
			{at: 0, op: a(perSecond(1)), want: 0},
			{at: 100 * ms, op: cooldown("a", 500*ms), want: 0},
			{at: 100 * ms, op: a(perSecond(1)), want: 1150 * ms},
			{at: 100 * ms, op: cooldown("a", 2*time.Second), want: 0},
			{at: 100 * ms, op: a(perSecond(1)), want: 2 * time.Second},
		}},
		{name: "a cool-down is extended, never shortened", steps: []step{
			{at: 0, op: cooldown("a", 10*time.Second), want: 0},
			{at: time.Second, op: cooldown("a", time.Second), want: 0},
			{at: time.Second, op: a(perSecond(5)), want: 9 * time.Second},
			{at: 2 * time.Second, op: cooldown("a", 20*time.Second), want: 0},
			{at: 2 * time.Second, op: a(perSecond(5)), want: 20 * time.Second},
		}},
		{name: "Retry-After sets the cool-down", steps: []step{
			{at: 0, op: throttled("a", 7*time.Second), want: 7 * time.Second},
			{at: 0, op: a(perSecond(5)), want: 7 * time.Second},
		}},
		{name: "429s in a row without Retry-After double the cool-down up to the cap", steps: []step{
			{at: 0, op: throttled("a", 0), want: time.Second},
			{at: 500 * ms, op: throttled("a", 0), want: 500 * ms}, // during the cool-down: no new strike
			{at: time.Second, op: throttled("a", 0), want: 2 * time.Second},
			{at: 3 * time.Second, op: throttled("a", 0), want: 3 * time.Second}, // 4s, capped
			{at: 3 * time.Second, op: a(perSecond(5)), want: 3 * time.Second},
			{at: 6 * time.Second, op: throttled("a", 0), want: 3 * time.Second},
		}},
		{name: "a success ends the escalation", steps: []step{
			{at: 0, op: throttled("a", 0), want: time.Second},
			{at: time.Second, op: throttled("a", 0), want: 2 * time.Second},
			{at: 3 * time.Second, op: recovered("a"), want: 0},
			{at: 3 * time.Second, op: throttled("a", 0), want: time.Second},
			{at: 4 * time.Second, op: throttled("a", 0), want: 2 * time.Second},
			{at: 6 * time.Second, op: recovered("a"), want: 0},
			{at: 6 * time.Second, op: recovered("a"), want: 0}, // nothing left to end
			{at: 6 * time.Second, op: throttled("a", 0), want: time.Second},
		}},
		{name: "strikes are forgotten once CooldownMax has passed after a cool-down", steps: []step{
			{at: 0, op: throttled("a", 0), want: time.Second},
			{at: 3900 * ms, op: throttled("a", 0), want: 2 * time.Second}, // 2.9s after the end
			{at: 8900 * ms, op: throttled("a", 0), want: time.Second},     // 3s after the end
		}},
		{name: "Cooldown keeps the strikes of Throttled", steps: []step{
			{at: 0, op: throttled("a", 0), want: time.Second},
			{at: time.Second, op: cooldown("a", time.Second), want: 0},
			{at: 2 * time.Second, op: throttled("a", 0), want: 2 * time.Second},
		}},
		{name: "a learned cap holds the key to 9/10 of its window, then grows", steps: slicesConcat(
			// 10 slots, then a 429: the cap is 9 per 10.25s from 1s (c0 9, t0 1s).
			every(0, 100*ms, 10, capped, 0),
			[]step{
				{at: time.Second, op: throttled("c", 0), want: time.Second},
				// 9 of the 10 slots are in the window: room when the 0.1s one leaves at
				// 10.35s, before the cap grows to 10 at 11s.
				{at: 2 * time.Second, op: capped, want: 8350 * ms},
			},
			// Once the old slots have left (0.9s + 10.25s), the cap is 10 (x = 1.015).
			every(11150*ms, 10*ms, 10, capped, 0),
			[]step{
				// The window is full and its oldest slot leaves at 21.4s, but the cap grows
				// to 11 when 2^x = 3, at t0 + 10s*log2(3) = 16.849625007s, rounded up to
				// the microsecond.
				{at: 11250 * ms, op: capped, want: 16849626*time.Microsecond - 11250*ms},
				{at: 16849625 * time.Microsecond, op: capped, want: time.Microsecond},
				{at: 16849626 * time.Microsecond, op: capped, want: 0},
			},
		)},
		{name: "a learned cap binds every destination of the key", steps: []step{
			{at: 0, op: shared("x"), want: 0},
			{at: 100 * ms, op: shared("y"), want: 0},
			{at: 200 * ms, op: throttled("k", 0), want: time.Second}, // cap floor(1.8) = 1
			// The 100ms slot leaves the cap's window (10.25s) at 10.35s.
			{at: 1200 * ms, op: shared("x"), want: 9150 * ms},
			{at: 10350 * ms, op: shared("y"), want: 0},
			{at: 10400 * ms, op: shared("x"), want: 10200 * ms},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := miniredis.RunT(t)
			l := newLimiter(t, newClient(t, &redis.Options{Addr: m.Addr()}), scriptOptions)
			runSteps(t, m, l, tc.steps)
		})
	}
}

// runSteps runs steps on l with m's clock set to each step's time.
func runSteps(t *testing.T, m *miniredis.Miniredis, l *ratelimit.Limiter, steps []step) {
	t.Helper()
	for i, s := range steps {
		m.SetTime(scriptStart.Add(s.at))
		got, err := s.op(context.Background(), l)
		if err != nil || got != s.want {
			t.Fatalf("step %d at %v: got %v, %v; want %v, nil", i, s.at, got, err, s.want)
		}
	}
}

func slicesConcat(parts ...[]step) []step {
	var out []step
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// TestLearnedCapCuts checks when a 429 sets the key's cap ("cap", "cap_at" in its
// cool-down hash, as doc.go documents for operators): 9/10 of the slots in the last
// CapWindow+Margin, not again before the cut is regained unless the window holds fewer
// slots than the cap was cut to, and never from a 429 with Retry-After or during a
// cool-down. Options are those of TestScriptsOnRedisClock: CapWindow 10s, Margin 250ms.
func TestLearnedCapCuts(t *testing.T) {
	budget := acquire(keyBudget("c", ratelimit.Limit{Count: 100, Window: 10 * time.Second}))
	ms := time.Millisecond
	tests := []struct {
		name   string
		steps  []step
		cap    string // "" when no cap is set
		cutAt  time.Duration
		expire bool // the hash expires 24 cap windows after the cut, not CooldownMax after the cool-down
	}{
		{name: "9/10 of the window, rounded down", steps: slicesConcat(
			every(0, 10*ms, 25, budget, 0),
			[]step{{at: time.Second, op: throttled("c", 0), want: time.Second}},
		), cap: "22", cutAt: time.Second, expire: true},
		{name: "at least 1", steps: []step{
			{at: 0, op: budget, want: 0},
			{at: time.Second, op: throttled("c", 0), want: time.Second},
		}, cap: "1", cutAt: time.Second, expire: true},
		{name: "only slots of the last CapWindow plus Margin count", steps: slicesConcat(
			every(0, 100*ms, 10, budget, 0), // 0.3s to 0.9s are in the window at 10.5s
			[]step{{at: 10500 * ms, op: throttled("c", 0), want: time.Second}},
		), cap: "6", cutAt: 10500 * ms, expire: true},
		{name: "no slot in the window: no cap", steps: []step{
			{at: 0, op: throttled("c", 0), want: time.Second},
		}},
		{name: "no cap from a 429 with Retry-After", steps: []step{
			{at: 0, op: budget, want: 0},
			{at: 0, op: throttled("c", time.Second), want: time.Second},
		}},
		{name: "a 429 during a cool-down answers an earlier call: no cap", steps: []step{
			{at: 0, op: budget, want: 0},
			{at: 0, op: cooldown("c", time.Second), want: 0},
			{at: 500 * ms, op: throttled("c", 0), want: 500 * ms},
		}},
		{name: "not cut again before the cut is regained", steps: slicesConcat(
			every(0, 100*ms, 10, budget, 0),
			[]step{
				{at: time.Second, op: throttled("c", 0), want: time.Second},         // 10 slots: cap 9
				{at: 3 * time.Second, op: throttled("c", 0), want: 2 * time.Second}, // still 10: kept
			},
		), cap: "9", cutAt: time.Second, expire: true},
		{name: "cut again at once when the window holds fewer than the cap", steps: slicesConcat(
			every(0, 100*ms, 10, budget, 0),
			[]step{
				{at: time.Second, op: throttled("c", 0), want: time.Second}, // cap 9
				{at: 10500 * ms, op: throttled("c", 0), want: time.Second},  // 0.3s to 0.9s left: 7
			},
		), cap: "6", cutAt: 10500 * ms, expire: true},
		{name: "cut again once a window has passed", steps: slicesConcat(
			every(0, 100*ms, 10, budget, 0),
			[]step{{at: time.Second, op: throttled("c", 0), want: time.Second}}, // cap 9
			every(11150*ms, 10*ms, 10, budget, 0),                               // cap 10, all taken
			[]step{{at: 11300 * ms, op: throttled("c", 0), want: time.Second}},
		), cap: "9", cutAt: 11300 * ms, expire: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := miniredis.RunT(t)
			l := newLimiter(t, newClient(t, &redis.Options{Addr: m.Addr()}), scriptOptions)
			runSteps(t, m, l, tc.steps)
			hash := ratelimit.DefaultKeyPrefix + "{c}:cooldown"
			if got := m.HGet(hash, "cap"); got != tc.cap {
				t.Errorf("cap %q; want %q", got, tc.cap)
			}
			if tc.cap == "" {
				return
			}
			wantAt := strconv.FormatInt(scriptStart.Add(tc.cutAt).UnixMicro(), 10)
			if got := m.HGet(hash, "cap_at"); got != wantAt {
				t.Errorf("cap_at %s; want %s (%v into the scenario)", got, wantAt, tc.cutAt)
			}
			if ttl := m.TTL(hash); tc.expire && ttl < 200*time.Second {
				t.Errorf("the cool-down hash expires in %v; want it kept while its cap matters (24 windows of 10s from the cut)", ttl)
			}
		})
	}
}

// TestRoundTrips counts the commands each call sends to Redis: Recovered must cost none
// unless this process reported a 429 on the key since, and an unlimited budget none.
func TestRoundTrips(t *testing.T) {
	m := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { client.Close() })
	counter := &commandCounter{}
	client.AddHook(counter)
	l := newLimiter(t, client, scriptOptions)
	ctx := context.Background()
	limited := keyBudget("k", ratelimit.Limit{Count: 10, Window: time.Second})
	unlimited := ratelimit.Budget{Key: "k", KeyLimits: []ratelimit.Limit{{Count: ratelimit.Unlimited, Window: time.Hour}}}
	// A script run is EVALSHA, plus EVAL the first time the server lacks the script.
	steps := []struct {
		name string
		call func() error
		want int64
	}{
		{name: "Recovered with no 429 reported", call: func() error { return l.Recovered(ctx, "k") }, want: 0},
		{name: "Acquire of an unlimited budget", call: func() error { _, err := l.Acquire(ctx, unlimited); return err }, want: 0},
		{name: "Wait of an empty budget", call: func() error { _, err := l.Wait(ctx, ratelimit.Budget{Key: "k"}); return err }, want: 0},
		{name: "Acquire (loads the script)", call: func() error { _, err := l.Acquire(ctx, limited); return err }, want: 2},
		{name: "Acquire", call: func() error { _, err := l.Acquire(ctx, limited); return err }, want: 1},
		{name: "Throttled (loads the script)", call: func() error { _, err := l.Throttled(ctx, "k", 0); return err }, want: 2},
		{name: "Recovered after a 429", call: func() error { return l.Recovered(ctx, "k") }, want: 1},
		{name: "Recovered after that", call: func() error { return l.Recovered(ctx, "k") }, want: 0},
		{name: "Recovered of another key", call: func() error { return l.Recovered(ctx, "other") }, want: 0},
		{name: "Throttled during the cool-down", call: func() error { _, err := l.Throttled(ctx, "k", 0); return err }, want: 1},
		{name: "Recovered after it", call: func() error { return l.Recovered(ctx, "k") }, want: 1},
	}
	for _, s := range steps {
		before := counter.n.Load()
		if err := s.call(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := counter.n.Load() - before; got != s.want {
			t.Errorf("%s: %d commands; want %d", s.name, got, s.want)
		}
	}
}

// commandCounter is a go-redis hook that counts the commands sent, but those that set up
// a connection.
type commandCounter struct{ n atomic.Int64 }

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.count(cmd)
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			c.count(cmd)
		}
		return next(ctx, cmds)
	}
}

func (c *commandCounter) count(cmd redis.Cmder) {
	switch cmd.Name() {
	case "hello", "client", "auth", "select", "ping": // connection set-up
	default:
		c.n.Add(1)
	}
}

// TestKeysShareTheAPIKeyHashTag pins the key layout that doc.go documents for operators
// and that Redis Cluster needs (every key of an API key in one slot).
func TestKeysShareTheAPIKeyHashTag(t *testing.T) {
	m := miniredis.RunT(t)
	l := newLimiter(t, newClient(t, &redis.Options{Addr: m.Addr()}), ratelimit.Options{KeyPrefix: "rl:"})
	ctx := context.Background()
	b := ratelimit.Budget{
		Key:         "k0123456789abcdef",
		KeyLimits:   []ratelimit.Limit{{Count: 5, Window: time.Second}},
		Destination: "shop-eu",
		Limits:      []ratelimit.Limit{{Count: 1, Window: time.Second}},
	}
	if _, err := l.Acquire(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := l.Cooldown(ctx, b.Key, time.Second); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(m.Keys())
	if want := "[rl:{k0123456789abcdef}:cooldown rl:{k0123456789abcdef}:dest:shop-eu:log rl:{k0123456789abcdef}:log]"; got != want {
		t.Errorf("keys %s; want %s", got, want)
	}
}
