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

// TestConformanceRedisAutopipelined runs the suite through go-redis's autopipeliner, as
// the consumer does (INVITEPIPE_REDIS_PIPELINE): concurrent scripts share pipelines.
func TestConformanceRedisAutopipelined(t *testing.T) {
	t.Parallel()
	url := testenv.RedisURL(t)
	runConformance(t, backend{
		client: func(t *testing.T) redis.UniversalClient { return autopipelined(t, parseURL(t, url)) },
		private: func(t *testing.T) (redis.UniversalClient, func()) {
			own := testenv.StartRedis(t)
			opts := parseURL(t, own.URL)
			opts.MaxRetries = -1
			return autopipelined(t, opts), func() { own.Stop(t) }
		},
	})
}

// autopipelined returns the autopipeliner of a new client with opts.
func autopipelined(t testing.TB, opts *redis.Options) redis.UniversalClient {
	ap, err := newClient(t, opts).AutoPipeline()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ap.Close() })
	return ap
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
	t.Run("a key's budget is shared by its destinations", func(t *testing.T) {
		t.Parallel()
		testSharedKey(t, b)
	})
	t.Run("backfill calls wait while fresh calls do", func(t *testing.T) {
		t.Parallel()
		testFreshFirst(t, b)
	})
	t.Run("destinations sharing a key get fair shares while they wait", func(t *testing.T) {
		t.Parallel()
		testFairShares(t, b)
	})
	t.Run("a slot is taken in both logs or in neither", func(t *testing.T) {
		t.Parallel()
		testBothOrNeither(t, b)
	})
	t.Run("a cool-down holds every replica and destination back, then ends", func(t *testing.T) {
		t.Parallel()
		testCooldown(t, b)
	})
	t.Run("a success ends the escalation", func(t *testing.T) {
		t.Parallel()
		testRecoveredEndsEscalation(t, b)
	})
	t.Run("the learned cap converges to a lower real limit", func(t *testing.T) {
		t.Parallel()
		testLearnedCapConverges(t, b)
	})
	t.Run("isolated 429s leave the budget alone", func(t *testing.T) {
		t.Parallel()
		testIsolatedThrottling(t, b)
	})
	t.Run("Wait returns ctx.Err() when its context ends", func(t *testing.T) {
		t.Parallel()
		testContextEnds(t, b)
	})
	t.Run("no Redis call for an unlimited budget", func(t *testing.T) {
		t.Parallel()
		testUnlimited(t, b)
	})
	t.Run("Redis failures are ErrUnavailable, Redis errors ErrRedis", func(t *testing.T) {
		t.Parallel()
		testRedisErrors(t, b)
	})
}

func testFirstSlotsThenWait(t *testing.T, b backend) {
	ctx := context.Background()
	l := newLimiter(t, b.client(t), ratelimit.Options{})
	key, other := testenv.UniqueName(t, "key"), testenv.UniqueName(t, "other")
	limits := []ratelimit.Limit{{Count: 5, Window: time.Minute}}
	for i := range 5 {
		if wait, err := l.Acquire(ctx, keyBudget(key, limits...)); wait != 0 || err != nil {
			t.Fatalf("slot %d: Acquire = %v, %v; want 0, nil", i+1, wait, err)
		}
	}
	wait, err := l.Acquire(ctx, keyBudget(key, limits...))
	if err != nil || wait <= 0 || wait > time.Minute+ratelimit.DefaultMargin {
		t.Errorf("slot 6: Acquire = %v, %v; want a wait in (0, 1m0.25s]", wait, err)
	}
	if wait, err := l.Acquire(ctx, keyBudget(other, limits...)); wait != 0 || err != nil {
		t.Errorf("another key: Acquire = %v, %v; want 0, nil", wait, err)
	}
}

func testFreshFirst(t *testing.T, b backend) {
	ctx := context.Background()
	l := newLimiter(t, b.client(t), ratelimit.Options{})
	key, other := testenv.UniqueName(t, "key"), testenv.UniqueName(t, "other")
	limit := ratelimit.Limit{Count: 1, Window: time.Minute}
	fresh, backfill := keyBudget(key, limit), keyBudget(key, limit)
	backfill.Backfill = true
	if wait, err := l.Acquire(ctx, backfill); wait != 0 || err != nil {
		t.Fatalf("a backfill call while no fresh call waits: Acquire = %v, %v; want 0, nil", wait, err)
	}
	freshWait, err := l.Acquire(ctx, fresh)
	if err != nil || freshWait <= 0 {
		t.Fatalf("a fresh call on a spent budget: Acquire = %v, %v; want a wait", freshWait, err)
	}
	// The mark is kept in whole milliseconds, rounded up.
	wait, err := l.Acquire(ctx, backfill)
	if most := freshWait + ratelimit.DefaultFreshGrace + time.Millisecond; err != nil || wait < freshWait || wait > most {
		t.Errorf("a backfill call behind a waiting fresh one: Acquire = %v, %v; want a wait in [%v, %v]", wait, err, freshWait, most)
	}
	otherBackfill := keyBudget(other, limit)
	otherBackfill.Backfill = true
	if wait, err := l.Acquire(ctx, otherBackfill); wait != 0 || err != nil {
		t.Errorf("a backfill call of another key: Acquire = %v, %v; want 0, nil", wait, err)
	}
}

func testTighterLimitBinds(t *testing.T, b backend) {
	perMinute := func(n int) ratelimit.Limit { return ratelimit.Limit{Count: n, Window: time.Minute} }
	perHour := func(n int) ratelimit.Limit { return ratelimit.Limit{Count: n, Window: time.Hour} }
	tests := []struct {
		name     string
		budget   func(key string) ratelimit.Budget
		min, max time.Duration // the fourth slot's wait lies in (min, max]
	}{
		{name: "per minute", budget: func(key string) ratelimit.Budget { return keyBudget(key, perMinute(3), perHour(10)) },
			min: 0, max: time.Minute + ratelimit.DefaultMargin},
		{name: "per hour", budget: func(key string) ratelimit.Budget { return keyBudget(key, perMinute(10), perHour(3)) },
			min: time.Minute + ratelimit.DefaultMargin, max: time.Hour + ratelimit.DefaultMargin},
		{name: "the destination's per minute", budget: func(key string) ratelimit.Budget {
			return ratelimit.Budget{Key: key, KeyLimits: []ratelimit.Limit{perHour(10)}, Destination: "shop-eu", Limits: []ratelimit.Limit{perMinute(3)}}
		}, min: 0, max: time.Minute + ratelimit.DefaultMargin},
		{name: "the key's per hour", budget: func(key string) ratelimit.Budget {
			return ratelimit.Budget{Key: key, KeyLimits: []ratelimit.Limit{perHour(3)}, Destination: "shop-eu", Limits: []ratelimit.Limit{perMinute(10)}}
		}, min: time.Minute + ratelimit.DefaultMargin, max: time.Hour + ratelimit.DefaultMargin},
	}
	ctx := context.Background()
	l := newLimiter(t, b.client(t), ratelimit.Options{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			budget := tc.budget(testenv.UniqueName(t, "key"))
			for i := range 3 {
				if wait, err := l.Acquire(ctx, budget); wait != 0 || err != nil {
					t.Fatalf("slot %d: Acquire = %v, %v; want 0, nil", i+1, wait, err)
				}
			}
			if wait, err := l.Acquire(ctx, budget); err != nil || wait <= tc.min || wait > tc.max {
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
	perSecond, per3s := ratelimit.Limit{Count: 6, Window: time.Second}, ratelimit.Limit{Count: 15, Window: 3 * time.Second}
	tests := []struct {
		name   string
		budget func(key string) ratelimit.Budget
	}{
		{name: "one limit", budget: func(key string) ratelimit.Budget { return keyBudget(key, per3s) }},
		{name: "two limits", budget: func(key string) ratelimit.Budget { return keyBudget(key, perSecond, per3s) }},
		{name: "the key's and the destination's", budget: func(key string) ratelimit.Budget {
			return ratelimit.Budget{Key: key, KeyLimits: []ratelimit.Limit{per3s}, Destination: "shop-eu", Limits: []ratelimit.Limit{perSecond}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			budget := tc.budget(testenv.UniqueName(t, "key"))
			limits := slices.Concat(budget.KeyLimits, budget.Limits)
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
							_, err := l.Wait(ctx, budget)
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
			for _, lim := range limits {
				for i := 0; i+lim.Count < len(times); i++ {
					if gap := times[i+lim.Count].Sub(times[i]); gap < lim.Window {
						t.Errorf("calls %d to %d lie within %v: a window of %v holds %d calls, more than %d",
							i+1, i+lim.Count+1, gap, lim.Window, lim.Count+1, lim.Count)
					}
				}
			}
			span, shortest := times[len(times)-1].Sub(times[0]), shortestSpan(calls, limits)
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

// testSharedKey lets eight workers on two replicas try, all at once, to take slots for two
// destinations of one key: 7 per minute for the key, 5 per minute for each destination.
// Nothing leaves the windows during the test, so exactly 7 slots are taken, at most 5 per
// destination, and the logs hold exactly those.
func testSharedKey(t *testing.T, b backend) {
	const keyCount, destCount, triesPerWorker = 7, 5, 10
	key := testenv.UniqueName(t, "key")
	budget := func(dest string) ratelimit.Budget {
		return ratelimit.Budget{
			Key:         key,
			KeyLimits:   []ratelimit.Limit{{Count: keyCount, Window: time.Minute}},
			Destination: dest,
			Limits:      []ratelimit.Limit{{Count: destCount, Window: time.Minute}},
		}
	}
	dests := []string{"shop-eu", "shop-us"}
	var (
		mu    sync.Mutex
		taken = map[string]int{}
		wg    sync.WaitGroup
	)
	ctx := context.Background()
	for range 2 {
		l := newLimiter(t, b.client(t), ratelimit.Options{})
		for _, dest := range dests {
			for range 2 {
				wg.Go(func() {
					for range triesPerWorker {
						wait, err := l.Acquire(ctx, budget(dest))
						if err != nil {
							t.Errorf("Acquire for %s: %v", dest, err)
							return
						}
						if wait == 0 {
							mu.Lock()
							taken[dest]++
							mu.Unlock()
						}
					}
				})
			}
		}
	}
	wg.Wait()
	if total := taken[dests[0]] + taken[dests[1]]; total != keyCount {
		t.Errorf("%d slots taken for the key (%v); want its %d", total, taken, keyCount)
	}
	client := b.client(t)
	prefix := ratelimit.DefaultKeyPrefix + "{" + key + "}"
	if n := client.ZCard(ctx, prefix+":log").Val(); n != keyCount {
		t.Errorf("the key's log holds %d slots; want %d", n, keyCount)
	}
	for _, dest := range dests {
		if taken[dest] > destCount {
			t.Errorf("%d slots taken for %s; want at most its %d", taken[dest], dest, destCount)
		}
		if n := client.ZCard(ctx, prefix+":dest:"+dest+":log").Val(); n != int64(taken[dest]) {
			t.Errorf("the log of %s holds %d slots; want the %d taken", dest, n, taken[dest])
		}
	}
}

// testFairShares lets destination a take 3 slots of its key, then cools the key down so
// that b's call is refused by the key. Once the cool-down is over (on the Redis clock),
// one slot is free: a shared key keeps it for b, the waiting destination, since a holds
// more than its share; an unshared key, a refusal of b's backfill call, or b at its own
// limit (it could not take the slot) leave it to whoever asks first.
func testFairShares(t *testing.T, b backend) {
	// A grace far above the test's steps, so that b's mark cannot end before a asks,
	// however slow the machine.
	const cooldown, grace = 200 * time.Millisecond, 10 * time.Second
	tests := []struct {
		name      string
		shared    bool
		bBackfill bool
		bFull     bool    // b takes a slot first, which fills its own limit of 1
		aTakes    bool    // whether a takes the free slot
		wantLogs  []int64 // the key's, a's and b's logs at the end
	}{
		{name: "shared: a waits for b", shared: true, wantLogs: []int64{4, 3, 1}},
		{name: "not shared: first come", aTakes: true, wantLogs: []int64{4, 0, 0}},
		{name: "shared, b a backfill call: first come", shared: true, bBackfill: true, aTakes: true, wantLogs: []int64{4, 4, 0}},
		{name: "shared, b at its own limit: first come", shared: true, bFull: true, aTakes: true, wantLogs: []int64{5, 4, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			client := b.client(t)
			l := newLimiter(t, client, ratelimit.Options{FreshGrace: grace})
			key := testenv.UniqueName(t, "key")
			keyCount := 4
			if tc.bFull {
				keyCount++
			}
			budget := func(dest string) ratelimit.Budget {
				bu := ratelimit.Budget{Key: key, KeyLimits: []ratelimit.Limit{{Count: keyCount, Window: time.Minute}}}
				if tc.shared {
					bu.Destination, bu.Shared = dest, true
				}
				if dest == "b" && tc.bFull {
					bu.Destination, bu.Limits = dest, []ratelimit.Limit{{Count: 1, Window: time.Minute}}
				}
				return bu
			}
			bBudget := budget("b")
			bBudget.Backfill = tc.bBackfill
			take := func(who string, bu ratelimit.Budget, n int) {
				for i := range n {
					if wait, err := l.Acquire(ctx, bu); wait != 0 || err != nil {
						t.Fatalf("%s's slot %d: Acquire = %v, %v; want 0, nil", who, i+1, wait, err)
					}
				}
			}
			take("a", budget("a"), 3)
			if tc.bFull {
				take("b", bBudget, 1)
			}
			if err := l.Cooldown(ctx, key, cooldown); err != nil {
				t.Fatal(err)
			}
			cooled, err := client.Time(ctx).Result()
			if err != nil {
				t.Fatal(err)
			}
			if wait, err := l.Acquire(ctx, bBudget); wait <= 0 || err != nil {
				t.Fatalf("b during the cool-down: Acquire = %v, %v; want a wait", wait, err)
			}
			testenv.WaitFor(t, 5*time.Second, "the cool-down to end on the Redis clock", func() bool {
				now, err := client.Time(ctx).Result()
				return err == nil && now.Sub(cooled) > cooldown
			})
			wait, err := l.Acquire(ctx, budget("a"))
			switch {
			case err != nil:
				t.Fatalf("a after the cool-down: %v", err)
			case tc.aTakes && wait != 0:
				t.Errorf("a after the cool-down: Acquire = %v; want the free slot", wait)
			case !tc.aTakes && (wait <= 0 || wait > grace):
				t.Errorf("a after the cool-down: Acquire = %v; want a wait of at most b's grace, %v", wait, grace)
			}
			if !tc.aTakes {
				take("b after a was refused", bBudget, 1)
			}
			prefix := ratelimit.DefaultKeyPrefix + "{" + key + "}"
			got := []int64{
				client.ZCard(ctx, prefix+":log").Val(),
				client.ZCard(ctx, prefix+":dest:a:log").Val(),
				client.ZCard(ctx, prefix+":dest:b:log").Val(),
			}
			if !slices.Equal(got, tc.wantLogs) {
				t.Errorf("the logs of the key, a and b hold %v slots; want %v", got, tc.wantLogs)
			}
		})
	}
}

// testBothOrNeither checks, through the documented logs, that a try either records its
// slot in the key's log and in the destination's, or in neither, whichever window refuses.
func testBothOrNeither(t *testing.T, b backend) {
	ctx := context.Background()
	client := b.client(t)
	l := newLimiter(t, client, ratelimit.Options{})
	key := testenv.UniqueName(t, "key")
	prefix := ratelimit.DefaultKeyPrefix + "{" + key + "}"
	budget := func(dest string, count int) ratelimit.Budget {
		return ratelimit.Budget{
			Key:         key,
			KeyLimits:   []ratelimit.Limit{{Count: 2, Window: time.Minute}},
			Destination: dest,
			Limits:      []ratelimit.Limit{{Count: count, Window: time.Minute}},
		}
	}
	steps := []struct {
		name             string
		budget           ratelimit.Budget
		slot             bool
		keyLog, a, bLogs int64 // what the logs hold after the step
	}{
		{name: "both have room", budget: budget("a", 1), slot: true, keyLog: 1, a: 1},
		{name: "the destination is full", budget: budget("a", 1), keyLog: 1, a: 1},
		{name: "both have room again", budget: budget("b", 5), slot: true, keyLog: 2, a: 1, bLogs: 1},
		{name: "the key is full", budget: budget("b", 5), keyLog: 2, a: 1, bLogs: 1},
	}
	for _, s := range steps {
		wait, err := l.Acquire(ctx, s.budget)
		if err != nil || (wait == 0) != s.slot {
			t.Fatalf("%s: Acquire = %v, %v; want a slot: %v", s.name, wait, err, s.slot)
		}
		got := []int64{
			client.ZCard(ctx, prefix+":log").Val(),
			client.ZCard(ctx, prefix+":dest:a:log").Val(),
			client.ZCard(ctx, prefix+":dest:b:log").Val(),
		}
		if want := []int64{s.keyLog, s.a, s.bLogs}; !slices.Equal(got, want) {
			t.Errorf("%s: the logs of the key, a and b hold %v slots; want %v", s.name, got, want)
		}
	}
}

// testCooldown checks on the Redis clock that replicas wait out another replica's
// cool-down of the key, whatever destination of the key they take slots for: a slot
// taken by Wait after Cooldown(d) lies at least d after the moment just before Cooldown
// was called.
func testCooldown(t *testing.T, b backend) {
	const d = time.Second
	ctx := context.Background()
	key := testenv.UniqueName(t, "key")
	limits := []ratelimit.Limit{{Count: 100, Window: time.Second}}
	client := b.client(t)
	imposer := newLimiter(t, client, ratelimit.Options{})
	before, err := client.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := imposer.Cooldown(ctx, key, d); err != nil {
		t.Fatalf("Cooldown: %v", err)
	}
	var wg sync.WaitGroup
	for _, dest := range []string{"shop-eu", "shop-us"} {
		replica := newLimiter(t, b.client(t), ratelimit.Options{})
		wg.Go(func() {
			budget := ratelimit.Budget{Key: key, KeyLimits: limits, Destination: dest, Limits: limits}
			if _, err := replica.Wait(ctx, budget); err != nil {
				t.Errorf("Wait: %v", err)
				return
			}
			after, err := client.Time(ctx).Result()
			if err != nil {
				t.Error(err)
				return
			}
			if got := after.Sub(before); got < d {
				t.Errorf("Wait for %s returned a slot %v after the cool-down of %v began", dest, got, d)
			}
		})
	}
	wg.Wait()

	t.Run("a shorter cool-down does not shorten a longer one", func(t *testing.T) {
		key := testenv.UniqueName(t, "key")
		if err := imposer.Cooldown(ctx, key, time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := imposer.Cooldown(ctx, key, time.Second); err != nil {
			t.Fatal(err)
		}
		other := newLimiter(t, b.client(t), ratelimit.Options{})
		if wait, err := other.Acquire(ctx, keyBudget(key, limits...)); err != nil || wait <= time.Minute {
			t.Errorf("Acquire = %v, %v; want the rest of the hour", wait, err)
		}
	})
}

// testRecoveredEndsEscalation checks that 429s in a row double the cool-down, and that a
// success reported by any replica that saw a 429 brings the next one back to
// CooldownBase. Throttled returns the cool-down's exact length, as the script computes it
// from one reading of the Redis clock. The test takes no slot, so no cap is learned.
func testRecoveredEndsEscalation(t *testing.T, b backend) {
	const base = 100 * time.Millisecond
	opts := ratelimit.Options{CooldownBase: base, CooldownMax: time.Minute}
	ctx := context.Background()
	key := testenv.UniqueName(t, "key")
	client := b.client(t)
	one, two := newLimiter(t, client, opts), newLimiter(t, b.client(t), opts)
	steps := []struct {
		name string
		l    *ratelimit.Limiter
		op   string // "429", "2xx"
		want time.Duration
	}{
		{name: "first 429", l: one, op: "429", want: base},
		{name: "429 with no success since", l: one, op: "429", want: 2 * base},
		{name: "429 on another replica", l: two, op: "429", want: 4 * base},
		{name: "success", l: one, op: "2xx"},
		{name: "429 after a success", l: two, op: "429", want: base},
		{name: "429 with no success since", l: one, op: "429", want: 2 * base},
		{name: "success on the other replica", l: two, op: "2xx"},
		{name: "429 after its success", l: one, op: "429", want: base},
	}
	var coolUntil time.Time // on the Redis clock, no earlier than the cool-down's end
	for _, s := range steps {
		switch s.op {
		case "2xx":
			if err := s.l.Recovered(ctx, key); err != nil {
				t.Fatalf("%s: Recovered: %v", s.name, err)
			}
		case "429":
			// A 429 answers a call taken after the cool-down ended.
			testenv.WaitFor(t, 10*time.Second, "the cool-down to end on the Redis clock", func() bool {
				now, err := client.Time(ctx).Result()
				return err == nil && !now.Before(coolUntil)
			})
			got, err := s.l.Throttled(ctx, key, 0)
			if err != nil || got != s.want {
				t.Fatalf("%s: Throttled = %v, %v; want %v, nil", s.name, got, err, s.want)
			}
			after, err := client.Time(ctx).Result()
			if err != nil {
				t.Fatal(err)
			}
			coolUntil = after.Add(got)
		}
	}
}

// fakeTrustpilot answers calls like Trustpilot's quota: at most limit accepted calls in
// any window of its length, 429 past that; and, when refuseEvery is set, 429 to every
// refuseEvery-th call whatever the quota (429s that say nothing about the rate). It
// records when it accepted each call.
type fakeTrustpilot struct {
	limit       int
	window      time.Duration
	refuseEvery int

	mu       sync.Mutex
	calls    int
	accepted []time.Time // oldest first
	inWindow int         // index in accepted of the oldest call still in the window
	refused  int
}

// call reports whether the fake accepts a call now.
func (f *fakeTrustpilot) call() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	f.calls++
	for f.inWindow < len(f.accepted) && now.Sub(f.accepted[f.inWindow]) >= f.window {
		f.inWindow++
	}
	if len(f.accepted)-f.inWindow >= f.limit || (f.refuseEvery > 0 && f.calls%f.refuseEvery == 0) {
		f.refused++
		return false
	}
	f.accepted = append(f.accepted, now)
	return true
}

// runAgainst runs two replicas of one worker each with opts against fake until it has
// accepted n calls (or a minute has passed): each worker calls Wait for budget, calls the
// fake, and reports the answer with Throttled or Recovered, like the consumer. It returns
// the times of the accepted calls and the number of refused ones.
func runAgainst(t *testing.T, b backend, opts ratelimit.Options, budget ratelimit.Budget, fake *fakeTrustpilot, n int) ([]time.Time, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for range 2 {
		l := newLimiter(t, b.client(t), opts)
		wg.Go(func() {
			for {
				if _, err := l.Wait(ctx, budget); err != nil {
					if !errors.Is(err, context.Canceled) {
						t.Errorf("Wait: %v", err)
					}
					return
				}
				var err error
				if fake.call() {
					err = l.Recovered(ctx, budget.Key)
				} else {
					_, err = l.Throttled(ctx, budget.Key, 0)
				}
				if err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("reporting the answer: %v", err)
				}
				fake.mu.Lock()
				done := len(fake.accepted) >= n
				fake.mu.Unlock()
				if done {
					cancel()
				}
			}
		})
	}
	wg.Wait()
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.accepted) < n {
		t.Fatalf("the fake accepted %d calls in a minute; want %d", len(fake.accepted), n)
	}
	return fake.accepted, fake.refused
}

// testLearnedCapConverges runs two replicas of one worker each against a fake Trustpilot
// that accepts half of the key's budget (another application spends the rest): each
// worker calls Wait, calls the fake, and reports the answer with Throttled or Recovered,
// like the consumer. The key must settle just below the real limit. The test counts: the
// learned cap, which is what the key may use per window, ends between 80% and 100% of the
// real limit, and 429s stay below 5% of the accepted calls. As a check against
// starvation that tolerates a loaded machine, after the first two windows the fake's
// window must also hold on average 70% of its limit or more. Measured on 2 CPUs with
// -race: with the cap, cap 90%, 1.4-3% refused, 82-96% of the limit held; with the cap
// disabled in the script, no cap, 3.4-3.8% refused (escalation spaces the 429s) and
// 59-72% held.
func testLearnedCapConverges(t *testing.T, b backend) {
	if testing.Short() {
		t.Skip("takes about 8 s")
	}
	const (
		window    = time.Second
		realLimit = 200 // the fake's limit per window
		windows   = 8   // the run ends when the fake has accepted realLimit*windows calls
	)
	opts := ratelimit.Options{Margin: 10 * time.Millisecond, CooldownBase: 20 * time.Millisecond, CooldownMax: time.Second, CapWindow: window}
	budget := keyBudget(testenv.UniqueName(t, "key"), ratelimit.Limit{Count: 2 * realLimit, Window: window})
	accepted, refused := runAgainst(t, b, opts, budget, &fakeTrustpilot{limit: realLimit, window: window}, realLimit*windows)
	c0, err := b.client(t).HGet(context.Background(), ratelimit.DefaultKeyPrefix+"{"+budget.Key+"}:cooldown", "cap").Int()
	if err != nil {
		t.Errorf("read the learned cap: %v", err)
	}
	held := meanHeld(accepted, accepted[2*realLimit].Add(window), window)
	t.Logf("%d calls accepted, %d refused (%.1f%%); learned cap %d; after the first two windows the fake's window held %.1f calls on average (its limit is %d)",
		len(accepted), refused, 100*float64(refused)/float64(len(accepted)), c0, held, realLimit)
	if refused*20 > len(accepted) {
		t.Errorf("%d calls refused for %d accepted; want at most 5%%", refused, len(accepted))
	}
	if c0*10 < realLimit*8 || c0 > realLimit {
		t.Errorf("learned cap %d; want between 80%% and 100%% of the real limit %d", c0, realLimit)
	}
	if held < 0.7*realLimit {
		t.Errorf("after the first two windows the fake's window held %.1f calls on average; want at least 70%% of its limit %d", held, realLimit)
	}
}

// testIsolatedThrottling runs the workers of testLearnedCapConverges against a fake
// Trustpilot whose quota never binds but that answers 429 to every 50th call (2%): such
// 429s say nothing about the rate, so the key must learn no cap and keep its budget. (A
// cap cut on every 429 held it to a third of the budget.) As in testLearnedCapConverges,
// after the first window the fake's window must hold on average 70% of the budget or
// more (82-96% measured).
func testIsolatedThrottling(t *testing.T, b backend) {
	if testing.Short() {
		t.Skip("takes about 5 s")
	}
	const (
		window  = time.Second
		count   = 200 // the key's budget per window
		windows = 5   // the run ends when the fake has accepted count*windows calls
	)
	opts := ratelimit.Options{Margin: 10 * time.Millisecond, CooldownBase: 20 * time.Millisecond, CooldownMax: time.Second, CapWindow: window}
	budget := keyBudget(testenv.UniqueName(t, "key"), ratelimit.Limit{Count: count, Window: window})
	fake := &fakeTrustpilot{limit: 10 * count, window: window, refuseEvery: 50}
	accepted, refused := runAgainst(t, b, opts, budget, fake, count*windows)
	held := meanHeld(accepted, accepted[count].Add(window), window)
	t.Logf("%d calls accepted, %d refused; after the first window the fake's window held %.1f calls on average (the budget is %d)",
		len(accepted), refused, held, count)
	if c, err := b.client(t).HGet(context.Background(), ratelimit.DefaultKeyPrefix+"{"+budget.Key+"}:cooldown", "cap").Result(); !errors.Is(err, redis.Nil) {
		t.Errorf("learned cap %q, %v; want none", c, err)
	}
	if held < 0.7*count {
		t.Errorf("after the first window the fake's window held %.1f calls on average; want at least 70%% of the budget %d", held, count)
	}
}

// meanHeld is how many of the accepted calls (oldest first) a window of length window
// held on average, over the windows ending from from to the last call, sampled 1000
// times: the rate of calls, which bursts do not bias.
func meanHeld(accepted []time.Time, from time.Time, window time.Duration) float64 {
	const samples = 1000
	to := accepted[len(accepted)-1]
	var sum int
	for i := range samples {
		end := from.Add(time.Duration(i) * to.Sub(from) / samples)
		// Calls in (end - window, end].
		first, _ := slices.BinarySearchFunc(accepted, end.Add(-window), func(a, t time.Time) int {
			if a.After(t) {
				return 1
			}
			return -1
		})
		last, _ := slices.BinarySearchFunc(accepted, end, func(a, t time.Time) int {
			if a.After(t) {
				return 1
			}
			return -1
		})
		sum += last - first
	}
	return float64(sum) / samples
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
			budget := keyBudget(testenv.UniqueName(t, "key"), limits...)
			if tc.full {
				if wait, err := l.Acquire(context.Background(), budget); wait != 0 || err != nil {
					t.Fatalf("Acquire = %v, %v; want 0, nil", wait, err)
				}
			}
			ctx, cancel := tc.ctx()
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := l.Wait(ctx, budget)
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
				if wait, err := l.Acquire(context.Background(), budget); wait != 0 || err != nil {
					t.Errorf("Acquire after a cancelled Wait = %v, %v; want 0, nil", wait, err)
				}
			}
		})
	}
}

// testUnlimited checks that budgets with no enforced window, and Recovered on a key this
// process saw no 429 for, never ask Redis: against a stopped server they still succeed.
func testUnlimited(t *testing.T, b backend) {
	client, stop := b.private(t)
	l := newLimiter(t, client, ratelimit.Options{})
	stop()
	ctx := context.Background()
	huge := []ratelimit.Limit{{Count: ratelimit.Unlimited, Window: 5 * time.Minute}, {Count: 1 << 40, Window: time.Hour}}
	budgets := []struct {
		name   string
		budget ratelimit.Budget
	}{
		{name: "no windows", budget: ratelimit.Budget{Key: "k1"}},
		{name: "windows of Unlimited or more", budget: ratelimit.Budget{Key: "k1", KeyLimits: huge, Destination: "shop-eu", Limits: huge[:1]}},
	}
	for _, tc := range budgets {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.budget.Unlimited() {
				t.Errorf("Budget.Unlimited() = false; want true")
			}
			if wait, err := l.Acquire(ctx, tc.budget); wait != 0 || err != nil {
				t.Errorf("Acquire = %v, %v; want 0, nil", wait, err)
			}
			if wait, err := l.Wait(ctx, tc.budget); wait > time.Second || err != nil {
				t.Errorf("Wait = %v, %v; want nil at once", wait, err)
			}
		})
	}
	t.Run("Recovered with no 429 seen", func(t *testing.T) {
		if err := l.Recovered(ctx, "k1"); err != nil {
			t.Errorf("Recovered = %v; want nil", err)
		}
	})
}

// testRedisErrors checks the classification of Redis errors: a stopped server is
// ErrUnavailable for every call (Recovered included, which then keeps the key to try
// again), and keys of another type under the prefix are ErrRedis (an operator must
// remove them), never ErrUnavailable.
func testRedisErrors(t *testing.T, b backend) {
	limits := []ratelimit.Limit{{Count: 10, Window: time.Second}}
	calls := []struct {
		name string
		call func(context.Context, *ratelimit.Limiter, string) error
	}{
		{name: "Wait", call: func(ctx context.Context, l *ratelimit.Limiter, key string) error {
			_, err := l.Wait(ctx, ratelimit.Budget{Key: key, KeyLimits: limits, Destination: "shop-eu", Limits: limits})
			return err
		}},
		{name: "Acquire", call: func(ctx context.Context, l *ratelimit.Limiter, key string) error {
			_, err := l.Acquire(ctx, keyBudget(key, limits...))
			return err
		}},
		{name: "Cooldown", call: func(ctx context.Context, l *ratelimit.Limiter, key string) error {
			return l.Cooldown(ctx, key, time.Second)
		}},
		{name: "Throttled", call: func(ctx context.Context, l *ratelimit.Limiter, key string) error {
			_, err := l.Throttled(ctx, key, 0)
			return err
		}},
		// Each limiter reported a 429 on the key before the failure, so Recovered asks Redis.
		{name: "Recovered", call: func(ctx context.Context, l *ratelimit.Limiter, key string) error {
			return l.Recovered(ctx, key)
		}},
		{name: "Recovered again", call: func(ctx context.Context, l *ratelimit.Limiter, key string) error {
			return l.Recovered(ctx, key)
		}},
	}
	ctx := context.Background()
	client, stop := b.private(t)
	down := newLimiter(t, client, ratelimit.Options{})
	if _, err := down.Throttled(ctx, "k1", 0); err != nil {
		t.Fatal(err)
	}
	stop()
	// Keys of another type make every script, and HDEL, fail on a live server.
	shared := b.client(t)
	wrong := newLimiter(t, shared, ratelimit.Options{})
	clash := testenv.UniqueName(t, "key")
	if _, err := wrong.Throttled(ctx, clash, 0); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{":log", ":cooldown", ":dest:shop-eu:log"} {
		if err := shared.Set(ctx, ratelimit.DefaultKeyPrefix+"{"+clash+"}"+suffix, "x", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range calls {
		t.Run(c.name+" with Redis down", func(t *testing.T) {
			if err := c.call(ctx, down, "k1"); !errors.Is(err, ratelimit.ErrUnavailable) || errors.Is(err, ratelimit.ErrRedis) {
				t.Errorf("got %v; want ErrUnavailable", err)
			}
		})
	}
	for _, c := range calls {
		t.Run(c.name+" on a key of another type", func(t *testing.T) {
			if err := c.call(ctx, wrong, clash); !errors.Is(err, ratelimit.ErrRedis) || errors.Is(err, ratelimit.ErrUnavailable) {
				t.Errorf("got %v; want ErrRedis", err)
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
