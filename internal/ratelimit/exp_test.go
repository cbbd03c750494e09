package ratelimit_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/invitepipe/invitepipe/internal/ratelimit"
)

var pRand = 20

func TestExpRandom(t *testing.T) {
	m := miniredis.RunT(t)
	const window = time.Second
	const budgetN = 400
	opts := ratelimit.Options{Margin: 10 * time.Millisecond, CooldownBase: 20 * time.Millisecond, CooldownMax: time.Second, CapWindow: window}
	key := "k"
	budget := keyBudget(key, ratelimit.Limit{Count: budgetN, Window: window})
	var mu sync.Mutex
	var accepted []time.Time
	refused := 0
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Second)
	defer cancel()
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
					ok := rand.N(1000) >= pRand
					mu.Lock()
					if ok {
						accepted = append(accepted, time.Now())
					} else {
						refused++
					}
					mu.Unlock()
					if ok {
						l.Recovered(ctx, key)
					} else {
						left, _ := l.Throttled(ctx, key, 0)
						h := m.HGet(ratelimit.DefaultKeyPrefix+"{k}:cooldown", "cap")
						st := m.HGet(ratelimit.DefaultKeyPrefix+"{k}:cooldown", "strikes")
						at := m.HGet(ratelimit.DefaultKeyPrefix+"{k}:cooldown", "cap_at")
						zs, _ := m.ZMembers(ratelimit.DefaultKeyPrefix + "{k}:log")
						t.Logf("%s 429: left %v cap %s at %s strikes %s log %d", time.Now().Format("05.000"), left, h, at, st, len(zs))
					}
				}
			})
		}
	}
	wg.Wait()
	held := meanHeld(accepted, accepted[0].Add(2*window), window)
	c := m.HGet(ratelimit.DefaultKeyPrefix+"{k}:cooldown", "cap")
	t.Logf("accepted %d refused %d, held %.1f of budget %d; cap %s", len(accepted), refused, held, budgetN, c)
}
