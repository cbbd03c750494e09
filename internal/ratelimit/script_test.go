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
	// fresh and backfill calls of key, 1 per second; destCall a call of key "d" (10 per
	// second) for dest, whose own window is 1 per second.
	fresh := func(key string) op { return acquire(keyBudget(key, perSecond(1))) }
	backfill := func(key string) op {
		b := keyBudget(key, perSecond(1))
		b.Backfill = true
		return acquire(b)
	}
	destCall := func(dest string, backfill bool) op {
		return acquire(ratelimit.Budget{Key: "d", KeyLimits: []ratelimit.Limit{perSecond(10)}, Destination: dest, Limits: []ratelimit.Limit{perSecond(1)}, Backfill: backfill})
	}
	// wide is a call of key "w" for dest, both with windows far above the scenario's.
	wide := func(dest string) op {
		hundred := []ratelimit.Limit{{Count: 100, Window: 10 * time.Second}}
		return acquire(ratelimit.Budget{Key: "w", KeyLimits: hundred, Destination: dest, Limits: hundred})
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
		{name: "a refused fresh call keeps backfill calls of its key out for its wait plus the grace", steps: []step{
			{at: 0, op: fresh("f"), want: 0},
			{at: 50 * ms, op: backfill("f"), want: 1200 * ms}, // a refused backfill call marks nothing
			{at: 100 * ms, op: fresh("f"), want: 1150 * ms},
			{at: 1250 * ms, op: backfill("f"), want: time.Second}, // the slot is free, but left to the fresh call
			{at: 1250 * ms, op: fresh("f"), want: 0},
			{at: 1300 * ms, op: fresh("f"), want: 1200 * ms},
			{at: 2500 * ms, op: fresh("f"), want: 0},
			{at: 3500 * ms, op: backfill("f"), want: 250 * ms}, // the mark is gone; the window binds
			{at: 3750 * ms, op: backfill("f"), want: 0},
		}},
		{name: "a fresh call refused by its destination's own window keeps out that destination's backfill only", steps: []step{
			{at: 0, op: destCall("x", false), want: 0},
			{at: 50 * ms, op: destCall("x", true), want: 1200 * ms},
			{at: 100 * ms, op: destCall("x", false), want: 1150 * ms},
			{at: 100 * ms, op: destCall("y", true), want: 0},
			{at: 1250 * ms, op: destCall("x", true), want: time.Second},
			{at: 1250 * ms, op: destCall("x", false), want: 0},
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
		{name: "a learned cap holds the key to 9/10 of what was accepted, then grows", steps: slicesConcat(
			// 24 slots, then 4 refusals: a 429, two more during its cool-down, and a 429 with
			// no success since. So 20 calls were accepted: the cap is 18 per 10.25s from 3.4s.
			every(0, 100*ms, 24, capped, 0),
			[]step{
				{at: 2400 * ms, op: throttled("c", 0), want: time.Second},
				{at: 2500 * ms, op: throttled("c", 0), want: 900 * ms},
				{at: 2600 * ms, op: throttled("c", 0), want: 800 * ms},
				{at: 3400 * ms, op: throttled("c", 0), want: 2 * time.Second},
				// 18 of the 24 slots are in the window; the 0.6s one leaves at 10.85s, but
				// the cap grows to 19 first, when 2^x = 1.5: at 3.4s + 10s*log2(1.5) =
				// 9.249625007s, rounded up to the microsecond.
				{at: 5400 * ms, op: capped, want: 9249626*time.Microsecond - 5400*ms},
			},
			// Once the old slots have left (2.3s + 10.25s), the cap is 20 (x = 1).
			every(13400*ms, 10*ms, 20, capped, 0),
			[]step{
				// The window is full and its oldest slot leaves at 23.65s, but the cap grows
				// to 21 when 2^x = 2.5, at 3.4s + 10s*log2(2.5) = 16.619280949s, rounded up.
				{at: 13600 * ms, op: capped, want: 16619281*time.Microsecond - 13600*ms},
				{at: 16619280 * time.Microsecond, op: capped, want: time.Microsecond},
				{at: 16619281 * time.Microsecond, op: capped, want: 0},
			},
		)},
		{name: "a learned cap binds every destination of the key", steps: slicesConcat(
			// 20 slots of x and y, then 4 refusals: 16 accepted, a cap of 14 from 3s.
			every(0, 200*ms, 10, wide("x"), 0),
			every(100*ms, 200*ms, 10, wide("y"), 0),
			[]step{
				{at: 2000 * ms, op: throttled("w", 0), want: time.Second},
				{at: 2100 * ms, op: throttled("w", 0), want: 900 * ms},
				{at: 2200 * ms, op: throttled("w", 0), want: 800 * ms},
				{at: 3000 * ms, op: throttled("w", 0), want: 2 * time.Second},
				// 14 of the 20 slots are in the window, whatever their destination: both
				// wait until the cap grows to 15, at 3s + 10s*log2(9*15/14 - 8).
				{at: 5000 * ms, op: wide("x"), want: 10162071*time.Microsecond - 5000*ms},
				{at: 5100 * ms, op: wide("y"), want: 10162071*time.Microsecond - 5100*ms},
			},
		)},
		{name: "no learned cap from fewer than 20 calls: the cool-downs alone", steps: []step{
			{at: 0, op: shared("x"), want: 0},
			{at: 100 * ms, op: shared("x"), want: 0},
			{at: 200 * ms, op: shared("y"), want: 0},
			{at: 300 * ms, op: throttled("k", 0), want: time.Second},
			{at: 400 * ms, op: throttled("k", 0), want: 900 * ms},
			{at: 500 * ms, op: throttled("k", 0), want: 800 * ms},
			{at: 1300 * ms, op: throttled("k", 0), want: 2 * time.Second},
			{at: 3300 * ms, op: shared("x"), want: 0}, // the cool-down is over, no cap
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
	var now time.Duration
	for i, s := range steps {
		m.SetTime(scriptStart.Add(s.at))
		if s.at > now {
			m.FastForward(s.at - now) // expiries follow the clock
		}
		now = max(now, s.at)
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
// cool-down hash, as doc.go documents for operators): only under persistent throttling
// (at least 3 refusals in the last CapWindow+Margin, which are 5% of the key's slots
// there or the third 429 in a row, among at least 20 slots), to 9/10 of the calls accepted in that window; not
// again before the cut is regained (one window) unless no success came since the last
// 429. Options
// are those of TestScriptsOnRedisClock: CapWindow 10s, Margin 250ms, CooldownBase 1s.
func TestLearnedCapCuts(t *testing.T) {
	budget := acquire(keyBudget("c", ratelimit.Limit{Count: 1000, Window: 10 * time.Second}))
	ms := time.Millisecond
	hundred := every(0, 10*ms, 100, budget, 0) // 100 slots from 0 to 0.99s
	// isolated returns a 429 followed by a success at each of n times gap apart from
	// from: each 429 gets CooldownBase.
	isolated := func(from, gap time.Duration, n int) []step {
		var steps []step
		for i := range n {
			at := from + time.Duration(i)*gap
			steps = append(steps, step{at: at, op: throttled("c", 0), want: time.Second}, step{at: at, op: recovered("c")})
		}
		return steps
	}
	tests := []struct {
		name  string
		steps []step
		cap   string // "" when no cap is set
		cutAt time.Duration
	}{
		{name: "isolated 429s below 5% of the calls: no cap", steps: slicesConcat(
			hundred, isolated(time.Second, time.Second, 4),
		)},
		{name: "isolated 429s on 5% of the calls", steps: slicesConcat(
			hundred, isolated(time.Second, time.Second, 5), // 95 accepted
		), cap: "85", cutAt: 5 * time.Second},
		{name: "the third 429 in a row", steps: slicesConcat(hundred, []step{
			{at: time.Second, op: throttled("c", 0), want: time.Second},
			{at: 2 * time.Second, op: throttled("c", 0), want: 2 * time.Second},
			{at: 4 * time.Second, op: throttled("c", 0), want: 3 * time.Second}, // 97 accepted
		}), cap: "87", cutAt: 4 * time.Second},
		{name: "429s during a cool-down count", steps: slicesConcat(hundred, []step{
			{at: time.Second, op: throttled("c", 0), want: time.Second},
			{at: 1100 * ms, op: throttled("c", 0), want: 900 * ms},
			{at: 1200 * ms, op: throttled("c", 0), want: 800 * ms},
			{at: 1300 * ms, op: throttled("c", 0), want: 700 * ms},
			{at: 1400 * ms, op: throttled("c", 0), want: 600 * ms},
			{at: 2 * time.Second, op: recovered("c")},
			{at: 2 * time.Second, op: throttled("c", 0), want: time.Second}, // 6 refused: 94 accepted
		}), cap: "84", cutAt: 2 * time.Second},
		{name: "fewer than 20 calls in the window: no cap", steps: []step{
			{at: 0, op: budget, want: 0},
			{at: time.Second, op: throttled("c", 0), want: time.Second},
			{at: 2 * time.Second, op: throttled("c", 0), want: 2 * time.Second},
			{at: 4 * time.Second, op: throttled("c", 0), want: 3 * time.Second},
		}},
		{name: "only the last CapWindow plus Margin counts", steps: slicesConcat(
			every(0, 10*ms, 50, budget, 0),
			every(5*time.Second, 10*ms, 50, budget, 0), // only these at 13.5s
			[]step{
				{at: 10500 * ms, op: throttled("c", 0), want: time.Second},
				{at: 11500 * ms, op: throttled("c", 0), want: 2 * time.Second},
				{at: 13500 * ms, op: throttled("c", 0), want: 3 * time.Second}, // 47 accepted
			},
		), cap: "42", cutAt: 13500 * ms},
		{name: "no refusal counted from a 429 with Retry-After", steps: slicesConcat(hundred, []step{
			{at: time.Second, op: throttled("c", time.Second), want: time.Second},
			{at: 2 * time.Second, op: throttled("c", time.Second), want: time.Second},
			{at: 3 * time.Second, op: throttled("c", time.Second), want: time.Second},
			{at: 4 * time.Second, op: throttled("c", 0), want: time.Second},
		})},
		{name: "not cut again before the cut is regained", steps: slicesConcat(
			hundred, isolated(time.Second, time.Second, 5), // cap 85 at 5s
			isolated(6*time.Second, time.Second, 1),
		), cap: "85", cutAt: 5 * time.Second},
		{name: "cut again at once when no success came since the last 429", steps: slicesConcat(
			hundred, isolated(time.Second, time.Second, 4),
			[]step{
				{at: 5 * time.Second, op: throttled("c", 0), want: time.Second}, // cap 85
				{at: 6 * time.Second, op: throttled("c", 0), want: 2 * time.Second},
			}, // 94 accepted
		), cap: "84", cutAt: 6 * time.Second},
		{name: "cut again once the cut is regained", steps: slicesConcat(
			hundred, isolated(time.Second, time.Second, 5), // cap 85 at 5s
			// At 15s the old slots and refusals have left the window and the cap is 94.
			every(15*time.Second, 10*ms, 94, budget, 0),
			isolated(16*time.Second, time.Second, 5), // 89 accepted
		), cap: "80", cutAt: 20 * time.Second},
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
			if ttl := m.TTL(hash); ttl < 200*time.Second {
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
		Shared:      true,
	}
	if _, err := l.Acquire(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Throttled(ctx, b.Key, 0); err != nil {
		t.Fatal(err)
	}
	if err := l.Cooldown(ctx, b.Key, time.Hour); err != nil { // outlasts the test, however slow
		t.Fatal(err)
	}
	// Refused during the cool-down: shop-eu by both (fresh marks), shop-us by the key
	// only (it waits for the key's next slot).
	us := ratelimit.Budget{Key: b.Key, KeyLimits: b.KeyLimits, Destination: "shop-us", Shared: true}
	for _, bu := range []ratelimit.Budget{b, us} {
		if wait, err := l.Acquire(ctx, bu); err != nil || wait == 0 {
			t.Fatalf("Acquire for %s during the cool-down = %v, %v; want a wait", bu.Destination, wait, err)
		}
	}
	got := fmt.Sprint(m.Keys())
	if want := "[rl:{k0123456789abcdef}:cooldown rl:{k0123456789abcdef}:dest:shop-eu:fresh rl:{k0123456789abcdef}:dest:shop-eu:log " +
		"rl:{k0123456789abcdef}:fresh rl:{k0123456789abcdef}:log rl:{k0123456789abcdef}:refused rl:{k0123456789abcdef}:waiting]"; got != want {
		t.Errorf("keys %s; want %s", got, want)
	}
}
