package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/invitepipe/invitepipe/internal/ratelimit"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

// BenchmarkWait measures one Wait that never has to sleep, against the real Redis: the
// cost the limiter adds to every call to Trustpilot (one script run, one round trip), with
// the key's windows only, with a destination's windows too, and for a destination that
// shares the key (its own log kept for fair shares). The counts are the largest enforced,
// so the windows are checked but never bind.
func BenchmarkWait(b *testing.B) {
	most := ratelimit.Unlimited - 1
	windows := []ratelimit.Limit{{Count: most, Window: 5 * time.Minute}, {Count: most, Window: time.Hour}}
	tests := []struct {
		name   string
		budget func(key string) ratelimit.Budget
	}{
		{name: "key", budget: func(key string) ratelimit.Budget {
			return ratelimit.Budget{Key: key, KeyLimits: windows}
		}},
		{name: "key and destination", budget: func(key string) ratelimit.Budget {
			return ratelimit.Budget{Key: key, KeyLimits: windows, Destination: "shop-eu", Limits: windows[:1]}
		}},
		{name: "shared key", budget: func(key string) ratelimit.Budget {
			return ratelimit.Budget{Key: key, KeyLimits: windows, Destination: "shop-eu", Shared: true}
		}},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			client := newClient(b, parseURL(b, testenv.RedisURL(b)))
			l := newLimiter(b, client, ratelimit.Options{})
			key := testenv.UniqueName(b, "key")
			// The logs keep every slot of the last hour: drop them rather than leave them
			// to expire.
			b.Cleanup(func() {
				prefix := ratelimit.DefaultKeyPrefix + "{" + key + "}"
				client.Del(context.Background(), prefix+":log", prefix+":dest:shop-eu:log", prefix+":waiting")
			})
			budget := tc.budget(key)
			ctx := context.Background()
			for b.Loop() {
				if _, err := l.Wait(ctx, budget); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
