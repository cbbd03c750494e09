package ratelimit_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/invitepipe/invitepipe/internal/ratelimit"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

// BenchmarkWait measures one Wait that never has to sleep, against the real Redis: the
// cost the limiter adds to every call to Trustpilot (one script run, one round trip).
func BenchmarkWait(b *testing.B) {
	client := newClient(b, parseURL(b, testenv.RedisURL(b)))
	l := newLimiter(b, client, ratelimit.Options{})
	dest := testenv.UniqueName(b, "dest")
	// The log keeps every slot of the last hour: drop it rather than leave it to expire.
	b.Cleanup(func() { client.Del(context.Background(), ratelimit.DefaultKeyPrefix+"{"+dest+"}:log") })
	limits := []ratelimit.Limit{{Count: math.MaxInt32, Window: 5 * time.Minute}, {Count: math.MaxInt32, Window: time.Hour}}
	ctx := context.Background()
	for b.Loop() {
		if _, err := l.Wait(ctx, dest, limits); err != nil {
			b.Fatal(err)
		}
	}
}
