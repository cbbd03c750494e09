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

// Cooldown stops every replica from taking slots of any budget of the API key for d from
// now (on the Redis clock), unless its cool-down already ends later: a cool-down is
// extended, never shortened. It neither escalates nor changes the learned cap. Errors
// wrap ErrUnavailable, ErrRedis or ErrInvalid (an invalid key, d not positive), or are
// ctx.Err().
func (l *Limiter) Cooldown(ctx context.Context, key string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%w: cool-down of key %q is %v; want a positive duration", ErrInvalid, key, d)
	}
	_, err := l.cool(ctx, key, d)
	return err
}

// Throttled records that Trustpilot answered 429 to a call on the API key and cools the
// key down for every replica and every destination of the key; it returns how long the
// cool-down still lasts. With a positive retryAfter (the answer's Retry-After) it is
// Cooldown(retryAfter). Without:
//   - A 429 during a cool-down answers a call taken before it: the cool-down and the
//     strikes stay as they are.
//   - Otherwise the cool-down is Options.CooldownBase, doubled for each earlier such 429
//     since the last success on the key (Recovered), capped at Options.CooldownMax;
//     strikes are also forgotten once CooldownMax has passed after a cool-down ended.
//   - The 429 is recorded, during a cool-down too; when the key's recent 429s show
//     persistent throttling, its learned cap is cut to 9/10 of the calls Trustpilot
//     accepted in the last Options.CapWindow (doc.go, "Learned cap").
//
// Until Recovered, this process remembers that the key's escalation may need ending.
// Errors are those of Cooldown.
func (l *Limiter) Throttled(ctx context.Context, key string, retryAfter time.Duration) (time.Duration, error) {
	left, err := l.cool(ctx, key, max(retryAfter, 0))
	if err == nil {
		l.mu.Lock()
		l.escalated[key] = struct{}{}
		l.mu.Unlock()
	}
	return left, err
}

// Recovered records that a call on the API key succeeded (any 2xx): the escalation of its
// cool-downs ends, so the next 429 gets Options.CooldownBase again. The learned cap is
// kept: it grows back on its own. It asks Redis (one HDEL) only when this process reported
// a 429 on the key with Throttled since its last Recovered for it; otherwise it returns
// nil at once. Call it after every success. Errors wrap ErrUnavailable or ErrRedis (the
// next Recovered tries again) or ErrInvalid, or are ctx.Err().
func (l *Limiter) Recovered(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	// Forget the key before clearing, so that a concurrent Throttled that strikes after
	// the HDEL leaves the key remembered for the next success.
	l.mu.Lock()
	_, escalated := l.escalated[key]
	delete(l.escalated, key)
	l.mu.Unlock()
	if !escalated {
		return nil
	}
	if err := l.client.HDel(ctx, l.cooldownKey(key), "strikes").Err(); err != nil {
		l.mu.Lock()
		l.escalated[key] = struct{}{}
		l.mu.Unlock()
		return redisError(ctx, "recover", fmt.Sprintf("key %q", key), err)
	}
	return nil
}

// cool runs the cool-down script: d > 0 extends the cool-down to at least d, d == 0 takes
// the next exponential step and learns the cap.
func (l *Limiter) cool(ctx context.Context, key string, d time.Duration) (time.Duration, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	// d is rounded up to whole microseconds so that a positive d never reads as 0.
	left, err := cooldownScript.Run(ctx, l.client, []string{l.cooldownKey(key), l.keyLog(key), l.refusalLog(key)},
		(d + time.Microsecond - 1).Microseconds(), l.opts.CooldownBase.Microseconds(), l.opts.CooldownMax.Microseconds(),
		l.opts.CapWindow.Microseconds(), l.opts.Margin.Microseconds()).Int64()
	if err != nil {
		return 0, redisError(ctx, "cool down", fmt.Sprintf("key %q", key), err)
	}
	return time.Duration(left) * time.Microsecond, nil
}
