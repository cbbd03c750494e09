package ratelimit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/invitepipe/invitepipe/internal/ratelimit"
)

func TestExpSqueeze(t *testing.T) {
	m := miniredis.RunT(t)
	const window = time.Second
	opts := ratelimit.Options{Margin: 10 * time.Millisecond, CooldownBase: 20 * time.Millisecond, CooldownMax: time.Second, CapWindow: window}
	key := "k"
	budget := keyBudget(key, ratelimit.Limit{Count: 200, Window: window})
	fake := &fakeTrustpilot{limit: 100, window: window}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range 2 {
		l := newLimiter(t, newClient(t, &redis.Options{Addr: m.Addr()}), opts)
		for range 2 {
			wg.Go(func() {
				for {
					if _, err := l.Wait(ctx, budget); err != nil {
						if !errors.Is(err, context.DeadlineExceeded) {
							t.Error(err)
						}
						return
					}
					if fake.call() {
						l.Recovered(ctx, key)
					} else {
						left, _ := l.Throttled(ctx, key, 0)
						h := m.HGet(ratelimit.DefaultKeyPrefix+"{k}:cooldown", "cap")
						st := m.HGet(ratelimit.DefaultKeyPrefix+"{k}:cooldown", "strikes")
						zs, _ := m.ZMembers(ratelimit.DefaultKeyPrefix + "{k}:log")
						rs, _ := m.ZMembers(ratelimit.DefaultKeyPrefix + "{k}:refused")
						t.Logf("%6.3f 429: left %v cap %s strikes %s log %d refused %d", time.Since(start).Seconds(), left, h, st, len(zs), len(rs))
					}
				}
			})
		}
	}
	wg.Wait()
	held := meanHeld(fake.accepted, fake.accepted[200].Add(window), window)
	t.Logf("accepted %d refused %d, held %.1f", len(fake.accepted), fake.refused, held)
}
