package ratelimit_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/invitepipe/invitepipe/internal/ratelimit"
)

// op is one call on the limiter; it returns what the call returned as a duration (the
// wait of Acquire, the remaining cool-down of Throttled, 0 for Cooldown).
type op func(context.Context, *ratelimit.Limiter) (time.Duration, error)

func acquire(destination string, limits ...ratelimit.Limit) op {
	return func(ctx context.Context, l *ratelimit.Limiter) (time.Duration, error) {
		return l.Acquire(ctx, destination, limits)
	}
}

func cooldown(destination string, d time.Duration) op {
	return func(ctx context.Context, l *ratelimit.Limiter) (time.Duration, error) {
		return 0, l.Cooldown(ctx, destination, d)
	}
}

func throttled(destination string, retryAfter time.Duration) op {
	return func(ctx context.Context, l *ratelimit.Limiter) (time.Duration, error) {
		return l.Throttled(ctx, destination, retryAfter)
	}
}

// TestScriptsOnRedisClock runs the scripts on miniredis with its clock (what TIME answers)
// set by the test, so every wait they return can be checked to the microsecond. Options:
// Margin 250ms (the default), CooldownBase 1s, CooldownMax 3s.
func TestScriptsOnRedisClock(t *testing.T) {
	perSecond := func(n int) ratelimit.Limit { return ratelimit.Limit{Count: n, Window: time.Second} }
	two, three10 := perSecond(2), ratelimit.Limit{Count: 3, Window: 10 * time.Second}
	type step struct {
		at   time.Duration // Redis clock, from the start of the scenario
		op   op
		want time.Duration
	}
	ms := time.Millisecond
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "Count slots, then a wait until the oldest leaves its window plus margin", steps: []step{
			{at: 0, op: acquire("a", perSecond(3)), want: 0},
			{at: 100 * ms, op: acquire("a", perSecond(3)), want: 0},
			{at: 200 * ms, op: acquire("a", perSecond(3)), want: 0},
			{at: 300 * ms, op: acquire("a", perSecond(3)), want: 950 * ms},
			{at: 1250*ms - time.Microsecond, op: acquire("a", perSecond(3)), want: time.Microsecond},
			{at: 1250 * ms, op: acquire("a", perSecond(3)), want: 0},
			{at: 1300 * ms, op: acquire("a", perSecond(3)), want: 50 * ms},
		}},
		{name: "the tighter limit binds, then the other", steps: []step{
			{at: 0, op: acquire("a", two, three10), want: 0},
			{at: 100 * ms, op: acquire("a", two, three10), want: 0},
			{at: 200 * ms, op: acquire("a", two, three10), want: 1050 * ms},
			{at: 1250 * ms, op: acquire("a", two, three10), want: 0},
			{at: 1300 * ms, op: acquire("a", two, three10), want: 8950 * ms},
			{at: 10250 * ms, op: acquire("a", two, three10), want: 0},
		}},
		{name: "a caller with fewer slots in the log than Count is not held back", steps: []step{
			{at: 0, op: acquire("a", perSecond(5)), want: 0},
			{at: 0, op: acquire("a", perSecond(5)), want: 0},
		}},
		{name: "destinations have separate budgets", steps: []step{
			{at: 0, op: acquire("a", perSecond(1)), want: 0},
			{at: 100 * ms, op: acquire("a", perSecond(1)), want: 1150 * ms},
			{at: 100 * ms, op: acquire("b", perSecond(1)), want: 0},
			{at: 100 * ms, op: cooldown("b", time.Minute), want: 0},
			{at: 1250 * ms, op: acquire("a", perSecond(1)), want: 0},
		}},
		{name: "slots taken in one microsecond stay distinct", steps: []step{
			{at: 0, op: acquire("a", perSecond(2)), want: 0},
			{at: 0, op: acquire("a", perSecond(2)), want: 0},
			{at: 0, op: acquire("a", perSecond(2)), want: 1250*ms - 2*time.Microsecond},
		}},
		{name: "a Redis clock that steps back admits nothing extra", steps: []step{
			{at: 10 * time.Second, op: acquire("a", two), want: 0},
			{at: 10100 * ms, op: acquire("a", two), want: 0},
			{at: 5 * time.Second, op: acquire("a", two), want: 1150*ms - time.Microsecond},
			{at: 11250 * ms, op: acquire("a", two), want: 0},
		}},
		{name: "a cool-down holds slots back until it ends", steps: []step{
			{at: 0, op: cooldown("a", 2*time.Second), want: 0},
			{at: 0, op: acquire("a", perSecond(5)), want: 2 * time.Second},
			{at: 1500 * ms, op: acquire("a", perSecond(5)), want: 500 * ms},
			{at: 2 * time.Second, op: acquire("a", perSecond(5)), want: 0},
		}},
		{name: "the wait is the later of cool-down and window", steps: []step{
			{at: 0, op: acquire("a", perSecond(1)), want: 0},
			{at: 100 * ms, op: cooldown("a", 500*ms), want: 0},
			{at: 100 * ms, op: acquire("a", perSecond(1)), want: 1150 * ms},
			{at: 100 * ms, op: cooldown("a", 2*time.Second), want: 0},
			{at: 100 * ms, op: acquire("a", perSecond(1)), want: 2 * time.Second},
		}},
		{name: "a cool-down is extended, never shortened", steps: []step{
			{at: 0, op: cooldown("a", 10*time.Second), want: 0},
			{at: time.Second, op: cooldown("a", time.Second), want: 0},
			{at: time.Second, op: acquire("a", perSecond(5)), want: 9 * time.Second},
			{at: 2 * time.Second, op: cooldown("a", 20*time.Second), want: 0},
			{at: 2 * time.Second, op: acquire("a", perSecond(5)), want: 20 * time.Second},
		}},
		{name: "Retry-After sets the cool-down", steps: []step{
			{at: 0, op: throttled("a", 7*time.Second), want: 7 * time.Second},
			{at: 0, op: acquire("a", perSecond(5)), want: 7 * time.Second},
		}},
		{name: "429s without Retry-After double the cool-down up to the cap", steps: []step{
			{at: 0, op: throttled("a", 0), want: time.Second},
			{at: 500 * ms, op: throttled("a", 0), want: 500 * ms}, // during the cool-down: no new strike
			{at: time.Second, op: throttled("a", 0), want: 2 * time.Second},
			{at: 3 * time.Second, op: throttled("a", 0), want: 3 * time.Second}, // 4s, capped
			{at: 3 * time.Second, op: acquire("a", perSecond(5)), want: 3 * time.Second},
			{at: 6 * time.Second, op: throttled("a", 0), want: 3 * time.Second},
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
	}
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := miniredis.RunT(t)
			client := redis.NewClient(&redis.Options{Addr: m.Addr()})
			t.Cleanup(func() { client.Close() })
			l, err := ratelimit.New(client, ratelimit.Options{CooldownBase: time.Second, CooldownMax: 3 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				m.SetTime(start.Add(s.at))
				got, err := s.op(context.Background(), l)
				if err != nil || got != s.want {
					t.Fatalf("step %d at %v: got %v, %v; want %v, nil", i, s.at, got, err, s.want)
				}
			}
		})
	}
}

// TestKeysShareTheDestinationHashTag pins the key layout that doc.go documents for
// operators and that Redis Cluster needs (both keys of a destination in one slot).
func TestKeysShareTheDestinationHashTag(t *testing.T) {
	m := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { client.Close() })
	l, err := ratelimit.New(client, ratelimit.Options{KeyPrefix: "rl:"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := l.Acquire(ctx, "shop-eu", []ratelimit.Limit{{Count: 1, Window: time.Second}}); err != nil {
		t.Fatal(err)
	}
	if err := l.Cooldown(ctx, "shop-eu", time.Second); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(m.Keys())
	if want := "[rl:{shop-eu}:cooldown rl:{shop-eu}:log]"; got != want {
		t.Errorf("keys %s; want %s", got, want)
	}
}
