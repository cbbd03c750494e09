package ratelimit

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed cooldown.lua
	cooldownLua    string
	cooldownScript = redis.NewScript(cooldownLua)
)

// Cooldown stops every replica from taking slots of destination for d from now (on the
// Redis clock), unless its cool-down already ends later: a cool-down is extended, never
// shortened. Errors wrap ErrUnavailable or ErrInvalid (d not positive), or are ctx.Err().
func (l *Limiter) Cooldown(ctx context.Context, destination string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%w: cool-down of destination %q is %v; want a positive duration", ErrInvalid, destination, d)
	}
	_, err := l.cool(ctx, destination, d)
	return err
}

// Throttled records that destination answered 429 and cools it down for every replica;
// it returns how long the cool-down still lasts. With a positive retryAfter (the answer's
// Retry-After) it is Cooldown(retryAfter). Without, the cool-down grows exponentially:
// Options.CooldownBase, doubled at each 429 that comes after the previous cool-down has
// ended, capped at Options.CooldownMax, and back to CooldownBase once CooldownMax has
// passed since a cool-down ended. A 429 during a cool-down answers a call made before it
// and leaves it unchanged. Errors are those of Cooldown.
func (l *Limiter) Throttled(ctx context.Context, destination string, retryAfter time.Duration) (time.Duration, error) {
	return l.cool(ctx, destination, max(retryAfter, 0))
}

// cool runs the cool-down script: d > 0 extends the cool-down to at least d, d == 0 takes
// the next exponential step.
func (l *Limiter) cool(ctx context.Context, destination string, d time.Duration) (time.Duration, error) {
	if err := checkDestination(destination); err != nil {
		return 0, err
	}
	_, cooldownKey := l.keys(destination)
	// d is rounded up to whole microseconds so that a positive d never reads as 0.
	left, err := cooldownScript.Run(ctx, l.client, []string{cooldownKey},
		(d + time.Microsecond - 1).Microseconds(), l.opts.CooldownBase.Microseconds(), l.opts.CooldownMax.Microseconds()).Int64()
	if err != nil {
		return 0, redisError(ctx, "cool down", destination, err)
	}
	return time.Duration(left) * time.Microsecond, nil
}
