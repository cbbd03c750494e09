package ratelimit_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/invitepipe/invitepipe/internal/ratelimit"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

// backend is a Redis that the conformance suite runs against, on the real clock.
type backend struct {
	// client returns a new client of the shared server: one per replica.
	client func(t *testing.T) redis.UniversalClient
	// private starts a server for one test and returns a client of it that does not retry
	// (a stopped server fails at once) and a func that stops the server.
	private func(t *testing.T) (redis.UniversalClient, func())
}

func TestConformanceMiniredis(t *testing.T) {
	t.Parallel()
	m := miniredis.RunT(t)
	runConformance(t, backend{
		client: func(t *testing.T) redis.UniversalClient { return newClient(t, &redis.Options{Addr: m.Addr()}) },
		private: func(t *testing.T) (redis.UniversalClient, func()) {
			own := miniredis.RunT(t)
			return newClient(t, &redis.Options{Addr: own.Addr(), MaxRetries: -1}), own.Close
		},
	})
}

func TestConformanceRedis(t *testing.T) {
	t.Parallel()
	url := testenv.RedisURL(t)
	runConformance(t, backend{
		client: func(t *testing.T) redis.UniversalClient { return newClient(t, parseURL(t, url)) },
		private: func(t *testing.T) (redis.UniversalClient, func()) {
			own := testenv.StartRedis(t)
			opts := parseURL(t, own.URL)
			opts.MaxRetries = -1
			return newClient(t, opts), func() { own.Stop(t) }
		},
	})
}

func runConformance(t *testing.T, b backend) {
	t.Run("first Count slots at once, then a wait", func(t *testing.T) {
		t.Parallel()
		testFirstSlotsThenWait(t, b)
	})
	t.Run("the tighter limit binds", func(t *testing.T) {
		t.Parallel()
		testTighterLimitBinds(t, b)
	})
	t.Run("replicas never exceed a window and use it fully", func(t *testing.T) {
		t.Parallel()
		testReplicas(t, b)
	})
	t.Run("a cool-down holds every replica back, then ends", func(t *testing.T) {
		t.Parallel()
		testCooldown(t, b)
	})
	t.Run("Wait returns ctx.Err() when its context ends", func(t *testing.T) {
		t.Parallel()
		testContextEnds(t, b)
	})
	t.Run("Redis failures are ErrUnavailable", func(t *testing.T) {
		t.Parallel()
		testUnavailable(t, b)
	})
}

func testFirstSlotsThenWait(t *testing.T, b backend) {
	ctx := context.Background()
	l := newLimiter(t, b.client(t), ratelimit.Options{})
	dest, other := testenv.UniqueName(t, "dest"), testenv.UniqueName(t, "other")
	limits := []ratelimit.Limit{{Count: 5, Window: time.Minute}}
	for i := range 5 {
		if wait, err := l.Acquire(ctx, dest, limits); wait != 0 || err != nil {
			t.Fatalf("slot %d: Acquire = %v, %v; want 0, nil", i+1, wait, err)
		}
	}
	wait, err := l.Acquire(ctx, dest, limits)
	if err != nil || wait <= 0 || wait > time.Minute+ratelimit.DefaultMargin {
		t.Errorf("slot 6: Acquire = %v, %v; want a wait in (0, 1m0.25s]", wait, err)
	}
	if wait, err := l.Acquire(ctx, other, limits); wait != 0 || err != nil {
		t.Errorf("another destination: Acquire = %v, %v; want 0, nil", wait, err)
	}
}

func testTighterLimitBinds(t *testing.T, b backend) {
	perMinute := func(n int) ratelimit.Limit { return ratelimit.Limit{Count: n, Window: time.Minute} }
	perHour := func(n int) ratelimit.Limit { return ratelimit.Limit{Count: n, Window: time.Hour} }
	tests := []struct {
		name     string
		limits   []ratelimit.Limit
		min, max time.Duration // the fourth slot's wait lies in (min, max]
	}{
		{name: "per minute", limits: []ratelimit.Limit{perMinute(3), perHour(10)}, min: 0, max: time.Minute + ratelimit.DefaultMargin},
		{name: "per hour", limits: []ratelimit.Limit{perMinute(10), perHour(3)}, min: time.Minute + ratelimit.DefaultMargin, max: time.Hour + ratelimit.DefaultMargin},
	}
	ctx := context.Background()
	l := newLimiter(t, b.client(t), ratelimit.Options{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dest := testenv.UniqueName(t, "dest")
			for i := range 3 {
				if wait, err := l.Acquire(ctx, dest, tc.limits); wait != 0 || err != nil {
					t.Fatalf("slot %d: Acquire = %v, %v; want 0, nil", i+1, wait, err)
				}
			}
			if wait, err := l.Acquire(ctx, dest, tc.limits); err != nil || wait <= tc.min || wait > tc.max {
				t.Errorf("slot 4: Acquire = %v, %v; want a wait in (%v, %v]", wait, err, tc.min, tc.max)
			}
		})
	}
}

// testReplicas runs three replicas (each with its own client) of two workers each, which
// take slots as fast as Wait gives them, and records when each Wait returned. It checks
// the two halves of promise 7 on those times: no window of length W holds more than Count
// (the margin absorbs the jitter between Redis and the caller), and the run took at most
// 10/9 of the shortest time the limits allow for that many calls (at least 90% of the
// allowed rate).
func testReplicas(t *testing.T, b backend) {
	if testing.Short() {
		t.Skip("takes about 6 s per case")
	}
	const replicas, workers, calls = 3, 2, 31
	tests := []struct {
		name   string
		limits []ratelimit.Limit
	}{
		{name: "one limit", limits: []ratelimit.Limit{{Count: 15, Window: 3 * time.Second}}},
		{name: "two limits", limits: []ratelimit.Limit{{Count: 6, Window: time.Second}, {Count: 15, Window: 3 * time.Second}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dest := testenv.UniqueName(t, "dest")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var (
				mu    sync.Mutex
				times []time.Time
				wg    sync.WaitGroup
			)
			for range replicas {
				l := newLimiter(t, b.client(t), ratelimit.Options{Margin: 100 * time.Millisecond})
				for range workers {
					wg.Go(func() {
						for {
							_, err := l.Wait(ctx, dest, tc.limits)
							now := time.Now()
							if err != nil {
								if !errors.Is(err, context.Canceled) {
									t.Errorf("Wait: %v", err)
								}
								return
							}
							mu.Lock()
							if len(times) < calls {
								times = append(times, now)
							}
							if len(times) == calls {
								cancel()
							}
							mu.Unlock()
						}
					})
				}
			}
			wg.Wait()
			if len(times) < calls {
				t.Fatalf("%d calls in a minute; want %d", len(times), calls)
			}
			slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
			for _, lim := range tc.limits {
				for i := 0; i+lim.Count < len(times); i++ {
					if gap := times[i+lim.Count].Sub(times[i]); gap < lim.Window {
						t.Errorf("calls %d to %d lie within %v: a window of %v holds %d calls, more than %d",
							i+1, i+lim.Count+1, gap, lim.Window, lim.Count+1, lim.Count)
					}
				}
			}
			span, shortest := times[len(times)-1].Sub(times[0]), shortestSpan(calls, tc.limits)
			t.Logf("%d calls in %v; the limits allow them in %v at the fastest: %.1f%%",
				calls, span, shortest, 100*shortest.Seconds()/span.Seconds())
			if span*9 > shortest*10 {
				t.Errorf("%d calls took %v; the limits allow %v, so the rate is below 90%% of the limit", calls, span, shortest)
			}
		})
	}
}

// shortestSpan is the least time between the first and the last of n calls that keep
// every limit: the first Count calls may be simultaneous, each further Count calls need
// one more Window.
func shortestSpan(n int, limits []ratelimit.Limit) time.Duration {
	var span time.Duration
	for _, lim := range limits {
		span = max(span, time.Duration((n-1)/lim.Count)*lim.Window)
	}
	return span
}

// testCooldown checks on the Redis clock that replicas wait out another replica's
// cool-down: a slot taken by Wait after Cooldown(d) lies at least d after the moment
// just before Cooldown was called.
func testCooldown(t *testing.T, b backend) {
	const d = time.Second
	ctx := context.Background()
	dest := testenv.UniqueName(t, "dest")
	limits := []ratelimit.Limit{{Count: 100, Window: time.Second}}
	client := b.client(t)
	imposer := newLimiter(t, client, ratelimit.Options{})
	before, err := client.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := imposer.Cooldown(ctx, dest, d); err != nil {
		t.Fatalf("Cooldown: %v", err)
	}
	var wg sync.WaitGroup
	for range 2 {
		replica := newLimiter(t, b.client(t), ratelimit.Options{})
		wg.Go(func() {
			if _, err := replica.Wait(ctx, dest, limits); err != nil {
				t.Errorf("Wait: %v", err)
				return
			}
			after, err := client.Time(ctx).Result()
			if err != nil {
				t.Error(err)
				return
			}
			if got := after.Sub(before); got < d {
				t.Errorf("Wait returned a slot %v after the cool-down of %v began", got, d)
			}
		})
	}
	wg.Wait()

	t.Run("a shorter cool-down does not shorten a longer one", func(t *testing.T) {
		dest := testenv.UniqueName(t, "dest")
		if err := imposer.Cooldown(ctx, dest, time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := imposer.Cooldown(ctx, dest, time.Second); err != nil {
			t.Fatal(err)
		}
		other := newLimiter(t, b.client(t), ratelimit.Options{})
		if wait, err := other.Acquire(ctx, dest, limits); err != nil || wait <= time.Minute {
			t.Errorf("Acquire = %v, %v; want the rest of the hour", wait, err)
		}
	})
}

func testContextEnds(t *testing.T, b backend) {
	limits := []ratelimit.Limit{{Count: 1, Window: time.Hour}}
	l := newLimiter(t, b.client(t), ratelimit.Options{})
	tests := []struct {
		name  string
		full  bool // the budget is spent, so Wait sleeps
		ctx   func() (context.Context, context.CancelFunc)
		wantE error
	}{
		{name: "cancelled before the call", ctx: func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, wantE: context.Canceled},
		{name: "cancelled while waiting", full: true, ctx: func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx, cancel
		}, wantE: context.Canceled},
		{name: "deadline while waiting", full: true, ctx: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, wantE: context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dest := testenv.UniqueName(t, "dest")
			if tc.full {
				if wait, err := l.Acquire(context.Background(), dest, limits); wait != 0 || err != nil {
					t.Fatalf("Acquire = %v, %v; want 0, nil", wait, err)
				}
			}
			ctx, cancel := tc.ctx()
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := l.Wait(ctx, dest, limits)
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, tc.wantE) {
					t.Errorf("Wait = %v; want %v", err, tc.wantE)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Wait did not return within 10s of its context ending")
			}
			if !tc.full {
				// No slot was taken: the budget of one is still there.
				if wait, err := l.Acquire(context.Background(), dest, limits); wait != 0 || err != nil {
					t.Errorf("Acquire after a cancelled Wait = %v, %v; want 0, nil", wait, err)
				}
			}
		})
	}
}

func testUnavailable(t *testing.T, b backend) {
	limits := []ratelimit.Limit{{Count: 10, Window: time.Second}}
	calls := []struct {
		name string
		call func(context.Context, *ratelimit.Limiter, string) error
	}{
		{name: "Wait", call: func(ctx context.Context, l *ratelimit.Limiter, dest string) error {
			_, err := l.Wait(ctx, dest, limits)
			return err
		}},
		{name: "Acquire", call: func(ctx context.Context, l *ratelimit.Limiter, dest string) error {
			_, err := l.Acquire(ctx, dest, limits)
			return err
		}},
		{name: "Cooldown", call: func(ctx context.Context, l *ratelimit.Limiter, dest string) error {
			return l.Cooldown(ctx, dest, time.Second)
		}},
		{name: "Throttled", call: func(ctx context.Context, l *ratelimit.Limiter, dest string) error {
			_, err := l.Throttled(ctx, dest, 0)
			return err
		}},
	}
	ctx := context.Background()
	client, stop := b.private(t)
	down := newLimiter(t, client, ratelimit.Options{})
	stop()
	// Keys of another type make every script fail on a live server.
	shared := b.client(t)
	wrong := newLimiter(t, shared, ratelimit.Options{})
	clash := testenv.UniqueName(t, "dest")
	for _, suffix := range []string{":log", ":cooldown"} {
		if err := shared.Set(ctx, ratelimit.DefaultKeyPrefix+"{"+clash+"}"+suffix, "x", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range calls {
		t.Run(c.name+" with Redis down", func(t *testing.T) {
			if err := c.call(ctx, down, "shop-eu"); !errors.Is(err, ratelimit.ErrUnavailable) {
				t.Errorf("got %v; want ErrUnavailable", err)
			}
		})
		t.Run(c.name+" on a key of another type", func(t *testing.T) {
			if err := c.call(ctx, wrong, clash); !errors.Is(err, ratelimit.ErrUnavailable) {
				t.Errorf("got %v; want ErrUnavailable", err)
			}
		})
	}
}

func newLimiter(t testing.TB, client redis.UniversalClient, opts ratelimit.Options) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.New(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func newClient(t testing.TB, opts *redis.Options) redis.UniversalClient {
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	return client
}

func parseURL(t testing.TB, url string) *redis.Options {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse Redis URL: %v", err)
	}
	return opts
}
